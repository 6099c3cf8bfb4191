"""Every guarded claim of every chapter's reading fails when the results it reads are moved.

``tests/test_readings.py`` shows that the chapters' check cells hold for the committed results;
a check that would hold for any result checks nothing. Here each chapter's reading and check
cells run once on the committed results and then once per mutation of what they read
(``tests/claim_mutations.py``: a compared variant's rows swapped with its baseline's, a paired
difference set to 0, negated or doubled, its p moved across 0.05, a learning curve made flat,
the seed-to-seed spread shrunk or widened, seeds dropped, accuracies shifted, every measured
field or findings entry perturbed, and for a reading of the images themselves (chapter 00) the
copy of CIFAR-10 moved: its channels reversed, its values inverted or shifted to ImageNet's
means, one class relabelled). Each claim, one by one, must fail under at least one of
them, unless :data:`SURVIVORS` lists it with the reason why no result can move it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from pathlib import Path

import jupytext
import pytest

from course_lib.experiments import stats

from . import claim_mutations as cm
from .test_readings import COMMITTED, SOURCES

# (chapter, reading, claim) -> why no mutation of the results makes it fail. The list is exact:
# a new claim that survives every mutation fails the test (write a claim the numbers can
# contradict, or list it here with its reason), and so does a listed claim that some mutation
# now kills (take it off the list).
SURVIVORS = {
    ("05", "chapter 05: summary", "EPSANet-50's parameters as in the paper"): (
        "restates a constant: the parameter count of EPSANet-50 as the course's code builds it "
        "(on the meta device, in the summary cell), compared with the paper's 22.56 M; it reads "
        "no result, so only a change of the model code can make it fail"
    ),
    ("06", "chapter 06: summary", "XT and T exactly as in the official code"): (
        "restates a constant: the parameter counts of MogaNet-XT and -T as the course's code "
        "builds them, compared with the official code's; it reads no result, so only a change "
        "of the model code can make it fail"
    ),
}


@functools.cache
def chapter_report(source: Path) -> cm.Report:
    return cm.report(source, COMMITTED)


def has_checks(source: Path) -> bool:
    cells = jupytext.read(source).cells
    return any("reading-check" in c.metadata.get("tags", []) for c in cells)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name[:2])
def test_every_claim_fails_under_some_mutation(source):
    report = chapter_report(source)
    assert not report.errors, f"{source.name} on the committed results: {report.errors}"
    assert bool(report.claims) == has_checks(source), f"{source.name}: checks without claims"
    chapter = source.name[:2]
    listed = {(reading, claim) for ch, reading, claim in SURVIVORS if ch == chapter}
    gone = listed - set(report.claims)
    assert not gone, f"listed in SURVIVORS but no longer claimed: {sorted(gone)}"
    new = report.survivors - listed
    assert not new, (
        f"{source.name}: claims that hold under all {report.mutations} mutations of their "
        "results, so they check nothing: " + "; ".join(f"{r}: {c!r}" for r, c in sorted(new))
    )
    killed = {claim: report.killed_by[claim] for claim in listed if report.killed_by[claim]}
    assert not killed, f"listed in SURVIVORS but now fail under a mutation: {killed}"


def test_the_survivors_say_why():
    for key, reason in SURVIVORS.items():
        assert len(key) == 3 and key[1].startswith(f"chapter {key[0]}:"), key
        assert len(reason) > 20, key


# --- the mutations themselves ------------------------------------------------------------------

SEEDS = (42, 43, 44, 45, 46)
BASE = {42: 0.50, 43: 0.52, 44: 0.49, 45: 0.51, 46: 0.50}
LEAD = {42: 0.02, 43: 0.035, 44: 0.01, 45: 0.03, 46: 0.025}


def rows() -> cm.Rows:
    def row(seed, acc):
        curves = {"val": [acc - 0.1, acc - 0.02], "train": [acc - 0.2, acc - 0.05]}
        return {"seed": seed, "accuracy": acc, "train_time_s": 100.0,
                **{f"{split}_accuracy_per_epoch": c for split, c in curves.items()}}  # fmt: skip

    return {
        "base": {s: row(s, BASE[s]) for s in SEEDS},
        "variant": {s: row(s, BASE[s] + LEAD[s]) for s in SEEDS},
    }


def difference(r: cm.Rows, epoch: int | None = None) -> stats.Difference:
    values = {n: {s: cm.quantity(row, epoch) for s, row in by.items()} for n, by in r.items()}
    return stats.paired_difference(values["variant"], values["base"])


def test_swap_flips_the_paired_difference():
    r, d = rows(), difference(rows())
    cm.swap(r, "variant", "base")
    assert difference(r).diff == pytest.approx(-d.diff)
    assert difference(r, epoch=1).diff == pytest.approx(-difference(rows(), epoch=1).diff)


@pytest.mark.parametrize("factor", [0.0, -1.0, 2.0])
def test_shift_difference_moves_the_mean_and_keeps_the_spread(factor):
    r, d = rows(), difference(rows())
    cm.shift_difference(r, "variant", "base", None, factor)
    moved = difference(r)
    assert moved.diff == pytest.approx(factor * d.diff, abs=1e-12)
    assert moved.sd == pytest.approx(d.sd)


@pytest.mark.parametrize("target", [0.2, 1e-4])
def test_scale_spread_moves_p_to_the_target(target):
    r, d = rows(), difference(rows())
    cm.scale_spread(r, "variant", "base", None, target)
    moved = difference(r)
    assert moved.p == pytest.approx(target, rel=1e-6)
    assert moved.diff == pytest.approx(d.diff)
    assert (moved.p < 0.05) == (target < 0.05)


@pytest.mark.parametrize("target", [0.2, 1e-4])
def test_a_stored_difference_moves_as_its_pairs_would(target):
    d = difference(rows())
    record = dataclasses.asdict(d)
    cm.scale_spread_record(record, target)
    r = rows()
    cm.scale_spread(r, "variant", "base", None, target)
    moved = difference(r)
    for key in ("diff", "low", "high", "p", "p_holm", "sd"):
        expected = moved.p if key == "p_holm" else getattr(moved, key)
        assert record[key] == pytest.approx(expected, rel=1e-6), key
    for factor in (0.0, -1.0):
        record = dataclasses.asdict(d)
        cm.shift_difference_record(record, factor)
        assert record["diff"] == pytest.approx(factor * d.diff, abs=1e-12)
        assert record["low"] <= record["diff"] <= record["high"]
        if factor == 0.0:
            assert not stats.Difference(**record).significant


def test_flatten_keeps_the_last_value():
    r = rows()
    cm.flatten(r, "base", "train")
    assert all(len(set(row["train_accuracy_per_epoch"])) == 1 for row in r["base"].values())
    last = rows()["base"][42]["train_accuracy_per_epoch"][-1]
    assert r["base"][42]["train_accuracy_per_epoch"][-1] == last


def test_seed_spread_levels_and_seeds():
    r = rows()
    cm.scale_seed_spread(r, 0.1)
    accs = [row["accuracy"] for row in r["base"].values()]
    assert statistics.stdev(accs) == pytest.approx(0.1 * statistics.stdev(BASE.values()))
    assert statistics.fmean(accs) == pytest.approx(statistics.fmean(BASE.values()))
    assert r["base"][42]["seed"] == 42, "the setting stays"
    r = rows()
    cm.shift_levels(r, -0.2)
    assert r["base"][42]["accuracy"] == pytest.approx(0.30)
    assert r["base"][42]["val_accuracy_per_epoch"][0] == pytest.approx(0.20)
    assert difference(r).diff == pytest.approx(difference(rows()).diff)
    cm.drop_seeds(r, 3)
    assert sorted(r["variant"]) == [42, 43, 44]


def test_perturb_reaches_every_number_and_nothing_else():
    value = {"a": [1, 2.0, {"b": -3}], "name": "x", "on": True, "missing": math.nan}
    moved = cm.perturb(value, lambda x: x * 10)
    assert moved["a"] == [10, 20.0, {"b": -30}]
    assert moved["name"] == "x" and moved["on"] is True and math.isnan(moved["missing"])
    assert cm.has_numbers(value) and not cm.has_numbers({"name": "x", "on": True})


def test_the_cached_detectable_difference_is_the_library_s():
    for sd, n, alpha in ((0.012, 8, 0.05), (0.03, 3, 0.0125), (0.1, 40, 0.025)):
        assert cm._cached_detectable(sd, n, alpha) == pytest.approx(
            stats.detectable_difference(sd, n, alpha), abs=1e-9
        )
    assert math.isnan(cm._cached_detectable(0.0, 8)) and math.isnan(cm._cached_detectable(1, 1))
