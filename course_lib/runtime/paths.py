"""Where the course keeps data, runs and results."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # course_lib/, above runtime/
PATH_VARIABLES = ("COURSE_DATA", "COURSE_DATA_DIR", "COURSE_RUNS_DIR", "COURSE_RESULTS_DIR")


def resolve_env_paths() -> None:
    """Make the path variables absolute, relative to the folder where they were typed.

    Notebook kernels run inside ``notebooks/``: a relative ``COURSE_DATA=../shared/...`` set in
    the repository would point elsewhere there. The command line, the notebook runner and the
    tests call this before any kernel starts.
    """
    for name in PATH_VARIABLES:
        if os.environ.get(name):
            os.environ[name] = os.path.abspath(os.path.expanduser(os.environ[name]))


def _env_path(name: str, default: Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.environ.get(name) or default)))


def repo_root() -> Path:
    """The course repository when ``course_lib`` is installed from it, else the working folder."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def data_dir() -> Path:
    """``COURSE_DATA_DIR`` or ``<repo>/data``: datasets and decoded caches (ignored by git)."""
    return _env_path("COURSE_DATA_DIR", repo_root() / "data")


def runs_dir() -> Path:
    """``COURSE_RUNS_DIR`` or ``<repo>/runs``: one folder per training run (ignored by git)."""
    return _env_path("COURSE_RUNS_DIR", repo_root() / "runs")


def results_dir() -> Path:
    """``COURSE_RESULTS_DIR`` or ``<repo>/results``: the metrics each chapter reports."""
    return _env_path("COURSE_RESULTS_DIR", repo_root() / "results")


def figures_dir() -> Path:
    return repo_root() / "figures"
