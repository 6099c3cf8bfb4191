"""The GPU job (scripts/gpu/job.py) end to end on the CPU: no GPU lease is spent on a typo;
what ``--next`` schedules, from a fixture ``results/``; the profile a CUDA machine gets."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from course_lib.experiments.results import read_results
from course_lib.profiles import default_profile_name, get_profile
from tests.conftest import cifar_source

JOB = Path(__file__).resolve().parents[1] / "scripts" / "gpu" / "job.py"


@pytest.fixture(scope="module")
def job():
    """scripts/gpu/job.py as a module (it is a script, not part of course_lib)."""
    spec = importlib.util.spec_from_file_location("gpu_job", JOB)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def run_job(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, str, list[str]]:
    command = [sys.executable, str(JOB), "--dry-run", "--out", str(out), "--data", cifar_source()]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=900)
    summary = (out / "summary.md").read_text()
    with tarfile.open(out / "gpu-job.tar.gz") as tar:
        names = tar.getnames()
    return done, summary, names


def test_the_dry_run_runs_every_step(tmp_path):
    done, summary, names = run_job(tmp_path / "out")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAILED" not in summary and "skipped" not in summary, summary
    assert "CUDA tests: 3 passed" in summary
    assert "packing, AlexNet-TA at 72 px: 2 process(es)" in summary
    for name in ("bench-cpu-dry-run-72px.json", "bench-cpu-dry-run-64px.json",
                 "profile-alexnet-triplet-72px.txt", "pytest-cuda.txt"):  # fmt: skip
        assert name in names, name
    rows = sorted(n.split("/")[-1] for n in names if n.startswith("results/smoke/"))
    prefixes = [row.rsplit("-", 1)[0] for row in rows]  # the setting hash aside
    assert prefixes == [
        "alexnet-none-s42__64px-1ep-128img",
        "alexnet-none-s42__72px-1ep-128img",
        "alexnet-simam-s42__64px-1ep-128img",
        "alexnet-triplet-s42__72px-1ep-128img",
    ]
    assert sum(n.endswith("/history.json") for n in names) == 4
    assert not any(n.endswith(".pt") for n in names), "checkpoints stay behind"


def test_a_budget_too_short_skips_every_step_but_still_reports(tmp_path):
    done, summary, names = run_job(tmp_path / "out", "--budget", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    for step in ("environment and data", "CUDA tests", "bench 72 px", "packing", "runs"):
        assert f"- {step}: skipped" in summary, step
    assert names == []


def write_row(folder: Path, filename: str, **row) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_text(json.dumps({"accuracy": 0.5, "model": "alexnet", **row}))


def test_next_schedules_exactly_the_runs_results_does_not_hold(job, tmp_path):
    gpu = get_profile("gpu")
    planned = job.priority_runs(gpu, [42, 43, 44], 224, 128)
    # the priority list: the gpu profile's chapters 01-04 runs, paper TA at 224 px, the pairs
    assert [r.profile for r in planned[:18]] == ["gpu"] * 18
    assert {r.attention for r in planned[:18]} == set(job.GPU_CHAPTER_ATTENTIONS)
    assert planned[18] == job.PaperRun("triplet", 224, 1e-3, 42)
    assert len(planned) == len(set(planned)) == 18 + 12, "paper TA s42 is listed once"

    results = tmp_path / "results"
    done = dict(profile="gpu", image_size=128, epochs=gpu.epochs, lr=gpu.lr, train_images=45_000)
    write_row(results / "gpu", "a.json", name="alexnet-none", seed=42, **done)
    write_row(results / "gpu", "b.json", name="alexnet-triplet", seed=44, **done)
    write_row(results / "gpu", "c.json", name="alexnet-se", seed=43,
              **{**done, "epochs": 3})  # another setting: not this run  # fmt: skip
    write_row(results / "gpu", "d.json", name="alexnet-cbam", seed=43,
              **{**done, "train_images": 16_000})  # fmt: skip
    write_row(results / "quick", "e.json", name="alexnet-simam", seed=42,
              **{**done, "profile": "quick"})  # fmt: skip
    # the first lease's paper rows (50,000 images, before the hold-out) count as done
    paper = dict(profile="paper", epochs=50, train_images=50_000)
    write_row(results / "paper", "gpu-224px__alexnet-none-s42.json", name="alexnet-none",
              seed=42, image_size=224, lr=1e-3, **paper)  # fmt: skip
    write_row(results / "gpu-h100-x" / "job-1" / "runs" / "alexnet-simam-1", "metrics.json",
              name="alexnet-simam", seed=42, image_size=128, lr=5e-4, **paper)  # fmt: skip
    (results / "paper" / "broken.json").write_text("{not json")
    stopped = results / "gpu-h100-x" / "job-2" / "runs" / "alexnet-triplet-2"
    stopped.mkdir(parents=True)  # a run stopped at the time limit: history, no metrics
    (stopped / "history.json").write_text(json.dumps({"epoch": [1, 2]}))

    missing = job.next_runs(planned, read_results(results))
    present = {
        job.PaperRun("none", 128, 1e-3, 42, "gpu", gpu.epochs, 45_000),
        job.PaperRun("triplet", 128, 1e-3, 44, "gpu", gpu.epochs, 45_000),
        job.PaperRun("none", 224, 1e-3, 42),
        job.PaperRun("simam", 128, 5e-4, 42),
    }
    assert missing == [r for r in planned if r not in present]
    assert missing[0] == job.PaperRun("none", 128, 1e-3, 43, "gpu", gpu.epochs, 45_000)
    assert job.PaperRun("triplet", 224, 1e-3, 42) in missing, "a stopped run is not done"


def test_the_default_profile_on_a_cuda_machine_is_quick_the_committed_recipe(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_profile_name() == "quick"
    assert get_profile().name == "quick"
    assert get_profile().seeds == tuple(range(42, 50))
    assert get_profile("gpu").name == "gpu", "gpu only when asked"
    assert get_profile("paper").name == "paper", "paper only when asked"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_profile_name() == "quick"


def test_the_gpu_profile_trains_at_128_px_or_more_with_three_seeds():
    gpu = get_profile("gpu")
    assert gpu.image_size >= 128 and len(gpu.seeds) >= 3


def test_next_is_wired_into_the_job(job, tmp_path):
    results = tmp_path / "results"
    write_row(results / "smoke", "a.json", profile="gpu", name="alexnet-none", seed=42,
              image_size=64, epochs=8, lr=1e-3, train_images=45_000)  # fmt: skip
    args = job.parse_args(["--dry-run", "--next", "--results", str(results),
                           "--out", str(tmp_path / "out"), "--data", cifar_source()])  # fmt: skip
    planned = job.priority_runs(args.gpu_profile, args.seeds, args.large, args.small)
    missing = job.Job(args).planned_runs()
    assert missing == planned[1:], "the dry run's gpu runs: 64 px, seed 42; the first is done"


def test_collect_tabulates_a_finished_and_a_stopped_run():
    """scripts/gpu/collect.py, which runs once per lease: it imports, and its table shows a
    finished run with the source notebook's number beside it and a stopped one as stopped."""
    from course_lib.train.fit import History

    path = JOB.with_name("collect.py")
    spec = importlib.util.spec_from_file_location("gpu_collect", path)
    collect = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(collect)

    def run(attention, epochs_done, metrics):
        history = History(epoch=list(range(1, epochs_done + 1)),
                          val_acc=[0.5 + e / 100 for e in range(epochs_done)],
                          epoch_time=[10.0] * epochs_done)  # fmt: skip
        config = {"model": {"name": "alexnet", "attention": attention},
                  "train": {"image_size": 224, "lr": 1e-3, "epochs": 50, "seed": 42}}  # fmt: skip
        return {"config": config, "history": history, "metrics": metrics}

    finished = run(None, 50, {"accuracy": 0.79, "train_images_per_s": 8765.0, "compiled": None})
    text = collect.table([finished, run("triplet", 21, None)])
    assert "| alexnet-none s42 | 224 | 0.001 | 50 of 50 | 79.00% |" in text
    assert "82.42%" in text, "source 000's number beside the plain run"
    assert "stopped; 70.00% at epoch 21" in text
