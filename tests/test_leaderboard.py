"""The leaderboard: sections per configuration, seed-paired comparisons, missing and duplicate
results."""

from __future__ import annotations

import json
import statistics

import pytest

from course_lib.experiments.leaderboard import build_leaderboard, format_markdown, plot_leaderboard
from course_lib.experiments.stats import compare_to_baseline


def _write(folder, name, seed, accuracy, profile="quick", **extra):
    row = dict(name=name, seed=seed, accuracy=accuracy, image_size=128, epochs=5, profile=profile)
    row.update(train_images=16000, val_images=5000, batch_size=128, lr=1e-3, precision="bf16")
    row.update(data_source="test", params=10, device="cpu", setting=f"{name}-set")
    row.update(train_images_per_s=100.0, inference_images_per_s=300.0, run_dir=f"{name}-{seed}")
    row.update(extra)
    path = folder / profile / f"{name}-s{seed}-{row['epochs']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return path


def test_aggregates_seeds_pairs_them_and_reports_missing_and_duplicates(tmp_path):
    base = [0.60, 0.62, 0.61]
    ta = [0.70, 0.715, 0.69]
    for seed, (a, b) in enumerate(zip(base, ta)):
        _write(tmp_path, "alexnet-none", seed, a)
        _write(tmp_path, "alexnet-triplet", seed, b)
    dup = tmp_path / "quick" / "copy-of-ta.json"
    dup.write_text((tmp_path / "quick" / "alexnet-triplet-s0-5.json").read_text())
    (tmp_path / "quick" / "broken.json").write_text(json.dumps({"name": "x"}))
    (tmp_path / "quick" / "not-json.json").write_text("{")
    _write(tmp_path, "alexnet-se", 0, 0.9, profile="paper")  # another profile: not mixed in

    board = build_leaderboard(tmp_path, profile="quick", expected=["alexnet-none", "alexnet-simam"])
    assert len(board.sections) == 1
    by_name = {e.name: e for e in board.entries}
    assert set(by_name) == {"alexnet-none", "alexnet-triplet"}
    ta_entry = by_name["alexnet-triplet"]
    s = ta_entry.summary
    assert s.n == 3 and s.mean == pytest.approx(statistics.mean(ta))
    assert s.ci95 == pytest.approx(4.302653 * statistics.stdev(ta) / 3**0.5, rel=1e-5)
    d = ta_entry.vs_baseline
    expected = compare_to_baseline({"b": dict(enumerate(base)), "t": dict(enumerate(ta))}, "b")[0]
    assert d.test == "paired t" and d.n_pairs == 3
    assert (d.diff, d.low, d.high, d.p) == pytest.approx((expected.diff, expected.low,
                                                          expected.high, expected.p))  # fmt: skip
    # seeds 0-2 are not the family's: an interval, never "significant"
    assert not d.significant and d.verdict() == "exploratory" and d.p_holm != d.p_holm
    assert board.missing == ["alexnet-simam"]
    assert len(board.duplicates) == 1 and "copy-of-ta.json" in board.duplicates[0]
    assert any("broken.json" in s for s in board.skipped)
    assert any("not-json.json" in s and "not readable" in s for s in board.skipped)
    table = format_markdown(board)
    assert "alexnet-triplet" in table and "significant" not in table
    assert "source 000" in table, "the source notebooks' numbers are shown with their setting"
    detectable = f"≥ {d.detectable * 100:.1f} ({d.n_pairs} pairs)"
    assert f"| exploratory | {detectable} |" in table, "the design's power beside the verdict"
    plot_leaderboard(board.sections[0])


def test_the_familys_comparisons_get_the_familys_verdict_on_its_confirmatory_seeds(tmp_path):
    from course_lib.experiments.hypotheses import judge_family, load_family

    family = load_family()
    quick = {"epochs": 6, "schedule_epochs": 50, "train_images": 16000}  # the family's recipe
    for i, seed in enumerate(family.confirmatory_seeds):
        _write(tmp_path, "alexnet-none", seed, 0.50 + i / 100, **quick)
        _write(tmp_path, "alexnet-triplet", seed, 0.55 + i / 100 + (i % 2) / 200, **quick)
        _write(tmp_path, "alexnet-simam", seed, 0.50 + i / 100 + (i % 3) / 300, **quick)
    for seed in family.exploratory_seeds[:3]:  # another section: exploratory seeds, fp32
        _write(tmp_path, "alexnet-none", seed, 0.5, precision="fp32", **quick)
        _write(tmp_path, "alexnet-triplet", seed, 0.6 + seed / 1000, precision="fp32", **quick)
    board = build_leaderboard(tmp_path, profile="quick")
    rows = [r for s in board.sections for e in s.entries for r in e.rows]
    judged = {
        (v.hypothesis.variant, v.hypothesis.baseline): v
        for v in judge_family(family, "confirmatory", rows=rows)
    }
    confirm = next(s for s in board.sections if s.config["precision"] == "bf16")
    by_name = {e.name: e for e in confirm.entries}
    ta = by_name["alexnet-triplet"].vs_baseline
    assert ta.p_holm == pytest.approx(
        judged["alexnet-triplet", "alexnet-none"].p_holm
    )  # Holm over all k
    assert ta.p_holm == pytest.approx(min(1.0, family.k * ta.p), rel=1e-6, abs=0)
    assert ta.verdict() == "significant" and ta.significant
    simam = by_name["alexnet-simam"].vs_baseline
    assert simam.verdict() == "not significant" and not simam.significant
    f = judged["alexnet-triplet", "alexnet-none"]
    detectable = f"≥ {f.detectable * 100:.1f} / {f.detectable_strictest * 100:.1f} (8 pairs)"
    assert f"| significant | {detectable} |" in format_markdown(board)
    explore = next(s for s in board.sections if s.config["precision"] == "fp32")
    assert explore.entries[-1].vs_baseline.verdict() == "exploratory"


def test_each_configuration_is_its_own_section(tmp_path):
    for seed in range(3):
        _write(tmp_path, "alexnet-none", seed, 0.60 + seed / 100)
        _write(tmp_path, "alexnet-none", seed, 0.70 + seed / 100, epochs=10)  # other settings
        _write(tmp_path, "alexnet-simam", seed, 0.71 + seed / 100, epochs=10)
    board = build_leaderboard(tmp_path, profile="quick")
    assert len(board.sections) == 2
    five, ten = sorted(board.sections, key=lambda s: s.config["epochs"])
    assert [e.name for e in five.entries] == ["alexnet-none"]
    assert five.entries[0].summary.mean == pytest.approx(0.61), "10-epoch runs are not mixed in"
    simam = next(e for e in ten.entries if e.name == "alexnet-simam")
    assert simam.vs_baseline.diff == pytest.approx(0.01), "compared within its own section"


def test_small_differences_are_noise_and_two_pairs_are_not_tested(tmp_path):
    for seed, (a, b) in enumerate(zip([0.60, 0.63, 0.61], [0.61, 0.62, 0.62])):
        _write(tmp_path, "alexnet-none", seed, a)
        _write(tmp_path, "alexnet-simam", seed, b)
    for seed, v in ((0, 0.70), (1, 0.731)):
        _write(tmp_path, "alexnet-se", seed, v)
    _write(tmp_path, "alexnet-cbam", 0, 0.65)
    by_name = {e.name: e for e in build_leaderboard(tmp_path, profile="quick").entries}
    assert by_name["alexnet-simam"].vs_baseline.verdict() == "exploratory"
    assert not by_name["alexnet-se"].vs_baseline.significant
    assert "2 pairs" in by_name["alexnet-se"].vs_baseline.verdict()
    assert by_name["alexnet-cbam"].vs_baseline.verdict() == "too few runs to test"


def test_empty_folder_gives_an_empty_board(tmp_path):
    board = build_leaderboard(tmp_path / "nothing", profile="quick", expected=["alexnet-none"])
    assert board.entries == [] and board.missing == ["alexnet-none"]


def test_each_variant_is_compared_with_its_own_baseline(tmp_path):
    """Chapters 05-07 share one 32 px section: PSA against the ResNet it modifies, self-attention
    against VGG16-BN, the ablations against the full shallow MogaNet; Holm within each baseline's
    comparisons."""
    accs = {
        "cifar_resnet-none": [0.40, 0.41, 0.42],
        "cifar_resnet-psa": [0.38, 0.40, 0.39],
        "vgg16_bn": [0.50, 0.52, 0.51],
        "vgg16_bn-self_attention": [0.53, 0.56, 0.54],
        "moganet_shallow": [0.30, 0.31, 0.33],
        "moganet_shallow-no_gating": [0.29, 0.31, 0.30],
        "moganet_shallow-no_decompose": [0.28, 0.30, 0.31],
    }
    for name, values in accs.items():
        for seed, a in enumerate(values):
            _write(tmp_path, name, seed, a, image_size=32, epochs=3)
    board = build_leaderboard(tmp_path, profile="quick")
    (section,) = board.sections
    versus = {e.name: e.vs_baseline.baseline for e in section.entries if e.vs_baseline}
    assert versus == {
        "cifar_resnet-psa": "cifar_resnet-none",
        "moganet_shallow": "cifar_resnet-none",  # chapter 06's head-to-head
        "vgg16_bn-self_attention": "vgg16_bn",
        "moganet_shallow-no_gating": "moganet_shallow",
        "moganet_shallow-no_decompose": "moganet_shallow",
    }
    # seeds 0-2 are none of the family's: every comparison is exploratory, with no Holm p
    for e in section.entries:
        if e.vs_baseline:
            assert e.vs_baseline.verdict() == "exploratory" and e.vs_baseline.p_holm != 1
    table = format_markdown(board)
    assert "| cifar_resnet-none | 3 |" in table and "| baseline |" in table


def test_each_section_says_where_its_runs_come_from_and_names_an_older_configuration(tmp_path):
    from course_lib.experiments.leaderboard import section_provenance

    for seed in (42, 43):
        old = dict(train_images=50_000, val_images=0, device="NVIDIA H100", date="2026-11-26")
        _write(tmp_path, "alexnet-none", seed, 0.78, profile="paper", image_size=224, epochs=50,
               **old)  # fmt: skip
        _write(tmp_path, "alexnet-none", seed, 0.5, date="2026-12-02", git_commit="abc",
               dirty=seed == 43)  # fmt: skip
    (paper,) = build_leaderboard(tmp_path, profile="paper").sections
    text = section_provenance(paper)
    assert "2 runs on NVIDIA H100, 2026-11-26; code not recorded" in text
    assert "An older configuration" in text and "now trains on 45,000 and holds out 5,000" in text
    (quick,) = build_leaderboard(tmp_path, profile="quick").sections
    text = section_provenance(quick)
    assert "older" not in text, "16,000 images with 5,000 held out is today's quick profile"
    assert "1 of the runs were trained from uncommitted code" in text
