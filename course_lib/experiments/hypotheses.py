"""The course's one family of confirmatory comparisons (``results/hypotheses.toml``).

The file lists every comparison the course calls a claim, written down before the seeds that
decide it were trained. :func:`judge_family` tests them all at once: one paired t-test per
comparison on the given seeds, Holm's correction over the **whole** family (k comparisons, not
the ones a chapter happens to print), and the detectable difference (80 % power) at two fixed
levels, alpha and the family's strictest Holm level alpha / k, so that one design prints one
detectable difference wherever it is shown. A comparison whose seeds are not all trained yet
is *pending*: it enters Holm's correction with p = 1 (it rejects nothing) and gets no verdict.

Seeds 42-49 chose the ``quick`` profile and are the exploratory pilot; seeds 50-57 decide.
A comparison that is not in the file is exploratory wherever it is printed: an interval, never
"significant".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..profiles import Profile, experiment_settings, get_profile
from ..runtime.paths import repo_root, results_dir
from .reference import matches
from .results import read_results
from .stats import (
    MIN_PAIRS,
    Difference,
    detectable_difference,
    format_p,
    holm,
    paired_difference,
    summarize,
    test_resolution,
)

# an AlexNet comparison of chapters 02-04 trains at the profile's own setting
PROFILE_ITSELF = "alexnet"


@dataclass(frozen=True)
class Hypothesis:
    """One confirmatory comparison: ``variant − baseline`` (run names) at one recipe."""

    id: str
    chapter: str
    question: str
    variant: str
    baseline: str
    profile: str
    experiment: str

    def recipe(self) -> Profile:
        """The setting both networks are trained at."""
        profile = get_profile(self.profile)
        if self.experiment == PROFILE_ITSELF:
            return profile
        settings = experiment_settings(profile, self.experiment)
        if settings is None:
            raise ValueError(f"{self.id}: {self.experiment} is not trained in {self.profile}")
        return settings


@dataclass(frozen=True)
class Family:
    """The family: its level, power, seeds and comparisons."""

    alpha: float
    power: float
    confirmatory_seeds: tuple[int, ...]
    exploratory_seeds: tuple[int, ...]
    hypotheses: tuple[Hypothesis, ...]

    @property
    def k(self) -> int:
        return len(self.hypotheses)

    @property
    def strictest_level(self) -> float:
        """Holm's first step, alpha / k: the level the smallest p-value is tested at."""
        return self.alpha / self.k

    def find(self, variant: str, baseline: str) -> Hypothesis | None:
        """The comparison ``variant − baseline`` (run names), or None: exploratory."""
        return next(
            (h for h in self.hypotheses if (h.variant, h.baseline) == (variant, baseline)), None
        )

    def seeds(self, which: str) -> tuple[int, ...]:
        if which not in ("confirmatory", "exploratory"):
            raise ValueError(f"seeds are 'confirmatory' or 'exploratory', got {which!r}")
        return self.confirmatory_seeds if which == "confirmatory" else self.exploratory_seeds


def hypotheses_path() -> Path:
    """The committed file in the course's checkout (not ``COURSE_RESULTS_DIR``: the family is
    written down before its runs, wherever the runs' rows are written)."""
    return repo_root() / "results" / "hypotheses.toml"


def load_family(path: str | Path | None = None) -> Family:
    """Read the family; a missing file, a missing field or two comparisons with one id are
    refused, naming the file."""
    path = Path(path or hypotheses_path())
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: it is the course's committed family of comparisons; "
            "restore it with `git checkout -- results/hypotheses.toml`"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML ({err}); restore it with git") from err
    try:
        family = spec["family"]
        hypotheses = tuple(
            Hypothesis(**{f: h[f] for f in Hypothesis.__dataclass_fields__})
            for h in spec["hypothesis"]
        )
        result = Family(
            alpha=float(family["alpha"]),
            power=float(family["power"]),
            confirmatory_seeds=tuple(family["confirmatory_seeds"]),
            exploratory_seeds=tuple(family["exploratory_seeds"]),
            hypotheses=hypotheses,
        )
    except KeyError as err:
        raise ValueError(f"{path}: missing field {err}") from None
    ids = [h.id for h in hypotheses]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: two comparisons share an id: {sorted(ids)}")
    if set(result.confirmatory_seeds) & set(result.exploratory_seeds):
        raise ValueError(f"{path}: a seed cannot be both exploratory and confirmatory")
    return result


@dataclass(frozen=True)
class Verdict:
    """One comparison of the family on one set of seeds."""

    hypothesis: Hypothesis
    seeds: str  # "confirmatory" or "exploratory"
    n_pairs: int
    n_planned: int
    diff: float  # mean of variant − baseline over the pairs (a fraction)
    low: float
    high: float
    p: float
    p_holm: float
    detectable: float  # at alpha, 80 % power (a fraction)
    detectable_strictest: float  # at alpha / k
    test_resolution: float  # 95 % half-width of one model's accuracy on the test images
    trained_on: str  # precision, CPU kind and threads of the rows

    @property
    def complete(self) -> bool:
        return self.n_pairs == self.n_planned

    @property
    def verdict(self) -> str:
        if not self.complete:
            return f"pending ({self.n_pairs} of {self.n_planned} seed pairs)"
        if self.seeds == "exploratory":
            return "exploratory"
        return "significant" if self.p_holm < 0.05 else "not significant"

    def sentence(self) -> str:
        """One line: the comparison, its interval, Holm's p over the family, the verdict and
        what the design detects at the family's two fixed levels."""
        h = self.hypothesis
        text = f"{h.variant} − {h.baseline} ({self.seeds} seeds"
        if self.n_pairs < 2:
            return f"{text}): {self.verdict}"
        return (
            f"{text}, {self.n_pairs} pairs): {self.diff * 100:+.2f} points, 95 % CI "
            f"[{self.low * 100:+.2f}, {self.high * 100:+.2f}], p = {format_p(self.p)}, "
            f"Holm over the family {format_p(self.p_holm)}: {self.verdict}; detects "
            f"{self.detectable * 100:.1f} points at α = 0.05, "
            f"{self.detectable_strictest * 100:.1f} at α/k (test set alone: "
            f"±{self.test_resolution * 100:.1f} per model)"
        )


def _rows_of(name: str, recipe: Profile, seeds: Sequence[int], rows: list[dict]) -> dict:
    found: dict[int, dict] = {}
    for row in rows:
        if row.get("name") == name and row.get("seed") in seeds and matches(row, recipe):
            if row["seed"] in found:
                raise ValueError(
                    f"two rows of {name} seed {row['seed']} at one recipe: "
                    f"{found[row['seed']].get('file')} and {row.get('file')}"
                )
            found[row["seed"]] = row
    return found


def _trained_on(rows: list[dict]) -> str:
    """Precision, CPU kind and threads, refused when the rows of one comparison mix them."""
    kinds = {(r.get("precision"), r.get("cpu_isa"), r.get("threads")) for r in rows}
    if len(kinds) > 1:
        raise ValueError(
            "the rows of one comparison were trained in different precisions, CPU kinds or "
            f"thread counts {sorted(map(str, kinds))}: retrain them on one machine kind"
        )
    if not kinds:
        return "n/a"
    precision, isa, threads = kinds.pop()
    where = f"{isa} CPU" if isa else "CPU kind not recorded"
    return f"{precision}, {where}, {threads} threads"


def judge_family(
    family: Family | None = None, which: str = "confirmatory", rows: list[dict] | None = None
) -> list[Verdict]:
    """Every comparison of ``family`` on its ``which`` seeds, from the committed rows of
    ``results/<profile>/`` (or ``rows``), Holm-corrected over the whole family."""
    family = family or load_family()
    k = family.k
    partial, read = [], {}
    for h in family.hypotheses:
        recipe = h.recipe()
        seeds = family.seeds(which)
        if which == "exploratory":  # the pilot trained each recipe over its own seeds
            seeds = tuple(s for s in seeds if s in recipe.seeds)
        if rows is None and h.profile not in read:  # each profile's folder read once
            read[h.profile] = read_results(results_dir() / h.profile)
        pool = rows if rows is not None else read[h.profile]
        pool = [r for r in pool if "error" not in r]
        variant = _rows_of(h.variant, recipe, seeds, pool)
        baseline = _rows_of(h.baseline, recipe, seeds, pool)
        shared = sorted(set(variant) & set(baseline))
        trained_on = _trained_on([variant[s] for s in shared] + [baseline[s] for s in shared])
        d = paired_difference(
            {s: variant[s]["accuracy"] for s in shared},
            {s: baseline[s]["accuracy"] for s in shared},
        )
        accuracy = summarize([baseline[s]["accuracy"] for s in shared]).mean if shared else 0.5
        n_test = baseline[shared[0]].get("test_images") or 10_000 if shared else 10_000
        resolution = test_resolution(accuracy, n_test)
        partial.append((h, d, len(shared), len(seeds), resolution, trained_on))
    # a pending comparison rejects nothing: p = 1 in Holm's correction over all k
    pvalues = [
        d.p if n == planned and not math.isnan(d.p) else 1.0 for _, d, n, planned, _, _ in partial
    ]
    adjusted = holm(pvalues)
    verdicts = []
    for (h, d, n, planned, resolution, trained_on), p_holm in zip(partial, adjusted, strict=True):
        verdicts.append(
            Verdict(
                hypothesis=h,
                seeds=which,
                n_pairs=n,
                n_planned=planned,
                diff=d.diff,
                low=d.low,
                high=d.high,
                p=d.p,
                p_holm=p_holm,
                detectable=detectable_difference(d.sd, n, family.alpha, family.power),
                detectable_strictest=detectable_difference(
                    d.sd, n, family.strictest_level, family.power
                ),
                test_resolution=resolution,
                trained_on=trained_on,
            )
        )
    assert len(verdicts) == k
    return verdicts


Judged = dict[tuple[str, str, str], Verdict]


def judged_family(rows: list[dict] | None = None, family: Family | None = None) -> Judged:
    """Every comparison of the family on both seed sets, keyed (variant, baseline, seeds)."""
    family = family or load_family()
    return {
        (v.hypothesis.variant, v.hypothesis.baseline, which): v
        for which in ("confirmatory", "exploratory")
        for v in judge_family(family, which, rows=rows)
    }


def with_family(
    d: Difference,
    variant: str,
    baseline: str,
    seeds: Sequence[int],
    judged: Judged | None = None,
    family: Family | None = None,
) -> tuple[Difference, Verdict | None]:
    """``d`` (``variant − baseline``, run names, over ``seeds``) with the family's verdict: on
    the family's confirmatory seeds its Holm p over the whole family and its verdict; on its
    exploratory seeds that Holm p and "exploratory"; a comparison the family does not list, or
    over other seeds than the family's, is "exploratory" (an interval, never significant).
    Holm's correction takes ``d``'s own p in this comparison's place, beside the family's other
    comparisons: the verdict is the one these rows would get. A difference with too few pairs
    to test keeps its own verdict, or is "pending" on the family's confirmatory seeds."""
    if d.test != "paired t":
        return replace(d, p_holm=math.nan), None
    family = family or load_family()
    judged = judged if judged is not None else judged_family(family=family)
    seeds = set(seeds)
    which = (
        "confirmatory"
        if seeds <= set(family.confirmatory_seeds)
        else "exploratory"
        if seeds <= set(family.exploratory_seeds)
        else None
    )
    d = replace(d, alpha=family.alpha, strictest_alpha=family.strictest_level)
    found = judged.get((variant, baseline, which))
    if d.n_pairs < MIN_PAIRS:  # too few to test; on the confirmatory seeds: still pending
        pending = found is not None and which == "confirmatory" and found.n_pairs == d.n_pairs
        return replace(d, p_holm=math.nan, family_verdict=found.verdict if pending else None), None
    if found is None or found.n_pairs != d.n_pairs:
        return replace(d, p_holm=math.nan, family_verdict="exploratory"), None
    others = [v for (_, _, w), v in judged.items() if w == which]
    pvalues = [
        (d.p if v is found else v.p) if v.complete and not math.isnan(v.p) else 1.0 for v in others
    ]
    p_holm = holm(pvalues)[others.index(found)]
    if which == "exploratory":
        verdict = "exploratory"
    elif not found.complete:
        verdict = found.verdict  # pending
    else:
        verdict = "significant" if p_holm < family.alpha else "not significant"
    return replace(d, p_holm=p_holm, family_verdict=verdict), found


def format_family(verdicts: list[Verdict]) -> str:
    """A Markdown table of the family's verdicts."""
    lines = [
        "| comparison | seeds | pairs | difference (points) | 95 % CI | p | Holm p (family) "
        "| verdict | detects at α / α/k | test set alone | trained on |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        h = v.hypothesis
        ci = "n/a" if math.isnan(v.low) else f"[{v.low * 100:+.2f}, {v.high * 100:+.2f}]"
        diff = "n/a" if math.isnan(v.diff) else f"{v.diff * 100:+.2f}"
        det = (
            "n/a"
            if math.isnan(v.detectable)
            else f"{v.detectable * 100:.1f} / {v.detectable_strictest * 100:.1f}"
        )
        lines.append(
            f"| {h.variant} − {h.baseline} | {v.seeds} | {v.n_pairs}/{v.n_planned} | {diff} "
            f"| {ci} | {format_p(v.p)} | {format_p(v.p_holm)} | {v.verdict} | {det} "
            f"| ±{v.test_resolution * 100:.1f} | {v.trained_on} |"
        )
    return "\n".join(lines)
