"""Training progress for a watcher outside the process: ``run-notebooks`` shows which run a
notebook's kernel is training while the notebook itself is silent.

When ``COURSE_PROGRESS_FILE`` is set, :func:`report_progress` wraps the training loop's tqdm bar
so that, besides drawing it, every update writes (at most once a second, atomically) a small JSON
file: the run, its seed, epoch and step, and the measured seconds per step. Without the variable
the bar is returned as it is.
"""

from __future__ import annotations

import os
import time

PROGRESS_ENV = "COURSE_PROGRESS_FILE"


class ProgressFile:
    """A tqdm bar that also writes the run's progress to ``path`` (see the module docstring)."""

    def __init__(self, bar, path: str, run: str, seed: int, epochs: int, steps_per_epoch: int):
        self.bar, self.path = bar, path
        self.run, self.seed, self.epochs, self.steps_per_epoch = run, seed, epochs, steps_per_epoch
        self.step = int(bar.n)
        self.first_step, self.started, self.written = self.step, time.perf_counter(), 0.0
        self._write(force=True)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        self.step += n
        self._write()

    def set_postfix(self, **values) -> None:
        self.bar.set_postfix(**values)

    def close(self) -> None:
        self.bar.close()
        self._write(force=True, finished=self.step >= self.epochs * self.steps_per_epoch)

    def _write(self, force: bool = False, finished: bool = False) -> None:
        from ..runtime.atomic import atomic_write_json

        now = time.perf_counter()
        if not force and now - self.written < 1.0:
            return
        self.written = now
        done = self.step - self.first_step
        state = {
            "run": self.run,
            "seed": self.seed,
            "epoch": min(self.step // self.steps_per_epoch + 1, self.epochs),
            "epochs": self.epochs,
            "step": self.step,
            "steps": self.epochs * self.steps_per_epoch,
            "seconds_per_step": (now - self.started) / done if done else None,
            "finished": finished,
            "time": time.time(),
        }
        try:
            atomic_write_json(state, self.path)
        except OSError:  # progress is a courtesy: it never stops a training
            pass


def report_progress(bar, run: str, seed: int, epochs: int, steps_per_epoch: int):
    """``bar`` itself, or a :class:`ProgressFile` around it when ``COURSE_PROGRESS_FILE`` is
    set."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return bar
    return ProgressFile(bar, path, run, seed, epochs, steps_per_epoch)
