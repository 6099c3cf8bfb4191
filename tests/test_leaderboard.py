"""The leaderboard: aggregation over seeds, Welch's test, missing and duplicate results."""

from __future__ import annotations

import json
import statistics

import pytest

from course_lib.leaderboard import build_leaderboard, format_markdown
from course_lib.stats import welch_test


def _write(folder, name, seed, accuracy, profile="quick", **extra):
    row = dict(name=name, seed=seed, accuracy=accuracy, image_size=64, epochs=5, profile=profile)
    row.update(train_images=50000, data_source="test", params=10, device="cpu")
    row.update(train_images_per_s=100.0, inference_images_per_s=300.0)
    row.update(extra)
    path = folder / profile / f"{name}-s{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return path


def test_aggregates_seeds_and_reports_missing_and_duplicates(tmp_path):
    base = [0.60, 0.62, 0.61]
    ta = [0.70, 0.71, 0.69]
    for seed, (a, b) in enumerate(zip(base, ta)):
        _write(tmp_path, "alexnet-none", seed, a)
        _write(tmp_path, "alexnet-triplet", seed, b)
    dup = tmp_path / "quick" / "copy-of-ta.json"
    dup.write_text((tmp_path / "quick" / "alexnet-triplet-s0.json").read_text())
    (tmp_path / "quick" / "broken.json").write_text(json.dumps({"name": "x"}))
    (tmp_path / "quick" / "not-json.json").write_text("{")
    _write(tmp_path, "alexnet-se", 0, 0.9, profile="paper")  # another profile: not mixed in

    board = build_leaderboard(tmp_path, profile="quick", expected=["alexnet-none", "alexnet-simam"])
    by_name = {e.name: e for e in board.entries}
    assert set(by_name) == {"alexnet-none", "alexnet-triplet"}
    ta_entry = by_name["alexnet-triplet"]
    assert ta_entry.n == 3 and ta_entry.mean == pytest.approx(statistics.mean(ta))
    assert ta_entry.std == pytest.approx(statistics.stdev(ta))
    assert ta_entry.ci95 == pytest.approx(4.302653 * statistics.stdev(ta) / 3**0.5, rel=1e-5)
    assert "significant" in ta_entry.verdict and ta_entry.p_value < 0.05
    assert board.missing == ["alexnet-simam"]
    assert len(board.duplicates) == 1 and "copy-of-ta.json" in board.duplicates[0]
    assert any("broken.json" in s for s in board.skipped)
    assert any("not-json.json" in s and "not readable" in s for s in board.skipped)
    assert "alexnet-triplet" in format_markdown(board)


def test_small_differences_are_called_noise(tmp_path):
    for seed, (a, b) in enumerate(zip([0.60, 0.63, 0.61], [0.61, 0.62, 0.62])):
        _write(tmp_path, "alexnet-none", seed, a)
        _write(tmp_path, "alexnet-simam", seed, b)
    _write(tmp_path, "alexnet-se", 0, 0.65)
    board = build_leaderboard(tmp_path, profile="quick")
    by_name = {e.name: e for e in board.entries}
    assert "within noise" in by_name["alexnet-simam"].verdict
    assert "too few runs" in by_name["alexnet-se"].verdict


def test_welch_test_against_scipy_free_cases():
    assert welch_test([0.5], [0.6, 0.7]) is None
    assert welch_test([0.5, 0.5], [0.5, 0.5]) == 1.0
    p = welch_test([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert 0.5 < p < 1.0


def test_empty_folder_gives_an_empty_board(tmp_path):
    board = build_leaderboard(tmp_path / "nothing", profile="quick", expected=["alexnet-none"])
    assert board.entries == [] and board.missing == ["alexnet-none"]
