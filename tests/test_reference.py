"""The committed rows a reading quotes: found by setting, refused when missing or ambiguous."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from course_lib.experiments.reference import MissingReference, committed, matches
from course_lib.experiments.stats import compare_to_baseline
from course_lib.profiles import get_profile

QUICK = get_profile("quick")


def _row(name: str, seed: int, accuracy: float, curve: list[float], **changes) -> dict:
    row = {
        "name": name, "seed": seed, "accuracy": accuracy, "val_accuracy_per_epoch": curve,
        "profile": "quick", "image_size": QUICK.image_size, "epochs": QUICK.epochs,
        "schedule_epochs": QUICK.schedule_epochs, "train_images": QUICK.train_subset,
        "batch_size": QUICK.batch_size, "lr": QUICK.lr, "device": "CPU (2 threads, x86_64)",
        "threads": 2, "precision": "bf16", "git_commit": "abc", "data_source": "CIFAR-10 test",
    }  # fmt: skip
    row.update(changes)
    return row


def _write(folder, rows: list[dict]) -> None:
    (folder / "quick").mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        (folder / "quick" / f"{row['name']}-{i}.json").write_text(json.dumps(row))


def test_the_rows_at_the_profile_setting_are_found_and_compared(tmp_path):
    plain = {42: 0.50, 43: 0.52, 44: 0.51}
    ta = {42: 0.53, 43: 0.56, 44: 0.52}
    rows = [_row("alexnet-none", s, a, [0.3, a]) for s, a in plain.items()]
    rows += [_row("alexnet-triplet", s, a, [0.2, a]) for s, a in ta.items()]
    rows.append(_row("alexnet-triplet", 42, 0.99, [0.1, 0.99], epochs=5, schedule_epochs=5))
    _write(tmp_path, rows)
    ref = committed(QUICK, {"A": "alexnet-none", "TA": "alexnet-triplet"}, folder=tmp_path)
    assert ref.accuracy("TA") == ta, "the 5-epoch row of another setting is not read"
    d = ref.differences([("TA", "A")])["TA − A"]
    (expected,) = compare_to_baseline({"A": plain, "TA": ta}, "A")
    assert math.isclose(d.diff, expected.diff) and math.isclose(d.p_holm, expected.p_holm)
    first = ref.differences([("TA", "A")], epoch=1)["TA − A"]
    assert math.isclose(first.diff, -0.1)
    assert ref.curve("A") == pytest.approx([0.3, 0.51])
    assert "seeds 42-44 (3 per network)" in ref.provenance()


def test_holm_runs_over_the_pairs_given(tmp_path):
    rows = [_row("alexnet-none", s, 0.50 + s / 1000, [0.5]) for s in (42, 43, 44, 45)]
    rows += [_row("alexnet-triplet", s, 0.52 + s / 900, [0.5]) for s in (42, 43, 44, 45)]
    rows += [_row("alexnet-batchnorm", s, 0.51 + (s % 2) / 100, [0.5]) for s in (42, 43, 44, 45)]
    _write(tmp_path, rows)
    names = {"A": "alexnet-none", "TA": "alexnet-triplet", "BN": "alexnet-batchnorm"}
    ref = committed(QUICK, names, folder=tmp_path)
    one = ref.differences([("TA", "A")])["TA − A"]
    three = ref.differences([("TA", "A"), ("BN", "A"), ("TA", "BN")])["TA − A"]
    assert one.p_holm == one.p and three.p_holm >= one.p and three.alpha <= 0.05 / 2


def test_a_network_trained_over_more_seeds_is_read_over_the_profiles_seeds(tmp_path):
    # chapter 02 trains the BatchNorm control over eight seeds; chapter 05 compares it with
    # AlexNet-PSA over three at the same setting: both must be read over those three
    three = dataclasses.replace(QUICK, seeds=(42, 43, 44))
    rows = [_row("alexnet-batchnorm", s, 0.50 + s / 1000, [0.5]) for s in range(42, 50)]
    rows += [_row("alexnet-psa", s, 0.40, [0.4]) for s in (42, 43, 44)]
    _write(tmp_path, rows)
    ref = committed(three, {"BN": "alexnet-batchnorm", "PSA": "alexnet-psa"}, folder=tmp_path)
    assert ref.seeds("BN") == [42, 43, 44] and ref.summary("BN").n == 3
    assert "seeds 42-44 (3 per network)" in ref.provenance()
    assert committed(QUICK, {"BN": "alexnet-batchnorm"}, folder=tmp_path).summary("BN").n == 8
    # a network whose runs have not all landed is counted as such, not as the others
    uneven = committed(QUICK, {"BN": "alexnet-batchnorm", "PSA": "alexnet-psa"}, folder=tmp_path)
    assert "seeds 42-49 (BN 8, PSA 3)" in uneven.provenance()


def test_missing_and_ambiguous_rows_are_refused_with_what_to_do(tmp_path):
    _write(tmp_path, [_row("alexnet-none", 42, 0.5, [0.5])])
    with pytest.raises(MissingReference, match="run-notebooks --profile quick"):
        committed(QUICK, {"TA": "alexnet-triplet"}, folder=tmp_path)
    _write(tmp_path, [_row("alexnet-none", 42, 0.5, [0.5]), _row("alexnet-none", 42, 0.6, [0.6])])
    (tmp_path / "quick" / "alexnet-none-9.json").write_text(
        json.dumps(_row("alexnet-none", 42, 0.7, [0.7]))
    )
    with pytest.raises(MissingReference, match="two committed rows"):
        committed(QUICK, {"A": "alexnet-none"}, folder=tmp_path)


def test_a_row_matches_only_its_own_setting():
    row = _row("alexnet-none", 42, 0.5, [0.5])
    assert matches(row, QUICK)
    assert not matches({**row, "schedule_epochs": 6}, QUICK)
    assert not matches({**row, "lr": 5e-4}, QUICK)
    assert not matches({**row, "profile": "smoke"}, QUICK)
    # augmentation: rows from before it was recorded were trained with it
    assert matches({**row, "augment": True}, QUICK)
    assert not matches({**row, "augment": False}, QUICK)
    assert matches({**row, "augment": False}, dataclasses.replace(QUICK, augment=False))


def test_ahead_pairs_by_seed_and_the_median_time_is_the_middle_for_any_count(tmp_path):
    # rows written in a different seed order for each network: zip by position would pair wrongly
    plain = {42: 0.50, 43: 0.60, 44: 0.40, 45: 0.55}
    ta = {45: 0.54, 44: 0.45, 43: 0.61, 42: 0.49}
    times = {42: 100.0, 43: 400.0, 44: 200.0, 45: 300.0}
    rows = [_row("alexnet-none", s, a, [a], train_time_s=times[s]) for s, a in plain.items()]
    rows += [_row("alexnet-triplet", s, a, [a], train_time_s=7.0) for s, a in ta.items()]
    _write(tmp_path, rows)
    seeds = dataclasses.replace(QUICK, seeds=(42, 43, 44, 45))
    ref = committed(seeds, {"A": "alexnet-none", "TA": "alexnet-triplet"}, folder=tmp_path)
    assert ref.ahead("TA", "A") == 2  # seeds 43 and 44
    assert ref.ahead("A", "TA") == 2
    assert ref.median_train_time("A") == 250.0  # mean of the middle two of four
    assert ref.median_train_time("TA") == 7.0
