"""Learner mode in the chapters: the main seed trained here, the statistics from the course's
committed rows, the learner's run checked against them; all seeds on request or on CUDA."""

from __future__ import annotations

import json
import math

import pytest
import torch

from course_lib import chapter, learner
from course_lib.experiments.results import result_filename
from course_lib.learner import CourseRowError, SeedRuns
from course_lib.profiles import get_profile

SEEDS = (42, 43, 44)


@pytest.fixture(autouse=True)
def no_mode_left_behind(monkeypatch):
    """chapter.start() sets a module-wide mode: each test starts without one."""
    monkeypatch.setattr(chapter, "_ALL_SEEDS", None)


@pytest.fixture
def committed_smoke(tmp_path, monkeypatch):
    """A results folder in which the smoke profile has committed rows of AlexNet and AlexNet-TA
    (three seeds each), and smoke counted among the committed profiles."""
    monkeypatch.setattr(learner, "COMMITTED_PROFILES", ("smoke",))
    P = get_profile("smoke", seeds=SEEDS)
    folder = tmp_path / "results" / "smoke"
    folder.mkdir(parents=True)
    accuracy = {"alexnet-none": [0.30, 0.32, 0.31], "alexnet-triplet": [0.35, 0.36, 0.38]}
    for name, values in accuracy.items():
        for seed, acc in zip(SEEDS, values, strict=True):
            row = {
                "name": name, "model": "alexnet", "attention": name.split("-")[1], "seed": seed,
                "profile": "smoke", "image_size": P.image_size, "epochs": P.epochs,
                "train_images": P.train_subset, "batch_size": P.batch_size, "lr": P.lr,
                "augment": P.augment, "accuracy": acc, "test_images": 256, "setting": "fake",
                "val_accuracy_per_epoch": [acc - 0.01], "train_accuracy_per_epoch": [acc - 0.05],
                # fp16: a precision no CPU run resolves to, so the learner's run differs in it
                # on every machine (bf16 did not on a CPU with native bf16)
                "device": "CPU (2 threads, x86_64)", "precision": "fp16", "cpu_isa": "AMX",
                "threads": 2, "git_commit": "abcdef123456",
            }  # fmt: skip
            (folder / result_filename(row)).write_text(json.dumps(row))
    return P


def test_learner_mode_trains_the_main_seed_and_takes_the_statistics_from_the_course(
    committed_smoke, cifar_small, capsys, tmp_path
):
    P = chapter.start("smoke", all_seeds=False, seeds=list(SEEDS))
    assert "learner mode" not in capsys.readouterr().out  # said by the first training
    plain = chapter.train_variant(cifar_small, P, attention=None, progress=False)
    ta = chapter.train_variant(cifar_small, P, attention="triplet", progress=False)
    printed = capsys.readouterr().out
    assert printed.count("learner mode: trains seed 42") == 1
    assert printed.count("Your run (seed 42)") == 2
    assert isinstance(ta, SeedRuns) and len(ta) == 1 and ta[0].metrics["seed"] == 42
    assert [r.metrics["seed"] for r in ta.course] == list(SEEDS)
    assert ta.check.status in ("inside", "outside") and "precision" in ta.check.differences
    comparison = chapter.compare_variants({"AlexNet": plain, "AlexNet-TA": ta}, "AlexNet")
    # the course's rows, not the learner's single run: three seeds, their mean
    assert comparison.summaries["AlexNet-TA"].n == 3
    assert math.isclose(comparison.summaries["AlexNet-TA"].mean, (0.35 + 0.36 + 0.38) / 3)
    d = comparison.differences["AlexNet-TA"]
    assert d.n_pairs == 3 and math.isclose(d.diff, 0.16 / 3, abs_tol=1e-9)
    assert d.verdict() == "exploratory"  # smoke is no recipe of the family
    assert "The course's committed runs" in comparison.table()
    # the learner's row goes beside the run cache; the committed rows are not touched
    before = sorted(p.read_text() for p in (tmp_path / "results" / "smoke").glob("*.json"))
    line = chapter.report(ta[0], "02_triplet_attention")
    assert "your-results" in line
    assert sorted(p.read_text() for p in (tmp_path / "results" / "smoke").glob("*.json")) == before
    # outside a chapter (the CLI's train --write-result) the row is the course's
    chapter._ALL_SEEDS = None
    assert "your-results" not in chapter.report(ta[0], "02_triplet_attention")
    assert len(list((tmp_path / "results" / "smoke").glob("*.json"))) == len(before) + 1


def test_learner_mode_refuses_a_missing_course_row_in_one_line(committed_smoke, cifar_small):
    P = chapter.start("smoke", all_seeds=False, seeds=list(SEEDS))
    with pytest.raises(CourseRowError) as err:
        chapter.train_variant(cifar_small, P, attention="simam", progress=False)
    assert "\n" not in str(err.value) and "--attention simam --seed 42" in str(err.value)


def test_all_seeds_trains_every_seed_and_uses_its_own_runs(committed_smoke, cifar_small, capsys):
    P = chapter.start("smoke", all_seeds=True, seeds=[42, 43])
    runs = chapter.train_variant(cifar_small, P, attention=None, progress=False)
    assert [r.metrics["seed"] for r in runs] == [42, 43] and runs.course is None
    printed = capsys.readouterr().out
    assert "all seeds: trains seeds [42, 43]" in printed and "Your run" not in printed
    comparison = chapter.compare_variants({"AlexNet": runs}, "AlexNet")
    assert comparison.summaries["AlexNet"].n == 2 and not comparison.course


def test_a_profile_without_committed_rows_trains_every_seed(cifar_small):
    assert not learner.learner_mode(get_profile("smoke"), all_seeds=False)
    assert learner.learner_mode(get_profile("quick"), all_seeds=False)
    assert not learner.learner_mode(get_profile("quick"), all_seeds=True)


def test_the_default_is_learner_mode_on_a_cpu_and_all_seeds_on_cuda(monkeypatch):
    monkeypatch.delenv(learner.ALL_SEEDS_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert learner.default_all_seeds() is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a dry run of a GPU machine
    assert learner.default_all_seeds() is True
    monkeypatch.setenv(learner.ALL_SEEDS_ENV, "0")
    assert learner.default_all_seeds() is False
    monkeypatch.setenv(learner.ALL_SEEDS_ENV, "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert learner.default_all_seeds() is True
    monkeypatch.setenv(learner.ALL_SEEDS_ENV, "sometimes")
    with pytest.raises(ValueError, match="use 1 .all seeds. or 0"):
        learner.default_all_seeds()


def test_run_notebooks_all_seeds_reaches_the_kernels(monkeypatch):
    from course_lib import cli, notebook_runner

    seen = {}

    def fake_run(profile, **kwargs):
        import os

        seen["env"] = os.environ.get(learner.ALL_SEEDS_ENV)
        return []

    monkeypatch.setenv(learner.ALL_SEEDS_ENV, "0")  # restored after the test
    monkeypatch.setattr(notebook_runner, "run_notebooks", fake_run)
    monkeypatch.setattr(
        "course_lib.data.load_cifar10", lambda *a, **k: type("D", (), {"source": "x"})
    )
    assert cli.main(["run-notebooks", "--profile", "smoke", "--only", "02", "--all-seeds"]) == 0
    assert seen["env"] == "1"
