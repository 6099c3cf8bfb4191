"""Shared fixtures: CIFAR-10 from the offline archive (never downloaded), isolated folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_lib.data import load_cifar10

SHARED_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def cifar_source() -> str:
    """COURSE_DATA if set (CI sets it), else the course's offline archive beside the repo."""
    return os.environ.get("COURSE_DATA") or str(SHARED_ARCHIVE)


@pytest.fixture(scope="session")
def cifar_full():
    return load_cifar10(cifar_source(), download=False)


@pytest.fixture(scope="session")
def cifar_small(cifar_full):
    """320 training and 100 test images, class-balanced."""
    from course_lib.data import balanced_subset

    return balanced_subset(cifar_full, 320, 100, seed=0)


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Runs and results written by a test go to its temporary folder, never into the repo."""
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("COURSE_DOWNLOAD", "0")  # tests never download
