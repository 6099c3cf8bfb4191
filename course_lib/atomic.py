"""Files written atomically: a temporary file beside the target, then one rename.

An interruption (Ctrl-C, a killed kernel, a full disk) leaves either the old file or the new
one, never half a file. Checkpoints, histories, results rows and the data cache all use this.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_save(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename it to ``path``."""
    path = Path(path)
    tmp = _temporary(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_json(obj, path: str | Path) -> None:
    """JSON (indented, sorted keys) to a temporary file, then rename it to ``path``."""
    path = Path(path)
    tmp = _temporary(path)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
