"""What a learner needs to know about the machine before training anything."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache

import torch
import torchvision

from ..profiles import default_profile_name
from .device import cpu_isa, device_name, pick_device
from .paths import repo_root


def on_colab() -> bool:
    return "google.colab" in sys.modules


def environment_report() -> dict[str, str]:
    """Versions, device and the profile that will be used."""
    device = pick_device()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": f"{device.type}: {device_name(device)}",
        "cpu threads": str(torch.get_num_threads()),
        "cpu isa": cpu_isa(),
        "profile": default_profile_name(),
        "platform": platform.platform(),
        "colab": str(on_colab()),
    }


@cache
def git_state() -> tuple[str | None, bool]:
    """The course checkout's commit and whether ``course_lib`` differs from it (uncommitted
    changes), or (None, False) when the library is not in a git checkout. Results record both,
    so that a number can be traced to the code that made it."""
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=repo_root(), capture_output=True, text=True, check=True,
                timeout=10,
            ).stdout.strip()  # fmt: skip

        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "course_lib")
        return commit, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return None, False


def git_commit() -> str | None:
    """The checkout's commit (see :func:`git_state`)."""
    return git_state()[0]
