"""Execute the course's notebooks with papermill, one after another, and report each."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .experiments.results import NOTEBOOK_ENV
from .runtime.atomic import atomic_write_json
from .runtime.paths import repo_root, resolve_env_paths
from .train.progress import PROGRESS_ENV

# Minutes per chapter from an empty run cache on the 2-core CPU the course is measured on
# (README's profile section); with its runs cached a chapter takes seconds to 3 minutes, so these
# bound the time left from above. Only the time-left estimate of the progress line uses them.
# Quick's 00-03: measured end to end (README's main command on a fresh clone, 2026-12-03);
# 04: the pilot's 24 runs; 05-07: the sum of their measured runs (chapter 05: 16 AlexNet-PSA runs
# of ~8 min and 6 CIFAR ResNets; its control is chapter 02's); 08: measured, less the two runs
# that chapters 02-03 leave behind in a whole pass.
CHAPTER_MINUTES = {
    "quick": {"00": 1, "01": 21, "02": 55, "03": 25, "04": 80, "05": 165, "06": 80, "07": 20,
              "08": 27, "09": 1},
    "smoke": {f"{i:02d}": 1 for i in range(10)},
}  # fmt: skip

# the kernel's own log (not the notebook's output) would print a warning about TCP transport
# before every notebook, and a traceback when a timed-out kernel is stopped
QUIET_KERNEL = ["--IPKernelApp.log_level=CRITICAL"]


@dataclass
class NotebookResult:
    notebook: str
    ok: bool
    seconds: float
    error: str = ""  # the first line of the error
    output: str = ""  # the executed copy


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in ``folder``; ``only`` keeps those whose name starts with one of
    the given prefixes (``["00", "03"]``)."""
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in only)]
    return notebooks


def run_notebooks(
    profile: str,
    output_dir: str | Path | None = None,
    only: list[str] | None = None,
    parameters: dict | None = None,
    inplace: bool = False,
    notebooks_dir: str | Path | None = None,
    timeout: int | None = None,
) -> list[NotebookResult]:
    """Run every notebook with papermill under ``COURSE_PROFILE=profile``.

    Executed copies go to ``output_dir`` (default ``executed/<profile>/``), or back into
    ``notebooks/`` with ``inplace=True`` (how the committed outputs are made). A failing notebook
    is recorded and the next one runs; ``timeout`` (seconds) limits each notebook. A summary is
    written to ``summary.json`` beside the copies.
    """
    try:
        import papermill as pm
    except ImportError as err:
        raise ImportError(
            "running notebooks needs the notebook tools: pip install -e '.[notebooks]'"
        ) from err

    resolve_env_paths()  # the kernels run in notebooks/: relative paths would move
    notebooks_dir = Path(notebooks_dir or repo_root() / "notebooks")
    output_dir = Path(output_dir or repo_root() / "executed" / profile).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_PROFILE"] = profile  # the kernels inherit it: parameters follow the profile
    # progress bars would fill the saved outputs with thousands of updates; tables give times
    os.environ.setdefault("COURSE_PROGRESS", "off")
    # the kernels' training loops write their progress here; a watcher shows it
    progress_file = output_dir / ".progress.json"
    os.environ[PROGRESS_ENV] = str(progress_file)
    results = []
    notebooks = find_notebooks(notebooks_dir, only)
    for index, notebook in enumerate(notebooks):
        target = notebook if inplace else output_dir / notebook.name
        print(f"[{profile}] {notebook.name} ...", flush=True)
        started = time.perf_counter()
        os.environ[NOTEBOOK_ENV] = notebook.name  # results rows say which notebook made them
        later = [n.name[:2] for n in notebooks[index + 1 :]]
        progress_file.unlink(missing_ok=True)
        watcher = ProgressWatcher(progress_file, profile, notebook.name, later)
        watcher.start()
        try:
            pm.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters or {},
                cwd=str(notebooks_dir),
                progress_bar=False,
                timeout_func=_cell_limit(started + timeout) if timeout else None,
                extra_arguments=QUIET_KERNEL,
            )
            error = ""
            stamp_source(Path(target), notebooks_dir / "src" / f"{notebook.stem}.py", profile)
        except Exception as err:  # one failing notebook must not stop the others
            error = _first_line(err, timeout)
        finally:
            watcher.stop()
        seconds = time.perf_counter() - started
        results.append(NotebookResult(notebook.name, not error, seconds, error, str(target)))
        print(f"    {'FAILED' if error else 'ok'} in {seconds:.0f} s", flush=True)
    progress_file.unlink(missing_ok=True)
    os.environ.pop(PROGRESS_ENV, None)
    summary = [r.__dict__ for r in results]
    atomic_write_json(summary, output_dir / "summary.json")
    return results


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def describe_progress(
    state: dict | None, profile: str, notebook: str, elapsed: float, later: list[str]
) -> str:
    """One line: the notebook, the run its kernel trains (model, seed, epoch, step) and the time
    left for the run, the chapter and the course. The chapter's and the course's are bounds
    from :data:`CHAPTER_MINUTES` (chapters whose runs are cached finish sooner)."""
    line = f"[{profile}] {notebook} {_minutes(elapsed)} in"
    if state and not state.get("finished"):
        line += (
            f" · training {state['run']} seed {state['seed']}, epoch "
            f"{state['epoch']}/{state['epochs']} (step {state['step']}/{state['steps']})"
        )
        if state.get("seconds_per_step"):
            left = (state["steps"] - state["step"]) * state["seconds_per_step"]
            line += f", ~{_minutes(left)} left in this run"
    costs = CHAPTER_MINUTES.get(profile)
    if costs and notebook[:2] in costs:
        chapter_left = max(0.0, costs[notebook[:2]] * 60 - elapsed)
        course_left = chapter_left + 60 * sum(costs.get(c, 0) for c in later)
        line += f" · chapter ≤ {_minutes(chapter_left)}, course ≤ {_minutes(course_left)} left"
    return line


class ProgressWatcher:
    """Shows what a notebook's kernel is training while papermill waits for it: one updating
    line on a terminal, a plain line whenever the run or its epoch changes otherwise."""

    def __init__(self, path: Path, profile: str, notebook: str, later: list[str],
                 interval: float = 1.0, stream=None) -> None:  # fmt: skip
        self.path, self.profile, self.notebook, self.later = path, profile, notebook, later
        self.interval, self.stream = interval, stream or sys.stdout
        self.tty = self.stream.isatty()
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._last_key: tuple | None = None
        self._width = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def show(self) -> None:
        state = self.read()
        elapsed = time.perf_counter() - self.started
        line = describe_progress(state, self.profile, self.notebook, elapsed, self.later)
        if self.tty:
            self._width = max(self._width, len(line))
            self.stream.write("\r" + line.ljust(self._width))
            self.stream.flush()
            return
        key = None if not state else (state["run"], state["seed"], state["epoch"])
        if key is not None and key != self._last_key:
            self._last_key = key
            self.stream.write(line + "\n")
            self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()


def source_digest(source: Path) -> str:
    """The SHA-256 of a notebook's jupytext source: what its outputs were executed from."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def stamp_source(notebook: Path, source: Path, profile: str) -> None:
    """Record in an executed notebook's metadata which source (by hash) and profile made its
    outputs; ``tests/test_notebook_sources.py`` checks the stamp against the source."""
    if not source.exists():
        return
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["course"] = {
        "source": f"notebooks/src/{source.name}",
        "source_sha256": source_digest(source),
        "profile": profile,
    }
    nbformat.write(nb, notebook)


def _cell_limit(deadline: float):
    """nbclient's time limit per cell, shrinking as the notebook's own runs out."""
    return lambda cell: max(1, round(deadline - time.perf_counter()))


def _first_line(err: Exception, timeout: float | None) -> str:
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, CellTimeoutError):
        return f"timed out after {timeout:.0f} s"
    if isinstance(err, PapermillExecutionError):
        name, text = err.ename, err.evalue
    else:
        name, text = type(err).__name__, str(err)
    lines = [line for line in text.splitlines() if line.strip()]
    return f"{name}: {lines[0].strip()[:300]}" if lines else name


def format_summary(results: list[NotebookResult]) -> str:
    lines = [f"{'notebook':40s} {'status':8s} {'time':>8s}"]
    for r in results:
        lines.append(f"{r.notebook:40s} {'ok' if r.ok else 'FAILED':8s} {r.seconds:7.0f}s")
        if r.error:
            lines.append(f"    {r.error} (executed notebook: {r.output})")
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
