"""The statistics behind every interval, p-value and "significant" in the course.

One variant's runs: mean, sample standard deviation, n and the 95 % t-interval of the mean.
Against the baseline: the difference paired by seed (the same seed means the same data order,
augmentation draws and, for equal architectures, the same initial weights of shared layers), its
95 % t-interval and a paired t-test; Welch's test only where no seeds are shared. With several
variants against one baseline the p-values are Holm-corrected, and a difference is called
significant only with at least three pairs and a corrected p below 0.05: with two pairs a
t-test has one degree of freedom and its interval spans almost anything.

Power: before a "within noise" means anything, the design must have been able to see a
difference. From the standard deviation of the paired differences, :func:`detectable_difference`
gives the smallest true difference that the two-sided paired t-test at the comparison's own
(Holm-adjusted) level finds with 80 % power (the noncentral t distribution), and
:func:`power` the probability of finding a given one. Every paired comparison carries both.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MIN_PAIRS = 3  # fewer pairs are reported, never called significant
POWER = 0.8  # the power the minimum detectable difference is quoted at


def _t_quantile(df: float, level: float = 0.95) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and 95 % t-interval of one variant's runs."""

    n: int
    mean: float
    std: float  # NaN with fewer than two runs: unknown, never 0
    ci95: float  # half-width of the interval of the mean

    @property
    def low(self) -> float:
        return self.mean - self.ci95

    @property
    def high(self) -> float:
        return self.mean + self.ci95


def summarize(values: Sequence[float]) -> Summary:
    """Mean, standard deviation, 95 % t-interval half-width and n; with one value the spread
    is unknown (NaN)."""
    values = list(values)
    n = len(values)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan)
    mean = statistics.fmean(values)
    if n < 2:
        return Summary(1, mean, math.nan, math.nan)
    std = statistics.stdev(values)
    return Summary(n, mean, std, _t_quantile(n - 1) * std / math.sqrt(n))


def summarize_finite(values: Sequence[float]) -> Summary:
    """:func:`summarize` of the finite values only: NaN marks a value that does not exist (a
    constant map has no rank correlation), not a run to average in."""
    return summarize([float(v) for v in values if math.isfinite(v)])


def power(diff: float, sd: float, n_pairs: int, alpha: float = 0.05) -> float:
    """The probability that a two-sided paired t-test at level ``alpha`` on ``n_pairs`` pairs
    whose differences have standard deviation ``sd`` finds a true mean difference ``diff``:
    P(|T| > t_crit) for T noncentral t with n - 1 degrees of freedom and noncentrality
    diff / (sd / sqrt(n))."""
    from scipy import stats

    if n_pairs < 2 or not sd > 0 or math.isnan(diff):
        return math.nan
    df = n_pairs - 1
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    ncp = abs(diff) / (sd / math.sqrt(n_pairs))
    upper = float(stats.nct.sf(crit, df, ncp))
    # the far tail (a significant difference of the wrong sign) is below 1e-5 wherever scipy's
    # series fails to converge and returns NaN
    lower = float(stats.nct.cdf(-crit, df, ncp))
    return upper + (0.0 if math.isnan(lower) else lower)


def test_resolution(accuracy: float, n_test: int) -> float:
    """The test set's own resolution: the 95 % half-width of one model's accuracy measured on
    ``n_test`` images (binomial, normal approximation). A detectable difference below it comes
    from the seeds' agreement, not from the test set."""
    return 1.96 * math.sqrt(accuracy * (1 - accuracy) / n_test)


def detectable_difference(
    sd: float, n_pairs: int, alpha: float = 0.05, target: float = POWER
) -> float:
    """The minimum detectable difference: the smallest true difference that the paired t-test
    (``n_pairs`` pairs, differences of standard deviation ``sd``, two-sided level ``alpha``)
    finds with probability ``target``. NaN with fewer than two pairs or no spread."""
    from scipy import optimize

    if n_pairs < 2 or not sd > 0:
        return math.nan
    high = sd
    while power(high, sd, n_pairs, alpha) < target:
        high *= 2
    return float(
        optimize.brentq(lambda d: power(d, sd, n_pairs, alpha) - target, 0.0, high, xtol=1e-10)
    )


def holm_levels(pvalues: Sequence[float], alpha: float = 0.05) -> list[float]:
    """The level Holm's procedure tests each p-value at: the k-th smallest of m at
    ``alpha / (m - k + 1)`` (NaN entries keep NaN and are left out of m)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    levels = [math.nan] * len(pvalues)
    for k, (_, i) in enumerate(order):
        levels[i] = alpha / (len(order) - k)
    return levels


@dataclass(frozen=True)
class Difference:
    """A variant minus the baseline: estimate, 95 % interval, test and p-values."""

    name: str
    baseline: str
    diff: float
    low: float
    high: float
    p: float  # NaN when no test is possible
    test: str  # "paired t", "Welch t" or "none"
    n_pairs: int
    n: int  # runs of the variant
    n_baseline: int
    p_holm: float = math.nan
    sd: float = math.nan  # standard deviation of the paired differences
    alpha: float = 0.05  # the level this comparison is tested at (Holm's, among several)
    # the verdict of the course's one family (results/hypotheses.toml) where it judges this
    # comparison ("significant", "not significant", "pending (...)", "exploratory"); it then
    # replaces the verdict of this comparison's own test
    family_verdict: str | None = None
    # the family's strictest Holm level alpha / k, where the family judges this comparison: the
    # detectable difference is then printed at two fixed levels, alpha and alpha / k
    strictest_alpha: float | None = None

    @property
    def detectable(self) -> float:
        """The smallest true difference this design finds with 80 % power (paired t-test at
        this comparison's level); NaN without pairs."""
        if self.test != "paired t":
            return math.nan
        return detectable_difference(self.sd, self.n_pairs, self.alpha)

    @property
    def detectable_strictest(self) -> float:
        """What this design detects at the family's strictest Holm level α/k (NaN where no
        family judges this comparison, or without pairs)."""
        if self.test != "paired t" or self.strictest_alpha is None:
            return math.nan
        return detectable_difference(self.sd, self.n_pairs, self.strictest_alpha)

    @property
    def power(self) -> float:
        """The probability that this design finds a true difference as large as the observed
        one."""
        if self.test != "paired t":
            return math.nan
        return power(self.diff, self.sd, self.n_pairs, self.alpha)

    def design(self, scale: float = 100, unit: str = "points") -> str:
        """What the design could detect: "with 3 pairs this design detects ≥ 6.2 points"."""
        if self.n_pairs < 2:
            return "no detectable difference: fewer than two seed pairs"
        if math.isnan(self.detectable):
            return "the paired differences do not vary: no power calculation"
        smallest = self.detectable * scale
        text = f"with {self.n_pairs} pairs this design detects ≥ {smallest:.1f} {unit}"
        if self.strictest_alpha is not None:
            strict = self.detectable_strictest * scale
            text += f" at α = {self.alpha:g} and ≥ {strict:.1f} at the family's α/k"
        return text

    @property
    def significant(self) -> bool:
        if self.family_verdict is not None:
            return self.family_verdict == "significant"
        return self.n_pairs >= MIN_PAIRS and self.p_holm < 0.05

    def verdict(self) -> str:
        """``significant``, ``not significant``, or why nothing can be said (the family's
        verdict where the course's family of comparisons judges this one)."""
        if self.family_verdict is not None:
            return self.family_verdict
        if self.test == "none":
            return "too few runs to test"
        if self.n_pairs < MIN_PAIRS and self.test == "paired t":
            return f"only {self.n_pairs} pairs: not tested for significance"
        if self.test == "Welch t":
            return "seeds not shared: Welch's test only, not called significant"
        if self.significant:
            return "significant"
        if self.p < 0.05:  # the uncorrected test passes, the correction for several does not
            return "not significant after the Holm correction"
        return "within noise"

    def sentence(self, scale: float = 100, unit: str = "points") -> str:
        """One line a chapter can print: estimate, interval, test, corrected p, verdict."""
        text = f"{self.name} − {self.baseline}: {self.diff * scale:+.2f} {unit}"
        if math.isnan(self.low):
            return f"{text} ({self.verdict()})"
        pairs = f"{self.n_pairs} seed pairs" if self.test == "paired t" else self.test
        p = f"p = {format_p(self.p)}"
        if not math.isnan(self.p_holm) and self.p_holm != self.p:
            p += f", Holm-corrected {format_p(self.p_holm)}"
        text = (
            f"{text}, 95 % CI [{self.low * scale:+.2f}, {self.high * scale:+.2f}] ({pairs}; "
            f"{p}): {self.verdict()}"
        )
        if self.test == "paired t":
            text += f" ({self.design(scale, unit)} at 80 % power)"
        return text


def paired_difference(
    variant: Mapping[int, float], baseline: Mapping[int, float], name: str = "variant",
    baseline_name: str = "baseline",
) -> Difference:  # fmt: skip
    """``variant - baseline`` from runs keyed by seed: paired over the shared seeds when there
    are at least two, else Welch's unequal-variance test when each side has two runs."""
    from scipy import stats

    shared = sorted(set(variant) & set(baseline))
    counts = dict(n=len(variant), n_baseline=len(baseline), name=name, baseline=baseline_name)
    if len(shared) >= 2:
        d = [variant[s] - baseline[s] for s in shared]
        s = summarize(d)
        if s.std == 0:  # every pair equal: the t statistic is undefined
            p = 1.0 if s.mean == 0 else 0.0
        else:
            p = float(stats.ttest_rel([variant[k] for k in shared],
                                      [baseline[k] for k in shared]).pvalue)  # fmt: skip
        return Difference(diff=s.mean, low=s.low, high=s.high, p=p, test="paired t",
                          n_pairs=len(shared), sd=s.std, **counts)  # fmt: skip
    a, b = list(variant.values()), list(baseline.values())
    diff = statistics.fmean(a) - statistics.fmean(b) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return Difference(diff=diff, low=math.nan, high=math.nan, p=math.nan, test="none",
                          n_pairs=len(shared), **counts)  # fmt: skip
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(diff=diff, low=diff, high=diff, p=1.0 if diff == 0 else 0.0,
                          test="Welch t", n_pairs=len(shared), **counts)  # fmt: skip
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = _t_quantile(df) * se
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return Difference(diff=diff, low=diff - half, high=diff + half, p=p, test="Welch t",
                      n_pairs=len(shared), **counts)  # fmt: skip


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down correction: the k-th smallest of m p-values is multiplied by
    ``m - k + 1``, kept monotone and capped at 1. NaN entries are left out of m."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, adjusted, running = len(order), [math.nan] * len(pvalues), 0.0
    for k, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def compare_pairs(
    values: Mapping[str, Mapping[int, float]], pairs: Sequence[tuple[str, str]]
) -> list[Difference]:
    """``variant − other`` for each pair of names in ``values`` (runs keyed by seed), paired by
    seed, Holm-corrected over the pairs given (one family of comparisons)."""
    unknown = {name for pair in pairs for name in pair} - set(values)
    if unknown:
        raise KeyError(f"no runs of {sorted(unknown)}; have {sorted(values)}")
    diffs = [paired_difference(values[v], values[b], v, b) for v, b in pairs]
    pvalues = [d.p for d in diffs]
    corrected, levels = holm(pvalues), holm_levels(pvalues)
    return [
        Difference(**{**d.__dict__, "p_holm": p, "alpha": 0.05 if math.isnan(a) else a})
        for d, p, a in zip(diffs, corrected, levels, strict=True)
    ]


def compare_to_baseline(
    variants: Mapping[str, Mapping[int, float]], baseline: str
) -> list[Difference]:
    """Every variant against ``baseline`` (runs keyed by seed), Holm-corrected over the
    variants compared."""
    if baseline not in variants:
        raise KeyError(f"no runs of the baseline {baseline!r}; have {sorted(variants)}")
    return compare_pairs(variants, [(name, baseline) for name in variants if name != baseline])


def format_p(p: float) -> str:
    """Three significant digits, never rounded to a threshold: 0.0501 stays 0.0501."""
    if math.isnan(p):
        return "n/a"
    if p == 0:
        return "0"
    if p < 1e-3:
        return f"{p:.2e}"
    return f"{p:#.3g}"
