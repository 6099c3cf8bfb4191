"""The benchmark: what it measures and writes (the numbers themselves are machine facts)."""

from __future__ import annotations

import json
import statistics

from course_lib.experiments.bench import format_markdown, run_bench


def test_bench_writes_paired_overheads_in_each_precision(tmp_path):
    out = tmp_path / "bench.json"
    report = run_bench(
        image_size=64, batch_size=8, models=["alexnet"], attentions=["none", "se"], iters=1,
        rounds=2, output=out, precisions=["fp32", "bf16"],
    )  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    rows = {(r["attention"], r["precision"]): r for r in report["models"]}
    assert set(rows) == {("none", "fp32"), ("se", "fp32"), ("none", "bf16"), ("se", "bf16")}
    assert len(report["models"]) == 4, "'none' among the attentions must not bench AlexNet twice"
    for precision in ("fp32", "bf16"):
        plain, se = rows["none", precision], rows["se", precision]
        assert se["params"] - plain["params"] == 14_816  # SE blocks at r=16 after 5 convs
        assert len(se["train_overhead_rounds"]) == 2
        assert se["train_overhead_vs_alexnet"] == statistics.median(se["train_overhead_rounds"])
        # the FLOP rate is three forward passes per trained image, against the measured peak
        rate = plain["train_images_per_s"] * 3 * plain["flops"] / 1e9
        assert report["alexnet_train_gflops"][precision] == rate
        peak = report["peak_gflops"][precision]
        assert report["alexnet_fraction_of_peak"][precision] == rate / peak > 0
    assert report["pipelines"]["batched_images_per_s"] > 0
    # no compile argument: as training by default (SE is not among the modules compiling pays)
    assert report["compile"] == "auto" and {r["compiled"] for r in report["models"]} == {None}
    table = format_markdown(report).splitlines()
    assert table[0].count("|") == 10 and len(table) == 4  # 9 columns; header, rule, 2 models
    assert table[3].startswith("| + se | 5,441,706 |")


def test_recorded_overheads_read_the_committed_bench(tmp_path, monkeypatch):
    import json

    from course_lib.experiments.bench import recorded_overheads

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert recorded_overheads(128, "bf16") is None, "no bench recorded at that size"
    rows = [
        {"model": "alexnet", "attention": "none", "precision": "bf16"},
        {
            "model": "alexnet",
            "attention": "se",
            "precision": "bf16",
            "train_overhead_vs_alexnet": 1.2,
        },
        {
            "model": "alexnet",
            "attention": "se",
            "precision": "fp32",
            "train_overhead_vs_alexnet": 1.1,
        },
    ]
    bench = {"device": "CPU", "date": "2026-11-26T18:00:00", "models": rows}
    (tmp_path / "bench-cpu-128px.json").write_text(json.dumps(bench))
    got = recorded_overheads(128, "bf16")
    assert got == {"device": "CPU", "date": "2026-11-26", "overheads": {"se": 1.2}}


def test_bench_auto_compiles_what_training_compiles(monkeypatch):
    import torch

    from course_lib.experiments import bench
    from course_lib.models import build_model

    assert bench.quick_run_steps() == 750
    monkeypatch.setattr(bench, "auto_compile", lambda model, device, precision, steps: (
        "attention" if precision == "bf16" and steps == 750 else None))  # fmt: skip
    model = build_model("alexnet", attention="cbam", image_size=64)
    cpu = torch.device("cpu")
    assert bench.resolve_compile(model, "auto", cpu, "bf16") == "attention"
    assert bench.resolve_compile(model, "auto", cpu, "fp32") is None
    assert bench.resolve_compile(model, "none", cpu, "bf16") is None
    assert bench.resolve_compile(model, "attention", cpu, "fp32") == "attention"
