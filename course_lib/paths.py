"""Where the course keeps data, runs and results."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The course repository when ``course_lib`` is installed from it, else the working folder."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def data_dir() -> Path:
    """``COURSE_DATA_DIR`` or ``<repo>/data``: datasets and decoded caches (ignored by git)."""
    return Path(os.environ.get("COURSE_DATA_DIR", repo_root() / "data"))


def runs_dir() -> Path:
    """``COURSE_RUNS_DIR`` or ``<repo>/runs``: one folder per training run (ignored by git)."""
    return Path(os.environ.get("COURSE_RUNS_DIR", repo_root() / "runs"))


def results_dir() -> Path:
    """``COURSE_RESULTS_DIR`` or ``<repo>/results``: the metrics each chapter reports."""
    return Path(os.environ.get("COURSE_RESULTS_DIR", repo_root() / "results"))


def figures_dir() -> Path:
    return repo_root() / "figures"
