"""Learner mode's reproduction check: the learner's run against the course's committed runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_lib.learner import CourseRowError, check_your_run, course_rows, plot_your_run
from course_lib.profiles import get_profile

RESULTS = Path(__file__).resolve().parents[1] / "results"
QUICK = get_profile("quick")


def test_the_course_rows_are_the_committed_rows_of_the_recipe():
    rows = course_rows(QUICK, "alexnet-triplet", folder=RESULTS)
    assert sorted(rows) == list(range(42, 50))
    # AlexNet also has rows of a superseded recipe (5 epochs) and of confirmatory seeds: not these
    plain = course_rows(QUICK, "alexnet-none", folder=RESULTS)
    assert sorted(plain) == list(range(42, 50)) and {r["epochs"] for r in plain.values()} == {6}


@pytest.fixture
def results_copy(tmp_path):
    folder = tmp_path / "results" / "quick"
    folder.mkdir(parents=True)
    for path in (RESULTS / "quick").glob("alexnet-triplet-s4*__128px-6ep-*.json"):
        shutil.copy(path, folder / path.name)
    return tmp_path / "results"


def test_a_missing_row_is_one_line_naming_the_file_and_the_command(results_copy):
    victim = next((results_copy / "quick").glob("alexnet-triplet-s45__*.json"))
    victim.unlink()
    with pytest.raises(CourseRowError) as err:
        course_rows(QUICK, "alexnet-triplet", folder=results_copy)
    message = str(err.value)
    assert "\n" not in message and "alexnet-triplet-s45__128px-6ep-" in message
    assert "python -m course_lib train --profile quick --model alexnet --attention triplet " \
        "--seed 45" in message  # fmt: skip


def test_a_corrupt_row_is_refused_naming_it(results_copy):
    victim = next((results_copy / "quick").glob("alexnet-triplet-s43__*.json"))
    victim.write_text("{ truncated")
    with pytest.raises(CourseRowError, match=f"{victim.name}: not readable JSON.*--seed 43"):
        course_rows(QUICK, "alexnet-triplet", folder=results_copy)


def test_two_rows_of_one_seed_are_refused(results_copy):
    victim = next((results_copy / "quick").glob("alexnet-triplet-s44__*.json"))
    shutil.copy(victim, victim.with_name("alexnet-triplet-s44__copy.json"))
    with pytest.raises(CourseRowError, match="a second committed row of alexnet-triplet seed 44"):
        course_rows(QUICK, "alexnet-triplet", folder=results_copy)


def test_your_run_is_bit_identical_inside_or_outside_and_says_what_differs():
    course = course_rows(QUICK, "alexnet-triplet", folder=RESULTS)
    same = dict(course[42])
    result = check_your_run(same, course)
    assert result.status == "bit-identical"
    assert result.line().startswith("Your run (seed 42)") and "bit-identical" in result.line()

    accuracies = sorted(r["accuracy"] for r in course.values())
    inside = {**same, "accuracy": (accuracies[0] + accuracies[-1]) / 2, "cpu_isa": "AVX2",
              "precision": "fp32"}  # fmt: skip
    result = check_your_run(inside, course)
    assert result.status == "inside" and "not bit-identical" in result.line()
    assert "CPU kind (AVX2 here, not recorded there)" in result.line()
    assert "precision (fp32 here, bf16 there)" in result.line()

    outside = {**same, "accuracy": accuracies[-1] + 0.05}
    result = check_your_run(outside, course)
    assert result.status == "outside" and "outside the course's range over 8 seeds" in result.line()
    assert "nothing recorded differs" in result.line()  # same machine fields: look at the code

    # against a row trained on an AVX2 CPU, a bigger CPU is told how to run its kernels
    avx2_row = {**same, "cpu_isa": "AVX2", "precision": "fp32"}
    mine = {**same, "accuracy": (accuracies[0] + accuracies[-1]) / 2, "cpu_isa": "AVX512-BF16"}
    line = check_your_run(mine, {**course, 42: avx2_row}).line()
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in line and "train in fp32" in line
    assert "ONEDNN_MAX_CPU_ISA" not in check_your_run(inside, course).line()

    curve_differs = {**same, "val_accuracy_per_epoch": [0.1] * 6}
    assert check_your_run(curve_differs, course).status != "bit-identical"


def test_the_learners_run_is_drawn_over_the_course():
    course = course_rows(QUICK, "alexnet-triplet", folder=RESULTS)
    fig = plot_your_run(json.loads(json.dumps(course[42])), course, "AlexNet-TA")
    curve, dots = fig.axes
    assert len(curve.lines) == 2 and curve.get_ylim()[0] == 10
    low, high = dots.get_ylim()  # zoomed to the dots, every one of them inside
    accuracies = [r["accuracy"] * 100 for r in course.values()]
    assert low < min(accuracies) and max(accuracies) < high and high - low < 30
    assert len(dots.get_xticks()) == 8
