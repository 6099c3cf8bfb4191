"""The one family of confirmatory comparisons: read, judged with Holm over all of it."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from course_lib.experiments.hypotheses import (
    Family,
    Hypothesis,
    format_family,
    judge_family,
    load_family,
)
from course_lib.experiments.stats import detectable_difference
from course_lib.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "hypotheses.toml"


def test_the_committed_family_reads_and_names_known_runs():
    family = load_family(COMMITTED)
    assert family.alpha == 0.05 and family.k == len(family.hypotheses) >= 11
    assert family.confirmatory_seeds == tuple(range(50, 58))
    assert family.exploratory_seeds == tuple(range(42, 50))
    for h in family.hypotheses:
        assert h.recipe().name == "quick"  # every recipe exists in its profile
    assert family.find("alexnet-triplet", "alexnet-none").id == "triplet-vs-alexnet"
    assert family.find("alexnet-none", "alexnet-triplet") is None  # exploratory


def test_the_family_was_committed_before_any_confirmatory_row():
    """The file's first commit precedes the first commit of every seed-50..57 row."""
    log = subprocess.run(
        ["git", "log", "--reverse", "--format=%H %ct", "--", "results/hypotheses.toml"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    if not log:
        pytest.skip("not a git checkout with history")
    family_time = int(log[1])
    for seed in range(50, 58):
        for row in (ROOT / "results" / "quick").glob(f"*-s{seed}__*.json"):
            first = subprocess.run(
                ["git", "log", "--reverse", "--format=%ct", "--", str(row)],
                cwd=ROOT, capture_output=True, text=True,
            ).stdout.split()  # fmt: skip
            assert not first or int(first[0]) >= family_time, row.name


def test_a_missing_or_broken_family_is_refused_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="hypotheses.toml is missing"):
        load_family(tmp_path / "hypotheses.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text(
        COMMITTED.read_text().replace('id = "simam-vs-alexnet"', 'id = "se-vs-alexnet"')
    )
    with pytest.raises(ValueError, match="share an id"):
        load_family(broken)


def row(name: str, seed: int, accuracy: float, **extra) -> dict:
    p = get_profile("quick")
    return {
        "name": name, "seed": seed, "accuracy": accuracy, "profile": "quick",
        "image_size": p.image_size, "epochs": p.epochs, "schedule_epochs": p.schedule_epochs,
        "train_images": p.train_subset, "batch_size": p.batch_size, "lr": p.lr, "augment": True,
        "test_images": 10_000, "precision": "fp32", "cpu_isa": "AVX2", "threads": 2, **extra,
    }  # fmt: skip


def family_of(pairs: list[tuple[str, str]], seeds=(50, 51, 52, 53)) -> Family:
    hypotheses = tuple(
        Hypothesis(f"h{i}", "02", "?", v, b, "quick", "alexnet") for i, (v, b) in enumerate(pairs)
    )
    return Family(0.05, 0.8, tuple(seeds), (42, 43), hypotheses)


GAINS = {"a": [0.03, 0.02, 0.04, 0.03], "b": [0.01, -0.01, 0.02, 0.0], "c": [0.0, 0.0, 0.01, -0.01]}


def rows_for(gains: dict[str, list[float]], seeds=(50, 51, 52, 53)) -> list[dict]:
    rows = [row("base", s, 0.5 + 0.01 * i) for i, s in enumerate(seeds)]
    for name, gain in gains.items():
        rows += [row(name, s, 0.5 + 0.01 * i + g) for i, (s, g) in enumerate(zip(seeds, gain))]
    return rows


def test_holm_runs_over_the_whole_family_and_detectable_differences_are_at_fixed_levels():
    family = family_of([("a", "base"), ("b", "base"), ("c", "base")])
    verdicts = judge_family(family, rows=rows_for(GAINS))
    a = verdicts[0]
    assert a.n_pairs == 4 and math.isclose(a.diff, 0.03)
    assert math.isclose(a.p_holm, min(1.0, 3 * a.p))  # the smallest of k = 3
    # the same design detects the same difference whatever the other comparisons found
    alone = judge_family(family_of([("a", "base")]), rows=rows_for({"a": GAINS["a"]}))[0]
    assert math.isclose(a.detectable, alone.detectable)
    sd = 0.00816496580927726  # of the differences 0.03, 0.02, 0.04, 0.03
    assert math.isclose(a.detectable, detectable_difference(sd, 4, 0.05), rel_tol=1e-6)
    assert math.isclose(
        a.detectable_strictest, detectable_difference(sd, 4, 0.05 / 3), rel_tol=1e-6
    )
    assert a.verdict == "significant" and verdicts[2].verdict == "not significant"
    assert "Holm over the family" in a.sentence() and "| a − base |" in format_family(verdicts)


def test_a_comparison_with_missing_seeds_is_pending_and_rejects_nothing():
    family = family_of([("a", "base"), ("b", "base")])
    rows = [r for r in rows_for(GAINS) if not (r["name"] == "b" and r["seed"] == 53)]
    a, b = judge_family(family, rows=rows)
    assert b.verdict == "pending (3 of 4 seed pairs)" and b.n_pairs == 3
    assert math.isclose(a.p_holm, min(1.0, 2 * a.p))  # b still counts in k, with p = 1


def test_rows_of_one_comparison_from_two_machine_kinds_are_refused():
    rows = rows_for({"a": GAINS["a"]})
    rows[-1]["cpu_isa"] = "AMX"
    with pytest.raises(ValueError, match="retrain them on one machine kind"):
        judge_family(family_of([("a", "base")]), rows=rows)


def test_exploratory_seeds_never_give_a_verdict_of_significance():
    family = family_of([("a", "base")], seeds=(60, 61))
    rows = rows_for({"a": GAINS["a"]}, seeds=(42, 43, 44, 45))
    (v,) = judge_family(family, "exploratory", rows=rows)
    assert v.n_pairs == 2 and v.verdict == "exploratory"


def test_the_family_command_prints_both_seed_sets(capsys):
    from course_lib.cli import main

    assert main(["family", "--file", str(COMMITTED)]) == 0
    out = capsys.readouterr().out
    assert "k = " in out and "exploratory seeds 42" in out and "confirmatory seeds 50" in out
    assert out.count("| alexnet-triplet − alexnet-none |") == 2


def test_the_readings_quote_the_familys_verdict_not_a_chapters_own(monkeypatch):
    from course_lib.experiments.hypotheses import judge_family
    from course_lib.runtime.paths import repo_root

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(repo_root() / "results"))  # the committed rows
    from course_lib.experiments.reference import committed

    ref = committed("quick", {"AlexNet": "alexnet-none", "AlexNet-TA": "alexnet-triplet",
                              "AlexNet-SimAM": "alexnet-simam"})  # fmt: skip
    own = ref.differences([("AlexNet-TA", "AlexNet"), ("AlexNet-SimAM", "AlexNet")])
    fam = ref.differences([("AlexNet-TA", "AlexNet"), ("AlexNet-SimAM", "AlexNet")], family=True)
    judged = {(v.hypothesis.variant, v.hypothesis.baseline): v
              for v in judge_family(which="exploratory")}  # fmt: skip
    for label, name in (("AlexNet-TA", "alexnet-triplet"), ("AlexNet-SimAM", "alexnet-simam")):
        d = fam[f"{label} − AlexNet"]
        assert d.p_holm == pytest.approx(
            judged[(name, "alexnet-none")].p_holm
        )  # Holm over all k, not over two
        assert d.p_holm > own[f"{label} − AlexNet"].p_holm
        assert d.verdict() == "exploratory" and not d.significant  # seeds 42-49 chose the profile
        assert "at the family's α/k" in d.sentence()
    per_epoch = ref.differences([("AlexNet-TA", "AlexNet")], epoch=1, family=True)
    assert per_epoch["AlexNet-TA − AlexNet"].verdict() == "exploratory"
