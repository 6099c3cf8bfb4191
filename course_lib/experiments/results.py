"""Results files: one JSON per finished run, which the leaderboard chapter reads.

``results/<profile>/<name>-s<seed>__<size>px-<epochs>ep-<train images>img-<setting>.json`` holds
a run's metrics plus what a reader needs to trust them: FLOPs, data source, device, profile,
seed, the git commit and notebook that made it, and the source notebooks' reported numbers.
``setting`` is the hash of everything that decides the run except its seed (model arguments,
recipe, data), so a run with other settings gets another file, and runs differing only in their
seed share it.

The **source notebooks** are the five posts the course reproduces (:data:`SOURCE_NOTEBOOKS`),
called "source 000" to "source 004" everywhere; a *seed* in the course is always a random seed
(42, 43, ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..runtime.atomic import atomic_write_json
from ..runtime.paths import results_dir

NOTEBOOK_ENV = "COURSE_NOTEBOOK"  # set by run-notebooks: the notebook a result came from

# The posts the course reproduces (COURSE_PLAN.md), by number: "source 000" is never a seed.
SOURCE_NOTEBOOKS = {
    "000": "source 000 (Paddle: AlexNet with Triplet Attention, 224 px)",
    "001": "source 001 (Paddle: AlexNet with SimAM, 128 px)",
    "002": "source 002 (Paddle: MogaNet-XT on CIFAR-10, LIME)",
    "003": "source 003 (Paddle: EPSANet-50 against ResNet-50)",
    "004": "source 004 (PyTorch: VGG16 with self-attention on an own image folder)",
}

# What the source notebooks reported, shown beside our numbers with their setting.
SOURCE_REPORTED = {
    "alexnet-none": [
        {"accuracy": 0.8242, "params": 14_601_930, "image_size": 224,
         "setting": "source 000: 224 px, 50 epochs, official CIFAR-10, best epoch on test, 1 run"},
        {"accuracy": 0.84286, "params": 7_524_042, "image_size": 128,
         "setting": "source 001: 128 px, 50 epochs, official CIFAR-10, best epoch on test, 1 run"},
    ],
    "alexnet-triplet": [
        {"accuracy": 0.8777, "params": 14_603_460, "image_size": 224,
         "setting": "source 000: 224 px, 50 epochs, official CIFAR-10, best epoch on test, 1 run"},
    ],
    "alexnet-simam": [
        {"accuracy": 0.84355, "params": 7_524_042, "image_size": 128,
         "setting": "source 001: 128 px, 50 epochs, official CIFAR-10, best epoch on test, 1 run"},
    ],
}  # fmt: skip


def source_reported(name: str, image_size: int | None = None) -> list[dict]:
    """The source notebooks' numbers for a run name such as ``alexnet-triplet`` (at
    ``image_size`` only, when given), each with the setting it was measured in."""
    return [r for r in SOURCE_REPORTED.get(name, []) if image_size in (None, r["image_size"])]


def result_filename(row: dict) -> str:
    """The file a run's row is written to: named by its whole configuration."""
    return (
        f"{row['name']}-s{row['seed']}__{row['image_size']}px-{row['epochs']}ep-"
        f"{row['train_images']}img-{row.get('setting') or 'unknown'}.json"
    )


def write_result(
    metrics: dict, chapter: str, overwrite: bool = True, folder: Path | None = None, **extra
) -> Path:
    """Write a run's metrics (without the confusion matrix) for the leaderboard; the same run
    reported again (by another chapter, or re-executed) rewrites its own file only. With
    ``overwrite=False`` an existing row (and the chapter and notebook it names) is kept.
    ``folder`` replaces ``results/`` (a learner's own rows go beside the run cache)."""
    profile = metrics.get("profile") or "unknown"
    row = {k: v for k, v in metrics.items() if k != "confusion_matrix"}
    row.update(chapter=chapter, **extra)
    row.setdefault("notebook", os.environ.get(NOTEBOOK_ENV))
    row["source_reported"] = source_reported(row.get("name", ""))
    path = (folder or results_dir()) / profile / result_filename(row)
    if overwrite or not path.exists():
        atomic_write_json(row, path)
    return path


# fields a results row gained after rows were first written, with what every run of that time
# was trained with: a row without the field is read as having that value
RECORDED_LATER = {"augment": True}


def recorded(row: dict, key: str) -> object:
    """``row[key]``, or for a row written before ``key`` was recorded its value at that time
    (:data:`RECORDED_LATER`), else None."""
    return row.get(key, RECORDED_LATER.get(key))


# results/archive/<profile>-<recipe>-<date>/: the rows of recipes the course no longer trains
# (results/archive/README.md says what each was and what replaced it); read only when asked for
ARCHIVE = "archive"
# files under results/ that hold other things than one run's row (a list of interventions rows)
NOT_RUN_ROWS = ("interventions-", "gates-")


def read_results(folder: str | Path | None = None, include_archive: bool = False) -> list[dict]:
    """Every results file under ``folder`` (default ``results/``), each with its ``file``;
    an unreadable file gives a row with an ``error`` instead of stopping the reader. Rows under
    an ``archive/`` folder (superseded recipes) are left out unless ``include_archive``; to read
    only those, use :func:`read_archive`."""
    folder = Path(folder or results_dir())
    rows = []
    for path in sorted(folder.rglob("*.json")):
        if not include_archive and ARCHIVE in path.relative_to(folder).parts[:-1]:
            continue
        if path.name.startswith(NOT_RUN_ROWS):
            continue
        try:
            row = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            row = {"error": f"not readable JSON ({err})"}
        if not isinstance(row, dict):
            row = {"error": "not a JSON object"}
        row["file"] = str(path.relative_to(folder))
        rows.append(row)
    return rows


def archive_dir(folder: str | Path | None = None) -> Path:
    """``results/archive/`` (under ``folder`` when given, else :func:`results_dir`)."""
    return Path(folder or results_dir()) / ARCHIVE


def archived_recipes(folder: str | Path | None = None) -> list[str]:
    """The archive's folders, one per superseded recipe, e.g.
    ``quick-128px-5ep-16000img-2026-12-02`` (profile, recipe, the day it was superseded)."""
    root = archive_dir(folder)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def read_archive(recipe: str | None = None, folder: str | Path | None = None) -> list[dict]:
    """The archived rows of one superseded recipe (its folder under ``results/archive/``, see
    :func:`archived_recipes`), or of all of them; ``file`` is relative to ``results/`` and
    ``archive`` names the folder. Explicitly asked for: no other reader sees these rows."""
    names = archived_recipes(folder) if recipe is None else [recipe]
    rows = []
    for name in names:
        path = archive_dir(folder) / name
        if not path.is_dir():
            raise FileNotFoundError(
                f"no archived recipe {name!r} under {archive_dir(folder)}; "
                f"archived: {', '.join(archived_recipes(folder)) or 'none'}"
            )
        for row in read_results(path):
            row.update(file=f"{ARCHIVE}/{name}/{row['file']}", archive=name)
            rows.append(row)
    return rows


def read_row_list(path: str | Path, keys: tuple[str, ...], what: str) -> list[dict]:
    """The rows of a results file that holds a JSON list of rows, each with ``keys`` ([] when
    the file does not exist); anything else is refused, naming the file and how to restore it."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not readable JSON ({err}); restore it with git") from err
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(k in r for k in keys) for r in rows
    ):
        raise ValueError(f"{path} is not a list of {what}; restore it with git")
    return rows


def merge_row_list(
    rows: list[dict], path: str | Path, key: tuple[str, ...], existing: list[dict], order
) -> Path:
    """Write ``existing`` rows with ``rows`` merged in (a row replaces the one with the same
    ``key``), sorted by ``order(row)``, atomically."""
    merged = {tuple(r[k] for k in key): r for r in existing}
    merged.update({tuple(r[k] for k in key): r for r in rows})
    atomic_write_json(sorted(merged.values(), key=order), Path(path))
    return Path(path)
