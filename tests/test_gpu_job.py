"""The GPU job (scripts/gpu/job.py) end to end on the CPU: no GPU lease is spent on a typo."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

from tests.conftest import cifar_source

JOB = Path(__file__).resolve().parents[1] / "scripts" / "gpu" / "job.py"


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
    for step in ("environment and data", "CUDA tests", "bench 72 px", "packing", "paper runs"):
        assert f"- {step}: skipped" in summary, step
    assert names == []
