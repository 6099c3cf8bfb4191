"""The benchmark: what it measures and writes (the numbers themselves are machine facts)."""

from __future__ import annotations

import json
import statistics

from course_lib.bench import run_bench


def test_bench_writes_paired_overheads(tmp_path):
    out = tmp_path / "bench.json"
    report = run_bench(
        image_size=64, batch_size=8, models=["alexnet"], attentions=["se"], iters=1,
        rounds=2, output=out,
    )  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    plain, se = report["models"]
    assert (plain["attention"], se["attention"]) == ("none", "se")
    assert se["params"] - plain["params"] == 14_816  # SE blocks at r=16 after AlexNet's 5 convs
    assert len(se["train_overhead_rounds"]) == 2
    assert se["train_overhead_vs_alexnet"] == statistics.median(se["train_overhead_rounds"]) > 0
    assert report["pipelines"]["batched_images_per_s"] > 0
