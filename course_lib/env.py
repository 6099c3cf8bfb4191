"""What a learner needs to know about the machine before training anything."""

from __future__ import annotations

import platform
import sys

import torch
import torchvision

from .device import device_name, pick_device
from .profiles import default_profile_name


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
        "profile": default_profile_name(),
        "platform": platform.platform(),
        "colab": str(on_colab()),
    }
