"""Files written atomically: a temporary file beside the target, then one rename.

An interruption (Ctrl-C, a killed kernel, a full disk) leaves either the old file or the new
one, never half a file. Checkpoints, histories, results rows and the data cache all use this.
A failed write removes its temporary file; one left by a killed process is removed by
:func:`remove_stale_temporaries` when its folder is next used.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

_TEMPORARY = re.compile(r"^\..+\.tmp(\d+)$")  # .<name>.tmp<pid>


class WriteError(OSError):
    """A file could not be written (read-only folder, full disk, ...); the message says which."""


def _write(path: str | Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        make_folder(path.parent)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        # torch.save reports a full disk as a RuntimeError without errno, plain writes as OSError
        if isinstance(err, (OSError, RuntimeError)) and not isinstance(err, WriteError):
            raise WriteError(f"cannot write {path}: {_why(err, path)}") from err
        raise


def make_folder(folder: Path) -> None:
    """``mkdir -p``, with a :class:`WriteError` that says why it failed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(f"cannot create {folder}: {_why(err, folder)}") from err


def _why(err: Exception, path: Path) -> str:
    reason = getattr(err, "strerror", None) or "the write failed"
    elsewhere = "or move runs and data elsewhere with COURSE_RUNS_DIR and COURSE_DATA_DIR"
    if getattr(err, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{reason}; make the folder writable, {elsewhere}"
    existing = next(p for p in (path, *path.parents) if p.exists())
    free = shutil.disk_usage(existing).free / 2**20
    return f"{reason} ({free:.0f} MB free there); free some space, {elsewhere}"


def atomic_save(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename it to ``path``."""
    _write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_json(obj, path: str | Path) -> None:
    """JSON (indented, sorted keys) to a temporary file, then rename it to ``path``."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    _write(path, lambda tmp: tmp.write_text(text))


def atomic_write_npz(arrays: dict, path: str | Path) -> None:
    """``numpy.savez`` of ``arrays``, atomically (the name must end in ``.npz``)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: savez would append .npz to a name
            np.savez(f, **arrays)

    _write(path, write)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that processes no longer running left in ``folder``."""
    removed = []
    for path in Path(folder).glob(".*.tmp*"):
        match = _TEMPORARY.match(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
