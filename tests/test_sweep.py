"""The sweep: aggregation on synthetic outcomes (with failures and gaps) and a tiny real sweep."""

from __future__ import annotations

import json
import statistics

import pytest

from course_lib.experiments.sweep import SweepSpec, aggregate, format_table, run_sweep

from .conftest import cifar_source


def test_aggregate_known_mean_std_failed_and_missing():
    outcomes = [
        {"variant": "alexnet-none", "seed": 1, "status": "ok", "accuracy": 0.50},
        {"variant": "alexnet-none", "seed": 2, "status": "ok", "accuracy": 0.52},
        {"variant": "alexnet-none", "seed": 3, "status": "ok", "accuracy": 0.54},
        {"variant": "alexnet-se", "seed": 1, "status": "ok", "accuracy": 0.60},
        {"variant": "alexnet-se", "seed": 2, "status": "failed", "error": "boom"},
        {"variant": "alexnet-se", "seed": 3, "status": "missing"},
    ]
    rows = {r["variant"]: r for r in aggregate(outcomes)}
    base = rows["alexnet-none"]
    assert base["n"] == 3 and base["mean"] == pytest.approx(0.52)
    assert base["std"] == pytest.approx(statistics.stdev([0.50, 0.52, 0.54]))  # 0.02
    assert base["ci95"] == pytest.approx(4.302653 * 0.02 / 3**0.5, rel=1e-5)
    se = rows["alexnet-se"]
    assert se["n"] == 1 and se["failed"] == [2] and se["missing"] == [3]
    assert se["std"] != se["std"], "one run: the spread is unknown (NaN), not zero"
    assert "too few runs" in se["vs_baseline"]
    table = format_table(list(rows.values()))
    assert "failed seeds [2]" in table and "missing seeds [3]" in table


def test_spec_from_toml(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('models = ["alexnet"]\nattentions = ["none", "simam"]\nseeds = [1, 2]\n'
                    'profile = "smoke"\n[overrides]\nepochs = 1\n')  # fmt: skip
    spec = SweepSpec.from_toml(path)
    assert spec.jobs() == [("alexnet", a, s) for a in ("none", "simam") for s in (1, 2)]
    assert spec.overrides == {"epochs": 1}
    path.write_text("model = 1\n")
    with pytest.raises(ValueError, match="unknown keys"):
        SweepSpec.from_toml(path)


def test_a_tiny_real_sweep_reuses_runs_and_writes_results(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", cifar_source())
    overrides = {"train_subset": 64, "test_subset": 20, "batch_size": 32, "epochs": 1}
    spec = SweepSpec(attentions=["none", "bogus"], seeds=[1, 2], profile="smoke",
                     overrides=overrides)  # fmt: skip
    rows = {r["variant"]: r for r in run_sweep(spec)}
    assert rows["alexnet-none"]["n"] == 2 and rows["alexnet-none"]["failed"] == []
    assert rows["alexnet-bogus"]["failed"] == [1, 2], "an unknown module fails, the sweep goes on"
    report = json.loads((tmp_path / "results" / "sweep-smoke.json").read_text())
    assert len(report["runs"]) == 4
    assert len(list((tmp_path / "results" / "smoke").glob("alexnet-none-s*__*.json"))) == 2
    monkeypatch.setattr(
        "course_lib.train.experiment.fit", lambda *a, **k: pytest.fail("must reuse finished runs")
    )
    spec = SweepSpec(attentions=["none"], seeds=[1, 2], profile="smoke", overrides=overrides)
    again = {r["variant"]: r for r in run_sweep(spec)}
    assert again["alexnet-none"]["mean"] == rows["alexnet-none"]["mean"]
