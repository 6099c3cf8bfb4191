"""Sentences that read a chapter's results, built from the numbers themselves.

A chapter's prose quotes accuracies, gaps and intervals; typed by hand they drift from the
outputs the moment a run changes. These functions write the sentences from the runs, so the text
and the numbers printed above it always agree. Each returns Markdown.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
from torch import nn

from .experiments.stats import MIN_PAIRS, format_p, summarize
from .train import Run


def pct(value: float, digits: int = 1) -> str:
    """``pct(0.6123)`` is ``"61.2 %"``."""
    return f"{value * 100:.{digits}f} %"


def points(value: float, digits: int = 2) -> str:
    """A difference of accuracies in percentage points, signed: ``"+0.84 points"``."""
    return f"{value * 100:+.{digits}f} points"


def _mean_curve(runs: Sequence[Run], key: str) -> list[float]:
    curves = [getattr(r.history, key) for r in runs]
    return [statistics.fmean(values) for values in zip(*curves, strict=False)]


def describe_curves(name: str, runs: Sequence[Run]) -> str:
    """How a variant learned: validation accuracy from the first to the last epoch (mean over
    seeds), the gain of the last epoch, and training against validation accuracy."""
    val, train = _mean_curve(runs, "val_acc"), _mean_curve(runs, "train_acc")
    val_loss = _mean_curve(runs, "val_loss")
    n, epochs = len(runs), len(val)
    text = f"**{name}** (mean of {n} seed{'s' if n > 1 else ''}): validation accuracy "
    if epochs == 1:
        text += f"{pct(val[0])} after its single epoch"
    else:
        last_gain = val[-1] - val[-2]
        still = "still rising" if last_gain > 0.002 else "levelling off"
        text += (
            f"{pct(val[0])} after epoch 1, {pct(val[-1])} after epoch {epochs}; the last epoch "
            f"added {points(last_gain)} ({still}), and the validation loss fell from "
            f"{val_loss[0]:.3f} to {val_loss[-1]:.3f}"
        )
    if val[-1] < 0.2:
        return text + ": barely above chance (10 %), so this run has not learned yet."
    gap = train[-1] - val[-1]
    if gap < 0:
        dropout = any(isinstance(m, nn.Dropout) for m in runs[0].model.modules())
        augmented = runs[0].recipe().get("augment", True)
        seen = ("on augmented images" if augmented else "on the training images") + (
            " with dropout active" if dropout else ""
        )
        causes = 1 + augmented + dropout
        return text + (
            f". Training accuracy ({pct(train[-1])}) stays below validation accuracy: it is "
            f"measured {seen}, averaged over an epoch in which the weights were still "
            "improving, while validation "
            + ("sees clean images with" if augmented or dropout else "uses")
            + " the epoch's final weights"
            + (
                f". Each of these {causes} differences can lower the training number, and these "
                "runs do not say which weighs most (chapter 00, exercise 5)"
                if causes > 1
                else ""
            )
            + " — no sign of overfitting."
        )
    return text + (
        f". Training accuracy ({pct(train[-1])}) is {points(gap)} above validation: "
        + ("a small gap." if gap < 0.03 else "the network starts to fit its training set.")
    )


def describe_seeds(name: str, runs: Sequence[Run]) -> str:
    """The spread over seeds of a variant's test accuracy, as a yardstick for differences."""
    accs = [r.metrics["accuracy"] for r in runs]
    s = summarize(accs)
    if s.n < 2:
        return f"**{name}**: one run ({pct(s.mean, 2)} test accuracy): its spread is unknown."
    return (
        f"**{name}** over {s.n} seeds: test accuracy {pct(s.mean, 2)} ± {s.std * 100:.2f} "
        f"(sd), from {pct(min(accs), 2)} to {pct(max(accs), 2)}; the 95 % interval of the mean "
        f"is [{pct(s.low, 2)}, {pct(s.high, 2)}]. Only the seed changed between these runs "
        f"(initial weights, batch order, augmentation draws): a difference between two variants "
        f"of the size of this spread says nothing."
    )


def describe_comparison(comparison) -> str:
    """Each variant against the baseline: the paired difference, its interval and the verdict,
    then a sentence on what can be concluded (a :class:`course_lib.chapter.VariantComparison`)."""
    lines = []
    for d in comparison.differences.values():
        s = comparison.summaries[d.name]
        line = f"- **{d.name}**: {pct(s.mean, 2)}"
        if s.n > 1:
            line += f" ± {s.std * 100:.2f}"
        line += f" (n = {s.n}); {d.name} − {d.baseline} = {points(d.diff)}"
        if d.test == "paired t":
            line += (
                f", 95 % CI [{d.low * 100:+.2f}, {d.high * 100:+.2f}] over {d.n_pairs} "
                f"seed pairs, paired t-test p = {format_p(d.p)}"
            )
            if d.p_holm == d.p_holm:  # the family's Holm p (NaN where it does not judge)
                line += f" (Holm over the course's family {format_p(d.p_holm)})"
        line += f": **{d.verdict()}**"
        if d.test == "paired t" and d.detectable == d.detectable:
            line += (
                f" — {d.design()} at 80 % power (the power for a true difference of "
                f"{abs(d.diff) * 100:.2f} points is {d.power * 100:.0f} %)"
            )
        line += "."
        lines.append(line)
    significant = [d for d in comparison.differences.values() if d.significant]
    if not comparison.differences:
        return ""
    if all(d.test == "none" for d in comparison.differences.values()):
        return "\n".join(lines) + "\n\nWith one run per variant nothing can be tested."
    if significant:
        verdict = ", ".join(
            f"{d.name} ({'better' if d.diff > 0 else 'worse'})" for d in significant
        )
        end = f"The difference survives the correction for: {verdict}."
    elif any(d.family_verdict == "exploratory" for d in comparison.differences.values()):
        end = (
            "Every tested comparison here is exploratory in the course's family "
            "(results/hypotheses.toml): its seeds chose the profile, or the family does not "
            "list it. The intervals say what these runs found; only the family's confirmatory "
            "seeds give verdicts. Each line says how large a difference this design could find."
        )
    else:
        end = (
            "No difference survives: every interval includes 0 or the corrected p is above "
            f"0.05 (a verdict needs at least {MIN_PAIRS} seed pairs). That is not evidence "
            "that the variants are equal: each line above says how large a difference this "
            "design could have found, and smaller ones stay hidden in the seed-to-seed noise."
        )
    return "\n".join(lines) + "\n\n" + end


def confusions(matrix: Sequence[Sequence[int]], classes: Sequence[str], top: int = 3):
    """The ``top`` most frequent (true, predicted, share of the true class) mistakes."""
    m = np.asarray(matrix, dtype=float)
    rates = m / m.sum(axis=1, keepdims=True).clip(min=1)
    np.fill_diagonal(rates, 0)
    order = np.dstack(np.unravel_index(np.argsort(-rates, axis=None), rates.shape))[0][:top]
    return [(classes[i], classes[j], float(rates[i, j])) for i, j in order]


def describe_confusion(metrics: dict, classes: Sequence[str]) -> str:
    """Best and worst classes and the most frequent mistakes of one run."""
    per_class = metrics["per_class_accuracy"]
    ranked = sorted(per_class.items(), key=lambda kv: kv[1])
    worst, best = ranked[:2], ranked[-2:][::-1]
    mistakes = confusions(metrics["confusion_matrix"], classes)
    said = "; ".join(f"{t} taken for {p} ({pct(r)} of the {t} images)" for t, p, r in mistakes)
    return (
        f"Test accuracy {pct(metrics['accuracy'])} overall, but uneven: best "
        f"{best[0][0]} ({pct(best[0][1])}) and {best[1][0]} ({pct(best[1][1])}), worst "
        f"{worst[0][0]} ({pct(worst[0][1])}) and {worst[1][0]} ({pct(worst[1][1])}). The most "
        f"frequent mistakes: {said}."
    )


def describe_strip(correct: Sequence[bool], classes_true: Sequence[str]) -> str:
    """How many of the strip's images are right, and which classes the wrong ones are."""
    wrong = sorted({c for c, ok in zip(classes_true, correct, strict=True) if not ok})
    text = f"{sum(correct)} of the {len(correct)} images classified correctly"
    if wrong:
        text += f"; the mistakes are on {', '.join(wrong)}"
    return text + "."


def peak_positions(maps: np.ndarray) -> list[tuple[int, int]]:
    """The (row, column) of each map's maximum."""
    return [tuple(int(v) for v in np.unravel_index(np.argmax(m), m.shape)) for m in maps]


def central_fraction(h: int, w: int) -> float:
    """The share of an h x w map's positions in its middle half of rows and columns: where a
    peak placed uniformly at random would land this often (1/4 for even sides)."""
    rows = sum(h / 4 <= r < 3 * h / 4 for r in range(h))
    cols = sum(w / 4 <= c < 3 * w / 4 for c in range(w))
    return rows * cols / (h * w)


def central_peak_chance(cells: int, size: int) -> float:
    """Where a CAM computed on a ``cells`` x ``cells`` layer and upsampled bilinearly to ``size``
    x ``size`` pixels can peak: a bilinear interpolation has its maxima at the cells' centres,
    ``(i + 0.5) * size / cells - 0.5`` (half-pixel alignment, as OpenCV and
    ``align_corners=False``). The share of those centres in the middle half of rows and columns
    is the chance that a peak at a random cell lands there: 9 of 49 (18.4 %) for AlexNet's 7 x 7
    relu5 at 128 px, not the 25 % of the area."""
    centres = [round((i + 0.5) * size / cells - 0.5) for i in range(cells)]
    inside = sum(size / 4 <= c < 3 * size / 4 for c in centres)
    return inside * inside / (cells * cells)


def describe_cam_peaks(name: str, maps: np.ndarray, cells: int | None = None) -> str:
    """Where a set of CAMs peaks: in the central quarter of the image's area (the middle half of
    its rows and columns, where CIFAR-10's objects mostly are) or outside it, with the share
    that peaks at random cells would put there (:func:`central_peak_chance` for maps upsampled
    from a ``cells`` x ``cells`` layer; every pixel alike when ``cells`` is not given), and its
    binomial p-value."""
    from scipy.stats import binomtest

    h, w = maps.shape[-2:]
    central = [h / 4 <= r < 3 * h / 4 and w / 4 <= c < 3 * w / 4 for r, c in peak_positions(maps)]
    chance = central_fraction(h, w) if cells is None or h != w else central_peak_chance(cells, h)
    p = binomtest(sum(central), len(central), chance, alternative="greater").pvalue
    return (
        f"{name}: {sum(central)} of {len(central)} maps peak in the central quarter of the image "
        f"(the middle half of its rows and columns), {len(central) - sum(central)} outside it; "
        f"peaks placed at random would land there {chance * 100:.0f} % of the time "
        f"(one-sided binomial p = {format_p(p)})"
    )


def describe_epochwise(name: str, runs: Sequence[Run], baseline: str,
                       baseline_runs: Sequence[Run]) -> str:  # fmt: skip
    """Validation accuracy epoch by epoch, variant minus baseline, paired by seed: does the
    variant learn faster early on, and does its lead (or lag) last?"""
    by_seed = {r.metrics["seed"]: r for r in baseline_runs}
    pairs = [(r, by_seed[r.metrics["seed"]]) for r in runs if r.metrics["seed"] in by_seed]
    if not pairs:
        return f"{name} and {baseline} share no seed: no epoch-by-epoch comparison."
    epochs = min(len(r.history.val_acc) for pair in pairs for r in pair)
    gaps = [
        statistics.fmean(a.history.val_acc[e] - b.history.val_acc[e] for a, b in pairs)
        for e in range(epochs)
    ]
    ahead = [e + 1 for e, g in enumerate(gaps) if g > 0]
    listed = ", ".join(f"epoch {e + 1}: {points(g)}" for e, g in enumerate(gaps))
    text = (
        f"Validation accuracy of {name} minus {baseline}, mean over {len(pairs)} seed pairs — "
        f"{listed}. "
    )
    if not ahead:
        return text + f"{name} is behind in every epoch."
    if len(ahead) == epochs:
        return text + f"{name} is ahead in every epoch."
    return (
        text + f"{name} is ahead in epoch(s) {', '.join(map(str, ahead))} and behind in the others."
    )


def data_source(run: Run) -> str:
    """The data and device a run's numbers come from, for a sentence."""
    m = run.metrics
    return f"{m['data_source']}, {m['device']}"


def describe_cams(maps: dict) -> str:
    """Where each run's GradCAM maps peak (``{name: (n, H, W)}``, as ``chapter.cam_section``,
    whose ``cells`` gives the side of each run's CAM layer)."""
    cells = getattr(maps, "cells", {})
    return "; ".join(
        describe_cam_peaks(f"{name} GradCAM", m, cells.get(name)) for name, m in maps.items()
    )
