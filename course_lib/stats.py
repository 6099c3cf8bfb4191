"""The statistics behind every "± std" and "significant" in the course."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def summarize(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation, 95 % confidence half-width (t distribution) and n.

    With one value the spread is unknown: std and ci95 are NaN, never 0.
    """
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": float("nan"), "std": float("nan"), "ci95": float("nan")}
    mean = statistics.mean(values)
    if n < 2:
        return {"n": 1, "mean": mean, "std": float("nan"), "ci95": float("nan")}
    from scipy import stats

    std = statistics.stdev(values)
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "ci95": float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n),
    }


def welch_test(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test, or None with fewer than two runs on a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:
        return 0.0 if statistics.mean(a) != statistics.mean(b) else 1.0
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def verdict(a: Sequence[float], baseline: Sequence[float], name: str, alpha: float = 0.05) -> str:
    """ "+1.23 pts vs NAME; significant (Welch p = 0.012)", "within noise", or too few runs."""
    diff = (statistics.mean(a) - statistics.mean(baseline)) * 100
    p = welch_test(a, baseline)
    if p is None:
        return f"{diff:+.2f} pts vs {name}; too few runs to test"
    if p < alpha:
        return f"{diff:+.2f} pts vs {name}; significant (Welch p = {p:.3f})"
    return f"{diff:+.2f} pts vs {name}; within noise (Welch p = {p:.2f})"
