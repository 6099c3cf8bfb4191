"""One training per run folder at a time: a second identical training stops and says who holds it.

The lock is ``fcntl.flock`` on ``<run>/.lock``, which holds the owner's process id. The kernel
releases it when the process ends, however it ends, so a killed run never blocks the next one.
Without ``fcntl`` (Windows) runs are not locked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class RunLockedError(RuntimeError):
    """Another process is training the same run."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock, or raise :class:`RunLockedError` naming the holder."""
    if fcntl is None:
        yield
        return
    path = run_dir / ".lock"
    with open(path, "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            raise RunLockedError(
                f"{run_dir} is being trained by process {holder}; wait for it to finish (this "
                "call will then load the run) or stop that process"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
