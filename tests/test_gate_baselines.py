"""Trained against untrained gates, read with the same BatchNorm-statistics procedure."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.experiments.gate_baselines import (
    gate_readings,
    read_gate_rows,
    spread_table,
    untrained_readings,
    untrained_twin,
    write_gate_rows,
)
from course_lib.profiles import get_profile
from course_lib.train import TrainConfig, train_or_load


@pytest.fixture(scope="module")
def tiny_ta_run(cifar_small, tmp_path_factory):
    P = get_profile("smoke")
    config = TrainConfig.from_profile(P, epochs=1)
    root = tmp_path_factory.mktemp("runs")
    return train_or_load("alexnet", cifar_small, config, "triplet", profile="smoke",
                         progress=False, runs_root=root)  # fmt: skip


def test_the_untrained_twin_has_the_runs_initial_weights(tiny_ta_run, cifar_small):
    torch.manual_seed(tiny_ta_run.metrics["seed"])
    from course_lib.models import build_model

    fresh = build_model(
        "alexnet", attention="triplet", image_size=tiny_ta_run.metrics["image_size"]
    )
    twin = untrained_twin(tiny_ta_run, cifar_small.num_classes)
    for a, b in zip(fresh.state_dict().values(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_default_statistics_flatten_the_untrained_gates_recalibrated_ones_do_not(
    tiny_ta_run, cifar_small
):
    rows = gate_readings(tiny_ta_run, cifar_small, probe_images=20, recalibration_images=200)
    assert {(r["state"], r["bn"]) for r in rows} == {
        (s, b) for s in ("untrained", "trained") for b in ("default", "recalibrated")
    }
    table = spread_table(rows, "alexnet-triplet")
    seed = tiny_ta_run.metrics["seed"]
    default, recalibrated = (
        table[("untrained", "default")][seed],
        table[("untrained", "recalibrated")][seed],
    )
    # the artefact: with BatchNorm's default statistics the deep untrained gates sit at 0.5;
    # normalised with the statistics of real images they vary like unit-variance logits do
    assert max(default[2:]) < 0.01
    assert min(recalibrated) > 0.05
    assert all(r > 5 * d for r, d in zip(recalibrated[2:], default[2:], strict=True))


def test_untrained_readings_of_a_results_row_equal_the_runs_own(tiny_ta_run, cifar_small):
    # a committed row carries what the untrained network needs (model, attention, size, seed):
    # its two readings equal those read beside the trained network, without its checkpoint
    row = {k: tiny_ta_run.metrics[k] for k in ("name", "model", "attention", "image_size",
                                               "seed", "setting")}  # fmt: skip
    from_row = untrained_readings(row, cifar_small, probe_images=20, recalibration_images=200)
    from_run = [
        r
        for r in gate_readings(tiny_ta_run, cifar_small, probe_images=20, recalibration_images=200)
        if r["state"] == "untrained"
    ]
    assert [(r["state"], r["bn"]) for r in from_row] == [(r["state"], r["bn"]) for r in from_run]
    for a, b in zip(from_row, from_run, strict=True):
        assert a["gates"] == b["gates"] and a["setting"] == b["setting"]
    assert from_row[0]["run_dir"] is None


def test_gate_rows_merge_by_key_and_a_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "gates-x.json"
    row = {"variant": "v", "seed": 1, "setting": "s", "state": "trained", "bn": "default",
           "gates": []}  # fmt: skip
    write_gate_rows([row], path)
    write_gate_rows([{**row, "gates": [{"std": 1}]}, {**row, "bn": "recalibrated"}], path)
    rows = read_gate_rows(path)
    assert len(rows) == 2 and rows[0]["gates"] == [{"std": 1}]
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(ValueError, match="not a list of gate rows; restore it with git"):
        read_gate_rows(path)


def test_recalibration_uses_the_balanced_calibration_sample(cifar_small):
    from course_lib.data import calibration_images
    from course_lib.experiments.gate_baselines import _probe_and_calibration

    _, probe, calibration = _probe_and_calibration(64, cifar_small, 20, 100)
    assert probe.shape == (20, 3, 64, 64)
    assert torch.equal(calibration, calibration_images(cifar_small, 100))
    assert not torch.equal(calibration, cifar_small.train_images[:100])  # not the first (one class)
