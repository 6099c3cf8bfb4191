"""Where the course keeps data, runs, results and figures, wherever a command is started."""

from __future__ import annotations

from pathlib import Path

import pytest

import course_lib
from course_lib.runtime.paths import (
    PATH_VARIABLES,
    data_dir,
    figures_dir,
    repo_root,
    results_dir,
    runs_dir,
)

CHECKOUT = Path(__file__).resolve().parents[1]


def test_the_folders_are_the_checkouts_from_any_working_folder(tmp_path, monkeypatch):
    """Notebook kernels run inside notebooks/: the folders must not follow the working folder
    (a module moved one level down once sent every run to notebooks/runs)."""
    if Path(course_lib.__file__).resolve().parents[1] != CHECKOUT:
        pytest.skip("course_lib is not imported from this checkout")
    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert repo_root() == CHECKOUT
    assert (runs_dir(), results_dir(), data_dir(), figures_dir()) == (
        CHECKOUT / "runs",
        CHECKOUT / "results",
        CHECKOUT / "data",
        CHECKOUT / "figures",
    )


def test_the_variables_move_the_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "res"))
    assert runs_dir() == tmp_path / "r" and results_dir() == tmp_path / "res"
