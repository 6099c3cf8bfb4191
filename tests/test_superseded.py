"""Superseded recipes leave the headline: ``results/quick/`` holds one recipe per variant, the one
its chapter trains today; rows of earlier recipes live in ``results/archive/``, which the
leaderboard never reads and the archive page lists, labelled as superseded."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import defaultdict
from pathlib import Path

from course_lib.experiments.leaderboard import (
    build_archive,
    build_leaderboard,
    format_archive,
    not_trained,
)
from course_lib.experiments.reference import is_current, matches
from course_lib.experiments.results import (
    archived_recipes,
    read_archive,
    read_results,
    result_filename,
)
from course_lib.profiles import experiment_settings, get_profile
from course_lib.variants import CHAPTER_VARIANTS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
QUICK = get_profile("quick")
# recipes quick no longer trains, as its result files name them (results/archive/README.md)
SUPERSEDED = ("128px-5ep-16000img", "128px-3ep-8000img", "32px-3ep-10000img")


def _quick_rows() -> list[dict]:
    return [r for r in read_results(RESULTS / "quick") if "error" not in r]


def _recipe_of(name: str):
    """The setting quick trains a run name at today: AlexNet's (chapters 01-05) or its chapter
    05-07 experiment's; None for a name no chapter trains."""
    if name.startswith("alexnet-"):
        return QUICK
    for variants in CHAPTER_VARIANTS.values():
        for v in variants:
            if (v.name or f"{v.model}-{v.attention or 'none'}") == name:
                return experiment_settings(QUICK, v.experiment)
    return None


def test_quick_holds_one_recipe_per_variant_the_one_its_chapter_trains():
    settings = defaultdict(set)
    for row in _quick_rows():
        # one recipe per variant and machine kind: the confirmatory seeds trained on a CPU
        # without native bf16 resolve "auto" to fp32, a setting of their own (same recipe)
        settings[row["name"], row.get("precision")].add(row["file"].split("__")[1])
        recipe = _recipe_of(row["name"])
        assert recipe is not None, f"{row['file']}: quick trains no variant called {row['name']}"
        assert matches(row, recipe), f"{row['file']} is not at the recipe its chapter trains"
    assert {"alexnet-none", "alexnet-triplet", "cifar_resnet-none", "moganet_shallow"} <= {
        name for name, _ in settings
    }
    several = {name: sorted(found) for name, found in settings.items() if len(found) > 1}
    assert not several, f"more than one recipe (setting) per variant in results/quick/: {several}"


def test_nothing_in_quick_is_of_a_superseded_recipe():
    for row in _quick_rows():
        file = row["file"]
        assert is_current(row), f"{file}: a superseded recipe; move it to results/archive/"
        assert not any(f"__{recipe}-" in file for recipe in SUPERSEDED), file
        assert file == result_filename(row), f"{file} is not named by its configuration"


def test_every_superseded_recipe_has_its_archive_folder_and_entry():
    folders = archived_recipes(RESULTS)
    page = (RESULTS / "archive" / "README.md").read_text()
    for folder in folders:
        assert f"`{folder}/`" in page, f"results/archive/README.md does not describe {folder}"
    for recipe in SUPERSEDED:
        (folder,) = [f for f in folders if f.startswith(f"quick-{recipe}-")]
        assert re.fullmatch(rf"quick-{recipe}-\d{{4}}-\d\d-\d\d", folder)
        rows = read_archive(folder, folder=RESULTS)
        assert rows and all(r["archive"] == folder for r in rows)
        assert all(not is_current(r) for r in rows if "error" not in r and r.get("name"))
        assert all(f"__{recipe}-" in r["file"] for r in rows)


def test_the_leaderboard_reads_no_archived_row():
    for board in (
        build_leaderboard(RESULTS, profile="quick", current_only=True),
        build_leaderboard(RESULTS, profile="quick"),
        build_leaderboard(RESULTS),  # every profile's folder: results/archive/ is still not read
    ):
        rows = [r for s in board.sections + board.superseded for e in s.entries for r in e.rows]
        assert rows and not [r["file"] for r in rows if "archive" in Path(r["file"]).parts]
    headline = build_leaderboard(RESULTS, profile="quick", current_only=True)
    assert all(is_current(r) for e in headline.entries for r in e.rows)
    assert not [r["file"] for s in headline.superseded for e in s.entries for r in e.rows]


def test_the_committed_headline_holds_the_current_recipes_only():
    """results/leaderboard-quick.md (chapter 09; the README's table is copied from it) has one
    section per current recipe and none of a superseded one."""
    written = (RESULTS / "leaderboard-quick.md").read_text().split("<!-- notes -->")[0]
    titles = re.findall(r"^\*\*(quick: .*)\*\*$", written, re.M)
    board = build_leaderboard(RESULTS, profile="quick", current_only=True)
    assert titles == [s.title() for s in board.sections]
    for s in build_archive(RESULTS).sections:
        assert s.title() not in titles, f"a superseded section in the headline: {s.title()}"


def test_the_archive_page_lists_the_superseded_rows_as_generated():
    spec = importlib.util.spec_from_file_location(
        "update_archive_page", ROOT / "scripts" / "update_archive_page.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = (RESULTS / "archive" / "README.md").read_text()
    block = script.BLOCK.search(page)
    assert block, "results/archive/README.md has no archive block"
    assert page[block.start(1) : block.start(2)] == "<!-- archive:start -->\n" + script.generated(
        results=RESULTS
    ), "the archive page differs from the rows: python scripts/update_archive_page.py"
    archived = build_archive(RESULTS)
    text = format_archive(archived)
    assert text.count("### Superseded:") == len(archived.sections) >= len(SUPERSEDED)
    files = {r["file"] for e in archived.entries for r in e.rows}
    assert files and all(f.startswith("archive/") for f in files)
    # no family judges a superseded recipe: its comparisons are intervals, never "significant"
    verdicts = {e.vs_baseline.verdict() for e in archived.entries if e.vs_baseline is not None}
    assert verdicts == {"superseded: exploratory"}
    assert "significant" not in text


def _row(folder: Path, name: str, seed: int, accuracy: float, **changes) -> None:
    row = {
        "name": name, "seed": seed, "accuracy": accuracy, "profile": "quick",
        "image_size": QUICK.image_size, "epochs": QUICK.epochs,
        "schedule_epochs": QUICK.schedule_epochs, "train_images": QUICK.train_subset,
        "val_images": 5000, "batch_size": QUICK.batch_size, "lr": QUICK.lr, "precision": "bf16",
        "data_source": "test", "setting": f"{name}-x",
    }  # fmt: skip
    row.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-s{seed}-{row['epochs']}.json").write_text(json.dumps(row))


def test_archived_rows_are_read_only_when_asked_for(tmp_path):
    for seed, (a, b) in enumerate([(0.50, 0.55), (0.52, 0.56), (0.51, 0.53)]):
        _row(tmp_path / "quick", "alexnet-none", seed, a)
        _row(tmp_path / "quick", "alexnet-triplet", seed, b)
        _row(tmp_path / "quick", "alexnet-se", seed, b, epochs=5, schedule_epochs=None)
        _row(tmp_path / "archive" / "quick-old-2026-01-01", "alexnet-se", seed, a, epochs=4)
    assert len(read_results(tmp_path)) == 9
    assert len(read_results(tmp_path, include_archive=True)) == 12
    archived = read_archive("quick-old-2026-01-01", folder=tmp_path)
    assert {r["archive"] for r in archived} == {"quick-old-2026-01-01"}
    assert all(r["file"].startswith("archive/quick-old-2026-01-01/") for r in archived)

    board = build_leaderboard(tmp_path, profile="quick", current_only=True)
    assert [e.name for e in board.entries] == ["alexnet-none", "alexnet-triplet"]
    ((superseded_se,),) = [s.entries for s in board.superseded]
    assert superseded_se.name == "alexnet-se" and superseded_se.config["epochs"] == 5
    assert "3 runs at 1 setting(s) the profile does not train today" in " ".join(board.notes())
    # a variant quick does not train is not "missing" from its headline
    assert {"moganet_xt", "vgg16_bn", "vgg16_bn-self_attention"} <= not_trained("quick")
    assert not {"moganet_xt", "vgg16_bn"} & set(board.missing)
    assert "alexnet-simam" in board.missing
    # without current_only everything in results/quick/ is a section, the archive still unread
    assert len(build_leaderboard(tmp_path, profile="quick").sections) == 2

    archive = build_archive(tmp_path)
    assert sorted(s.config["epochs"] for s in archive.sections) == [4, 5]
    assert "`results/archive/quick-old-2026-01-01/` (3 runs)" in format_archive(archive)
    assert "`results/quick/` (3 runs, kept there" in format_archive(archive)
