"""One leaderboard from the results files every chapter writes.

Runs of the same variant (same name, image size, epochs, training-set size, data source and
profile) with different seeds are aggregated: mean, standard deviation, 95 % confidence interval
and number of runs. A difference to the baseline is called significant only when Welch's t-test
(unequal variances) gives p < 0.05 with at least two runs on each side; otherwise it is reported
as within noise. Missing variants, duplicate files and unreadable rows are reported, not fatal.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .paths import results_dir
from .results import read_results
from .stats import summarize, verdict, welch_test

# what the course's chapters produce; the leaderboard says which of these have no results yet
EXPECTED_VARIANTS = (
    "alexnet-none", "alexnet-triplet", "alexnet-simam", "alexnet-se", "alexnet-cbam",
    "alexnet-psa", "resnet50-none", "epsanet50-none", "moganet_xtiny-none", "vgg16-none",
    "vgg16-self_attention",
)  # fmt: skip
REQUIRED = ("name", "accuracy", "seed", "image_size", "profile")
GROUP_FIELDS = ("name", "image_size", "epochs", "train_images", "data_source", "profile")


@dataclass
class Entry:
    """One variant aggregated over its seeds."""

    name: str
    image_size: int
    epochs: int
    train_images: int
    profile: str
    data_source: str
    accuracies: list[float]
    seeds: list[int]
    params: int
    flops: int | None
    train_images_per_s: float
    inference_images_per_s: float
    device: str
    reduced: bool = False
    seed_reported: dict | None = None
    p_value: float | None = None
    verdict: str = ""

    @property
    def n(self) -> int:
        return len(self.accuracies)

    @property
    def mean(self) -> float:
        return summarize(self.accuracies)["mean"]

    @property
    def std(self) -> float:
        return summarize(self.accuracies)["std"]

    @property
    def ci95(self) -> float:
        """Half-width of the 95 % confidence interval of the mean (t distribution)."""
        return summarize(self.accuracies)["ci95"]


@dataclass
class Leaderboard:
    entries: list[Entry]
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = []
        if self.missing:
            notes.append(f"no results yet for: {', '.join(self.missing)}")
        for d in self.duplicates:
            notes.append(f"duplicate result ignored: {d}")
        for s in self.skipped:
            notes.append(f"unusable result skipped: {s}")
        return notes


def build_leaderboard(
    folder: str | Path | None = None,
    profile: str | None = None,
    baseline: str = "alexnet-none",
    expected: Sequence[str] = EXPECTED_VARIANTS,
    alpha: float = 0.05,
) -> Leaderboard:
    """Aggregate the results files under ``folder`` (default ``results/``), for one profile."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    seen: dict[tuple, str] = {}
    duplicates, skipped = [], []
    folder = Path(folder or results_dir())
    # results/<profile>/*.json are the per-run rows; files beside them (sweeps, benches) are not
    for row in read_results(folder / profile if profile else folder):
        if "error" in row:
            skipped.append(f"{row['file']} ({row['error']})")
            continue
        if any(row.get(k) is None for k in REQUIRED):
            missing = [k for k in REQUIRED if row.get(k) is None]
            skipped.append(f"{row.get('file')} (no {', '.join(missing)})")
            continue
        if profile and row["profile"] != profile:
            continue
        key = tuple(row.get(k) for k in GROUP_FIELDS)
        run_key = (*key, row["seed"])
        if run_key in seen:
            duplicates.append(f"{row.get('file')} (same run as {seen[run_key]})")
            continue
        seen[run_key] = row.get("file")
        groups[key].append(row)

    entries = []
    for rows in groups.values():
        first = rows[0]
        entries.append(
            Entry(
                name=first["name"],
                image_size=first["image_size"],
                epochs=first.get("epochs", 0),
                train_images=first.get("train_images", 0),
                profile=first["profile"],
                data_source=first.get("data_source", "unknown"),
                accuracies=[r["accuracy"] for r in rows],
                seeds=[r["seed"] for r in rows],
                params=first.get("params", 0),
                flops=first.get("flops"),
                train_images_per_s=statistics.mean(r.get("train_images_per_s", 0) for r in rows),
                inference_images_per_s=statistics.mean(
                    r.get("inference_images_per_s", 0) for r in rows
                ),
                device=first.get("device", "unknown"),
                reduced=bool(first.get("reduced", False)),
                seed_reported=first.get("seed_reported"),
            )
        )
    by_setting = {(e.name, e.image_size, e.epochs, e.train_images, e.profile): e for e in entries}
    for e in entries:
        base = by_setting.get((baseline, e.image_size, e.epochs, e.train_images, e.profile))
        if base is None or base is e:
            continue
        e.p_value = welch_test(e.accuracies, base.accuracies)
        e.verdict = verdict(e.accuracies, base.accuracies, baseline, alpha)
    entries.sort(key=lambda e: (e.reduced, e.name.split("-")[0], -e.mean))
    present = {e.name for e in entries}
    return Leaderboard(entries, [v for v in expected if v not in present], duplicates, skipped)


def format_markdown(board: Leaderboard) -> str:
    """The leaderboard as a Markdown table (for README.md and the notebook)."""
    lines = [
        "| variant | px | epochs | runs | accuracy (mean ± std) | 95% CI | vs baseline | "
        "params | MFLOPs | train img/s | infer img/s | seed reported |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in board.entries:
        std = "" if e.n < 2 else f" ± {e.std * 100:.2f}"
        ci = "" if e.n < 2 else f"± {e.ci95 * 100:.2f}"
        reported = f"{e.seed_reported['accuracy'] * 100:.2f}" if e.seed_reported else ""
        name = f"{e.name} (reduced)" if e.reduced else e.name
        flops = f"{e.flops / 1e6:.1f}" if e.flops else ""
        lines.append(
            f"| {name} | {e.image_size} | {e.epochs} | {e.n} | {e.mean * 100:.2f}{std} | {ci} | "
            f"{e.verdict} | {e.params:,} | {flops} | {e.train_images_per_s:.0f} | "
            f"{e.inference_images_per_s:.0f} | {reported} |"
        )
    return "\n".join(lines)


def plot_tradeoffs(board: Leaderboard, path: str | Path | None = None):
    """Accuracy against parameters and against training throughput, one point per variant."""
    import matplotlib.pyplot as plt

    fig, (ax_p, ax_t) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, e in enumerate(e for e in board.entries if not e.reduced):
        yerr = None if e.n < 2 else e.std * 100
        for ax, x in ((ax_p, e.params / 1e6), (ax_t, e.train_images_per_s)):
            ax.errorbar(x, e.mean * 100, yerr=yerr, fmt="o", color=f"C{i % 10}", capsize=3,
                        label=e.name)  # fmt: skip
    ax_p.set(xlabel="parameters (M)", ylabel="test accuracy (%)", title="accuracy vs parameters")
    ax_t.set(xlabel="training images / s", title="accuracy vs training throughput")
    for ax in (ax_p, ax_t):
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=7, loc="best")
    first = next((e for e in board.entries if not e.reduced), None)
    if first is not None:
        fig.suptitle(
            f"{first.profile} profile, {first.image_size} px, {first.epochs} epochs; "
            f"{first.data_source}; {first.device}; error bars: std over seeds",
            fontsize=8,
        )
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
