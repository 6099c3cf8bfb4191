"""Execute the course's notebooks with papermill, one after another, and report each."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .paths import repo_root


@dataclass
class NotebookResult:
    notebook: str
    ok: bool
    seconds: float
    error: str = ""


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
    is recorded and the next one runs. A summary is written to ``summary.json`` beside the copies.
    """
    import papermill as pm

    notebooks_dir = Path(notebooks_dir or repo_root() / "notebooks")
    output_dir = Path(output_dir or repo_root() / "executed" / profile)
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_PROFILE"] = profile  # the kernels inherit it: parameters follow the profile
    # progress bars would fill the saved outputs with thousands of updates; tables give times
    os.environ.setdefault("COURSE_PROGRESS", "off")
    results = []
    for notebook in find_notebooks(notebooks_dir, only):
        target = notebook if inplace else output_dir / notebook.name
        print(f"[{profile}] {notebook.name} ...", flush=True)
        started = time.perf_counter()
        try:
            pm.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters or {},
                cwd=str(notebooks_dir),
                progress_bar=False,
                execution_timeout=timeout,
            )
            results.append(NotebookResult(notebook.name, True, time.perf_counter() - started))
        except Exception as err:  # one failing notebook must not stop the others
            message = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300]}"
            results.append(
                NotebookResult(notebook.name, False, time.perf_counter() - started, message)
            )
        print(
            f"    {'ok' if results[-1].ok else 'FAILED'} in {results[-1].seconds:.0f} s", flush=True
        )
    summary = [r.__dict__ for r in results]
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return results


def format_summary(results: list[NotebookResult]) -> str:
    lines = [f"{'notebook':40s} {'status':8s} {'time':>8s}"]
    for r in results:
        lines.append(f"{r.notebook:40s} {'ok' if r.ok else 'FAILED':8s} {r.seconds:7.0f}s")
        if r.error:
            lines.append(f"    {r.error}")
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
