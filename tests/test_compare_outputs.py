"""scripts/compare_outputs.py: two executions of one source agree, differ in a printed line,
or come from different sources (the three exit statuses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_outputs.py"


def executed(path: Path, accuracy: str, source: str = "print(accuracy)") -> Path:
    """A notebook as papermill leaves it: an injected parameters cell and one printed line."""
    injected = new_code_cell("profile = 'quick'", metadata={"tags": ["injected-parameters"]})
    cell = new_code_cell(source)
    cell.outputs = [new_output("stream", name="stdout", text=f"accuracy {accuracy} %\n")]
    nbformat.write(new_notebook(cells=[injected, cell]), path)
    return path


def compare(first: Path, second: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(first), str(second)], capture_output=True, text=True
    )


def test_same_outputs_exit_0(tmp_path):
    done = compare(executed(tmp_path / "a.ipynb", "52.01"), executed(tmp_path / "b.ipynb", "52.01"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 cells and 0 lines differ" in done.stdout


def test_a_changed_line_is_printed_and_exits_1(tmp_path):
    done = compare(executed(tmp_path / "a.ipynb", "52.01"), executed(tmp_path / "b.ipynb", "51.43"))
    assert done.returncode == 1
    assert "-accuracy 52.01 %" in done.stdout and "+accuracy 51.43 %" in done.stdout
    assert "1 cells and 1 lines differ" in done.stdout


def test_other_sources_exit_2(tmp_path):
    first = executed(tmp_path / "a.ipynb", "52.01")
    second = executed(tmp_path / "b.ipynb", "52.01", source="print(accuracy, seed)")
    done = compare(first, second)
    assert done.returncode == 2
    assert "not executions of one source" in done.stderr
