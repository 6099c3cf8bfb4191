"""The chapters' readings and their checks, run against the committed results and altered ones.

A reading cell (tag ``reading``) writes a paragraph from the committed ``quick`` rows; a check
cell (tags ``reading-check`` and ``remove-cell``, hidden on the website) states each qualitative
word of it again as a claim (:mod:`course_lib.claims`). Here every chapter's reading and check
cells run, in order, outside the notebook: they must hold for the committed results, and a
result altered so that the reading is wrong must make them fail.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jupytext
import pytest

from course_lib.claims import ClaimError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
# the committed results (read before conftest points COURSE_RESULTS_DIR at a test's own folder)
COMMITTED = Path(os.environ.get("COURSE_RESULTS_DIR") or ROOT / "results")


def reading_cells(source: Path) -> list[str]:
    cells = jupytext.read(source).cells
    tagged = [c for c in cells if {"reading", "reading-check"} & set(c.metadata.get("tags", []))]
    return [c.source for c in tagged if c.cell_type == "code"]


def run_readings(source: Path) -> None:
    namespace: dict = {"__name__": "reading"}
    for code in reading_cells(source):
        exec(compile(code, f"{source.name} (reading cell)", "exec"), namespace)


def test_every_check_cell_is_hidden_and_follows_a_reading():
    for source in SOURCES:
        cells = jupytext.read(source).cells
        for i, cell in enumerate(cells):
            tags = cell.metadata.get("tags", [])
            if "reading-check" in tags:
                assert "remove-cell" in tags, f"{source.name}: a check cell shown on the website"
                assert "claims.guard(" in cell.source, f"{source.name}: a check cell checks nothing"
                before = [c.metadata.get("tags", []) for c in cells[:i]]
                assert any("reading" in t for t in before), (
                    f"{source.name}: a check without reading"
                )


@pytest.mark.parametrize(
    "source", [s for s in SOURCES if reading_cells(s)], ids=lambda s: s.name[:2]
)
def test_the_readings_hold_for_the_committed_results(source, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(COMMITTED))
    run_readings(source)
    assert "claim(s) of the reading" in capsys.readouterr().out


def _altered(tmp_path: Path, monkeypatch, swap: tuple[str, str]) -> None:
    """A copy of results/ in which two networks' quick rows trade their numbers."""
    copy = tmp_path / "results"
    shutil.copytree(COMMITTED, copy)
    a, b = swap
    rows = {}
    for path in (copy / "quick").glob("*.json"):
        row = json.loads(path.read_text())
        if row.get("name") in swap:
            setting = (row["seed"], row["epochs"], row.get("schedule_epochs"))
            rows[(row["name"], setting)] = (path, row)
    for (name, setting), (path, row) in rows.items():
        if name != a or (b, setting) not in rows:
            continue
        other_path, other = rows[(b, setting)]
        for key in ("accuracy", "val_accuracy_per_epoch"):
            row[key], other[key] = other.get(key), row.get(key)
        path.write_text(json.dumps(row))
        other_path.write_text(json.dumps(other))
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(copy))


def test_an_altered_result_makes_chapter_02s_reading_fail(tmp_path, monkeypatch):
    source = ROOT / "notebooks" / "src" / "02_triplet_attention.py"
    _altered(tmp_path, monkeypatch, ("alexnet-triplet", "alexnet-none"))
    with pytest.raises(ClaimError) as failed:
        run_readings(source)
    assert "AlexNet-TA starts below AlexNet after epoch 1' does not hold" in str(failed.value)
