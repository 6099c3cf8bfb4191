"""The test command leaves the working tree as it found it.

Chapter 09 draws every profile's leaderboard; run in the smoke profile (as nbval runs it) it once
rewrote a committed figure. Here it runs with smoke results present, so that it draws and writes
its own figures, and ``git status`` must not change: what a smoke run writes lies in ignored
places, and the other profiles' committed figures are left as their own runs wrote them.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from course_lib.experiments.reference import is_current
from course_lib.notebook_runner import run_notebooks
from course_lib.profiles import get_profile
from course_lib.runtime.paths import repo_root

from .conftest import cifar_source


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo_root(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.fixture
def results_with_smoke_rows(tmp_path):
    """A copy of the committed results, plus the current quick AlexNet rows relabelled as smoke
    rows at smoke's setting (chapter 09's tables hold only the recipes a profile trains)."""
    results = tmp_path / "results"
    shutil.copytree(repo_root() / "results", results)
    (results / "smoke").mkdir(exist_ok=True)
    smoke = get_profile("smoke")
    for path in sorted((results / "quick").glob("alexnet-*.json")):
        row = json.loads(path.read_text())
        if not is_current(row):
            continue
        row.update(profile="smoke", image_size=smoke.image_size, epochs=smoke.epochs,
                   schedule_epochs=None, train_images=smoke.train_subset,
                   batch_size=smoke.batch_size)  # fmt: skip
        (results / "smoke" / path.name).write_text(json.dumps(row))
    return results


def test_the_smoke_run_of_chapter_09_changes_no_tracked_file(
    results_with_smoke_rows, tmp_path, monkeypatch
):
    if not (repo_root() / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(results_with_smoke_rows))
    monkeypatch.setenv("COURSE_DATA", cifar_source())
    for name in ("COURSE_PROFILE", "COURSE_PROGRESS", "COURSE_NOTEBOOK", "COURSE_PROGRESS_FILE"):
        monkeypatch.setenv(name, "")  # run_notebooks sets them; restored afterwards
    for old in (repo_root() / "figures").glob("leaderboard-smoke*.png"):
        old.unlink()  # ignored files: whatever is found afterwards, this run drew
    before = _git_status()
    (result,) = run_notebooks("smoke", output_dir=tmp_path / "executed", only=["09"])
    assert result.ok, result.error
    assert list((repo_root() / "figures").glob("leaderboard-smoke*.png")), "nothing was drawn"
    assert _git_status() == before
