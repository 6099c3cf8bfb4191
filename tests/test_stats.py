"""The statistics module against scipy on fixed inputs, and the rules of the verdicts."""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy import stats as sps

from course_lib.experiments.stats import (
    compare_to_baseline,
    detectable_difference,
    format_p,
    holm,
    paired_difference,
    summarize,
    summarize_finite,
)
from course_lib.experiments.stats import test_resolution as resolution  # not a test

BASE = {42: 0.601, 43: 0.612, 44: 0.597, 45: 0.606}
VARIANT = {42: 0.611, 43: 0.619, 44: 0.611, 45: 0.609}


def test_summary_interval_is_scipys_t_interval():
    values = list(BASE.values())
    s = summarize(values)
    low, high = sps.t.interval(0.95, len(values) - 1, loc=s.mean, scale=sps.sem(values))
    assert (s.low, s.high) == pytest.approx((low, high), rel=1e-12)
    assert s.std == pytest.approx(sps.tstd(values))
    one = summarize([0.5])
    assert one.n == 1 and math.isnan(one.std) and math.isnan(one.ci95), "one run: spread unknown"


def test_paired_difference_matches_scipy_ttest_rel():
    d = paired_difference(VARIANT, BASE, "v", "b")
    ref = sps.ttest_rel(list(VARIANT.values()), list(BASE.values()))
    ci = ref.confidence_interval(0.95)
    assert d.test == "paired t" and d.n_pairs == 4
    assert d.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # pairing matters: the unpaired test on the same numbers gives a much larger p here
    assert d.p < sps.ttest_ind(list(VARIANT.values()), list(BASE.values())).pvalue


def test_welch_only_where_no_seeds_are_shared():
    a, b = {1: 0.50, 2: 0.53, 3: 0.52}, {7: 0.49, 8: 0.47, 9: 0.50, 10: 0.48}
    d = paired_difference(a, b)
    ref = sps.ttest_ind(list(a.values()), list(b.values()), equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert d.test == "Welch t" and d.n_pairs == 0
    assert d.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert not d.significant, "unpaired seeds are never called significant"
    assert paired_difference({1: 0.5}, b).test == "none"


def test_holm_step_down_by_hand():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert math.isnan(holm([math.nan, 0.02])[0]) and holm([math.nan, 0.02])[1] == 0.02


def test_significant_needs_three_pairs_and_a_corrected_p():
    two = paired_difference({1: 0.70, 2: 0.71}, {1: 0.60, 2: 0.6105})
    assert two.p < 0.05 and not two.significant and "2 pairs" in two.verdict()
    variants = {"base": BASE, "big": {k: v + 0.05 + 0.001 * k % 3 for k, v in BASE.items()},
                "noise": {42: 0.604, 43: 0.608, 44: 0.601, 45: 0.605}}  # fmt: skip
    diffs = {d.name: d for d in compare_to_baseline(variants, "base")}
    assert diffs["big"].significant and diffs["big"].verdict() == "significant"
    assert not diffs["noise"].significant and diffs["noise"].verdict() == "within noise"
    raw = [diffs["big"].p, diffs["noise"].p]
    assert [diffs["big"].p_holm, diffs["noise"].p_holm] == pytest.approx(holm(raw))
    assert "Holm-corrected" in diffs["noise"].sentence() or diffs["noise"].p_holm == raw[1]


def test_p_values_keep_three_significant_digits():
    assert format_p(0.0501) == "0.0501" and format_p(0.04999) == "0.0500"
    assert format_p(1.0) == "1.00"
    assert format_p(0.1834) == "0.183" and format_p(2.5e-5) == "2.50e-05"
    assert format_p(math.nan) == "n/a"


def test_detectable_difference_matches_statsmodels_ttest_power():
    """The minimum detectable difference and the power agree with statsmodels' one-sample
    (paired) t-test power, which solves the same noncentral t by another route."""
    from statsmodels.stats.power import TTestPower

    from course_lib.experiments.stats import detectable_difference, power

    for sd, n, alpha in [(2.0, 3, 0.05), (1.97, 8, 0.05), (1.97, 8, 0.0125), (0.5, 20, 0.01)]:
        effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8)
        assert detectable_difference(sd, n, alpha) == pytest.approx(effect * sd, rel=1e-4)
        smaller = 0.7 * effect * sd  # a difference the design finds about half the time
        assert power(smaller, sd, n, alpha) == pytest.approx(
            TTestPower().power(effect_size=smaller / sd, nobs=n, alpha=alpha), rel=1e-6
        )
    # the numbers the course quotes: sd 2 points, 3 / 5 / 10 pairs
    assert [round(detectable_difference(2.0, n), 1) for n in (3, 5, 10)] == [6.5, 3.4, 2.0]


def test_every_paired_comparison_says_what_it_could_detect():
    from course_lib.experiments.stats import compare_to_baseline

    base = {42: 0.50, 43: 0.52, 44: 0.49}
    runs = {"base": base, "a": {42: 0.51, 43: 0.55, 44: 0.50}, "b": {42: 0.50, 43: 0.51, 44: 0.50}}
    a, b = compare_to_baseline(runs, "base")
    # Holm tests the smaller p at 0.05 / 2 and the larger at 0.05
    assert sorted([a.alpha, b.alpha]) == [0.025, 0.05]
    assert a.detectable > abs(a.diff)  # 3 pairs: far larger than what was observed
    assert "with 3 pairs this design detects ≥" in a.sentence()
    assert 0 < a.power < 0.8


def test_summarize_finite_leaves_out_nan_and_inf_only():
    values = [0.2, math.nan, 0.4, math.inf, 0.9]
    assert summarize_finite(values) == summarize([0.2, 0.4, 0.9])
    assert summarize_finite([math.nan]).n == 0


def test_test_resolution_is_the_binomial_half_width():
    # 64 % on 10,000 images: sd of a proportion 0.0048, 95 % half-width 0.0094
    assert resolution(0.64, 10_000) == pytest.approx(1.96 * (0.64 * 0.36 / 10_000) ** 0.5)
    assert resolution(0.5, 10_000) > resolution(0.9, 10_000) > 0
    assert resolution(0.5, 2_500) == pytest.approx(2 * resolution(0.5, 10_000))


def test_detectable_at_the_strictest_level_is_what_the_design_line_prints():
    d = paired_difference(VARIANT, BASE, "variant", "base")
    assert math.isnan(d.detectable_strictest), "no family: no strictest level"
    judged = dataclasses.replace(d, strictest_alpha=0.05 / 14)
    strict = judged.detectable_strictest
    assert strict == pytest.approx(detectable_difference(d.sd, d.n_pairs, 0.05 / 14))
    assert strict > judged.detectable, "a stricter level needs a larger difference"
    assert f"≥ {strict * 100:.1f} at the family's α/k" in judged.design()
