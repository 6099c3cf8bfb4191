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
    import course_lib.experiments.sweep as sweep

    monkeypatch.setenv("COURSE_DATA", cifar_source())
    overrides = {"train_subset": 64, "test_subset": 20, "batch_size": 32, "epochs": 1}
    train = sweep._train_in_process

    def se_diverges(spec, model, attention, seed):
        if attention == "se":
            raise FloatingPointError("the training loss of epoch 1 is not finite")
        return train(spec, model, attention, seed)

    monkeypatch.setattr(sweep, "_train_in_process", se_diverges)
    spec = SweepSpec(attentions=["none", "se"], seeds=[1, 2], profile="smoke",
                     overrides=overrides)  # fmt: skip
    rows = {r["variant"]: r for r in run_sweep(spec)}
    assert rows["alexnet-none"]["n"] == 2 and rows["alexnet-none"]["failed"] == []
    assert rows["alexnet-se"]["failed"] == [1, 2], "a failed run is reported, the sweep goes on"
    path = spec.output_path()
    assert path.parent == tmp_path / "results" / "sweep" and "smoke-alexnet-none+se-" in path.name
    report = json.loads(path.read_text())
    assert len(report["runs"]) == 4
    assert len(list((tmp_path / "results" / "smoke").glob("alexnet-none-s*__*.json"))) == 2
    monkeypatch.setattr(
        "course_lib.train.experiment.fit", lambda *a, **k: pytest.fail("must reuse finished runs")
    )
    spec = SweepSpec(attentions=["none"], seeds=[1, 2], profile="smoke", overrides=overrides)
    again = {r["variant"]: r for r in run_sweep(spec)}
    assert again["alexnet-none"]["mean"] == rows["alexnet-none"]["mean"]
    assert spec.output_path() != path, "another configuration, another file"
    assert json.loads(path.read_text()) == report, "the first sweep's file is untouched"


def test_a_sweep_in_which_nothing_finished_writes_nothing(tmp_path, monkeypatch):
    import course_lib.experiments.sweep as sweep

    def fails(*args):
        raise FloatingPointError("diverged")

    monkeypatch.setattr(sweep, "_train_in_process", fails)
    spec = SweepSpec(attentions=["none"], seeds=[1], profile="smoke")
    rows = run_sweep(spec)
    assert rows[0]["failed"] == [1]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        (dict(attentions=["none", "nope"]), r"unknown attention module 'nope'.*Valid names"),
        (dict(models=["alexnett"]), r"unknown model 'alexnett'.*Did you mean 'alexnet'"),
        (dict(profile="quik"), r"unknown profile 'quik'"),
        (dict(overrides={"epoch": 2}), r"unknown setting 'epoch'"),
        (dict(seeds=[42, 42]), r"seeds repeat"),
        (dict(seeds=[]), r"seeds must be whole numbers"),
        (dict(models=["epsanet50"], attentions=["se"]), r"has its own attention built in"),
    ],
)
def test_a_sweep_checks_every_name_before_loading_data(spec, message, monkeypatch):
    import course_lib.experiments.sweep as sweep

    monkeypatch.setattr(sweep, "_train_in_process", lambda *a: pytest.fail("nothing may train"))
    with pytest.raises((ValueError, KeyError), match=message):
        run_sweep(SweepSpec(**spec))
