"""One leaderboard from the results files every chapter writes.

Rows are grouped first by configuration (profile, image size, epochs, training and validation
images, batch, learning rate, precision, data source): each configuration is its own section,
never mixed with another. Inside a section, the runs of one variant (same name and setting hash)
with different seeds make one entry, and every entry is compared with the baseline of the same
section by :func:`.stats.compare_to_baseline`: the seed-paired difference with its 95 % interval,
Holm-corrected p-values, "significant" only with at least three pairs. Missing variants,
duplicate files and unreadable rows are reported, not fatal.

The headline (``current_only=True``, chapter 09) holds the recipes each profile trains today
(:func:`.reference.is_current`); rows of a superseded recipe are set aside in
``Leaderboard.superseded``. Rows under ``results/archive/`` are never read by it: the archive page
(:func:`build_archive`, :func:`format_archive`, ``results/archive/README.md``) lists them, labelled
as superseded, with the superseded rows still kept in ``results/<profile>/``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..runtime.paths import results_dir
from .results import ARCHIVE, read_archive, read_results, recorded, source_reported
from .stats import Difference, Summary, format_p, holm, paired_difference, summarize

# what the course's chapters produce; the leaderboard says which of these have no results yet
EXPECTED_VARIANTS = (
    "alexnet-none", "alexnet-triplet", "alexnet-simam", "alexnet-se", "alexnet-cbam",
    "alexnet-batchnorm", "alexnet-triplet_static", "alexnet-psa", "cifar_resnet-none",
    "cifar_resnet-psa", "moganet_xt", "moganet_shallow", "moganet_shallow-no_decompose",
    "moganet_shallow-no_gating", "vgg16_bn", "vgg16_bn-self_attention",
)  # fmt: skip
# what a variant is compared with when both are in a section: its control (the BatchNorm
# AlexNet for AlexNet-PSA), the same network without the module, or the full model of an
# ablation; AlexNet variants not listed are compared with plain AlexNet
BASELINES = {
    "alexnet-psa": "alexnet-batchnorm",
    "cifar_resnet-psa": "cifar_resnet-none",
    "epsanet50-none": "resnet50-none",
    "moganet_xt": "cifar_resnet-none",
    "moganet_shallow-no_decompose": "moganet_shallow",
    "moganet_shallow-no_gating": "moganet_shallow",
    "vgg16_bn-self_attention": "vgg16_bn",
    "cifar_resnet-self_attention": "cifar_resnet-none",
    "moganet_shallow": "cifar_resnet-none",
    "alexnet-psa_shortcut": "alexnet-batchnorm",
}
REQUIRED = ("name", "accuracy", "seed", "image_size", "profile")
# the fields that make two runs comparable; a change in any starts another section
CONFIG_FIELDS = ("profile", "image_size", "epochs", "train_images", "val_images", "batch_size",
                 "lr", "precision", "data_source", "augment")  # fmt: skip


@dataclass
class Entry:
    """One variant in one configuration, aggregated over its seeds."""

    name: str
    config: dict
    accuracies: dict[int, float]  # seed -> test accuracy
    params: int
    flops: int | None
    train_images_per_s: float
    inference_images_per_s: float
    device: str
    reduced: bool = False
    source_reported: dict | None = None
    vs_baseline: Difference | None = None
    family: object | None = None  # the family's Verdict where it lists this comparison
    rows: list[dict] = field(default_factory=list, repr=False)  # the results rows, one per seed

    @property
    def summary(self) -> Summary:
        return summarize(list(self.accuracies.values()))

    @property
    def n(self) -> int:
        return len(self.accuracies)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.accuracies)


@dataclass
class Section:
    """The entries of one configuration."""

    config: dict
    entries: list[Entry]

    def title(self) -> str:
        c = self.config
        held_out = f"{c['val_images']:,} held out" if c["val_images"] else "no validation split"
        precision = c["precision"] or "precision not recorded"
        return (
            f"{c['profile']}: {c['image_size']} px, {c['epochs']} epochs, "
            f"{c['train_images']:,} training images ({held_out}), batch {c['batch_size']}, "
            f"lr {c['lr']}, {precision}"
            + ("" if c["augment"] else ", no augmentation")
            + f"; {c['data_source']}"
        )


@dataclass
class Leaderboard:
    sections: list[Section]
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # with ``current_only``: the sections of settings the profile does not train today (a
    # superseded recipe, or a run at settings of its own), kept out of ``sections``
    superseded: list[Section] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        return [e for s in self.sections for e in s.entries]

    def notes(self) -> list[str]:
        notes = []
        if self.missing:
            notes.append(f"no results yet for: {', '.join(self.missing)}")
        notes += [f"duplicate result ignored: {d}" for d in self.duplicates]
        notes += [f"unusable result skipped: {s}" for s in self.skipped]
        if self.superseded:
            runs = sum(e.n for s in self.superseded for e in s.entries)
            notes.append(
                f"{runs} runs at {len(self.superseded)} setting(s) the profile does not train "
                "today left out of the tables (superseded recipes: the archive page, "
                "results/archive/README.md, lists them)"
            )
        return notes


def _read_rows(folder: Path, profile: str | None) -> tuple[list[dict], list[str], list[str]]:
    return _usable(read_results(folder / profile if profile else folder), profile)


def _usable(found: list[dict], profile: str | None) -> tuple[list[dict], list[str], list[str]]:
    """The rows a leaderboard can use (of ``profile`` when given), the duplicates and the
    unusable rows it leaves out."""
    rows, seen, duplicates, skipped = [], {}, [], []
    for row in found:
        if "error" in row:
            skipped.append(f"{row['file']} ({row['error']})")
            continue
        missing = [k for k in REQUIRED if row.get(k) is None]
        if missing:
            skipped.append(f"{row.get('file')} (no {', '.join(missing)})")
            continue
        if profile and row["profile"] != profile:
            continue
        run_key = (
            row.get("run_dir") or row.get("setting"),
            *_config(row),
            row["name"],
            row["seed"],
        )
        if run_key in seen:
            duplicates.append(f"{row.get('file')} (same run as {seen[run_key]})")
            continue
        seen[run_key] = row.get("file")
        rows.append(row)
    return rows, duplicates, skipped


def _config(row: dict) -> tuple:
    return tuple(recorded(row, k) for k in CONFIG_FIELDS)


def build_leaderboard(
    folder: str | Path | None = None,
    profile: str | None = None,
    baseline: str = "alexnet-none",
    expected: Sequence[str] = EXPECTED_VARIANTS,
    current_only: bool = False,
) -> Leaderboard:
    """Aggregate the results files under ``folder`` (default ``results/``), for one profile;
    ``results/archive/`` is never read. With ``current_only`` the tables hold the recipes the
    profile trains today, the sections of superseded recipes go to ``superseded``, and a
    variant the profile does not train is not reported missing."""
    rows, duplicates, skipped = _read_rows(Path(folder or results_dir()), profile)
    superseded: list[dict] = []
    if current_only:
        from .reference import is_current

        superseded = [r for r in rows if not is_current(r)]
        rows = [r for r in rows if is_current(r)]
        if profile is not None:
            expected = [v for v in expected if v not in not_trained(profile)]
    built = _sections(rows, baseline)
    apply_family(built, rows)
    present = {e.name for s in built for e in s.entries}
    return Leaderboard(
        built,
        [v for v in expected if v not in present],
        duplicates,
        skipped,
        superseded=_sections(superseded, baseline),
    )


def build_archive(
    folder: str | Path | None = None, profile: str = "quick", baseline: str = "alexnet-none"
) -> Leaderboard:
    """The superseded results of ``profile``, one section per configuration as in the
    leaderboard: every row under ``results/archive/`` and the rows of a superseded recipe still
    in ``results/<profile>/`` (kept there for a reading that quotes them). Each row's ``file``
    says where it lies, relative to ``results/``; for the archive page (:func:`format_archive`)."""
    from .reference import is_current

    root = Path(folder or results_dir())
    kept = [
        {**r, "file": f"{profile}/{r['file']}"}
        for r in read_results(root / profile)
        if "error" in r or not is_current(r)
    ]
    # the rows in results/<profile>/ first: an archived copy of one of them is the duplicate
    rows, duplicates, skipped = _usable(kept + read_archive(folder=root), profile)
    sections = _sections(rows, baseline)
    for section in sections:  # no family judges a superseded recipe: an interval, no verdict
        for e in section.entries:
            if e.vs_baseline is not None:
                e.vs_baseline = replace(e.vs_baseline, p_holm=math.nan,
                                        family_verdict="superseded: exploratory")  # fmt: skip
    return Leaderboard(sections, [], duplicates, skipped)


def not_trained(profile: str) -> set[str]:
    """The run names of chapters 05-07's variants that ``profile`` does not train (their
    experiment is ``None`` there, e.g. MogaNet-XT and VGG16-BN in ``quick``)."""
    from ..profiles import experiment_settings, get_profile
    from ..variants import CHAPTER_VARIANTS

    p = get_profile(profile)
    return {
        v.name or f"{v.model}-{v.attention or 'none'}"
        for found in CHAPTER_VARIANTS.values()
        for v in found
        if experiment_settings(p, v.experiment) is None
    }


def _sections(rows: list[dict], baseline: str) -> list[Section]:
    sections: dict[tuple, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        sections[_config(row)][(row["name"], row.get("setting"))].append(row)

    built = []
    for config_key, variants in sections.items():
        entries = [_entry(runs) for runs in variants.values()]
        _compare_within(entries, baseline)
        baselines = {e.vs_baseline.baseline for e in entries if e.vs_baseline is not None}
        entries.sort(key=lambda e: (e.reduced, e.name.split("-")[0], e.name not in baselines,
                                    -e.summary.mean))  # fmt: skip
        built.append(Section(dict(zip(CONFIG_FIELDS, config_key, strict=True)), entries))
    built.sort(key=lambda s: (s.config["profile"], -(s.config["image_size"] or 0),
                              -len(s.entries)))  # fmt: skip
    return built


def baseline_for(name: str, default: str = "alexnet-none") -> str | None:
    """The variant ``name`` is compared with (see :data:`BASELINES`), or None."""
    if name in BASELINES:
        return BASELINES[name]
    return default if name.startswith("alexnet-") and name != default else None


def _compare_within(entries: list[Entry], default: str) -> None:
    """Each entry against its baseline in the same section, paired by seed; Holm-corrected over
    the comparisons with the same baseline. :func:`apply_family` then replaces these verdicts
    with the course's one family's, so that every table gives one verdict per comparison."""
    by_name = {e.name: e for e in entries}
    families: dict[str, list[Difference]] = defaultdict(list)
    for e in entries:
        base = baseline_for(e.name, default)
        if base in by_name:
            families[base].append(
                paired_difference(e.accuracies, by_name[base].accuracies, e.name, base)
            )
    for diffs in families.values():
        for d, p in zip(diffs, holm([d.p for d in diffs]), strict=True):
            by_name[d.name].vs_baseline = Difference(**{**d.__dict__, "p_holm": p})


def apply_family(sections: list[Section], rows: list[dict]) -> None:
    """Give every comparison the verdict of the course's one family
    (``results/hypotheses.toml``, :mod:`.hypotheses`): a comparison the family lists, on its
    confirmatory seeds, gets the family's Holm-adjusted p and verdict; on its exploratory seeds
    (or a mix), the family's Holm p on those seeds and the verdict "exploratory"; a comparison
    the family does not list is "exploratory" and never significant."""
    from .hypotheses import judged_family, load_family, with_family

    family = load_family()
    judged = judged_family(rows, family)
    for section in sections:
        for e in section.entries:
            if e.vs_baseline is None:
                continue
            e.vs_baseline, found = with_family(
                e.vs_baseline, e.name, e.vs_baseline.baseline, e.accuracies, judged, family
            )
            if found is not None:
                e.family = found


def _entry(runs: list[dict]) -> Entry:
    first = runs[0]
    return Entry(
        name=first["name"],
        config={k: recorded(first, k) for k in CONFIG_FIELDS},
        accuracies={r["seed"]: r["accuracy"] for r in runs},
        params=first.get("params", 0),
        flops=first.get("flops"),
        train_images_per_s=statistics.fmean(r.get("train_images_per_s", 0) for r in runs),
        inference_images_per_s=statistics.fmean(r.get("inference_images_per_s", 0) for r in runs),
        device=first.get("device", "unknown"),
        reduced=bool(first.get("reduced", False)),
        source_reported=source_reported(first["name"]),
        rows=list(runs),
    )


def section_provenance(section: Section) -> str:
    """Where a section's runs come from (devices, dates, code) and whether its configuration is
    the one its profile defines today: an older one (say, before the validation hold-out) is
    named as such, with what changed."""
    from ..profiles import PROFILES

    c, rows = section.config, [r for e in section.entries for r in e.rows]
    devices = sorted(
        {
            (r.get("device") or "device not recorded")
            + (f" [{r['cpu_isa']}]" if r.get("cpu_isa") else "")
            for r in rows
        }
    )
    dates = sorted({r.get("date") or "date not recorded" for r in rows})
    commits = sorted({r.get("git_commit") or "not recorded" for r in rows})
    text = (
        f"**{c['profile']}, {c['image_size']} px, {c['epochs']} epochs**: {len(rows)} runs on "
        f"{', '.join(devices)}, {dates[0]}"
        + (f" to {dates[-1]}" if len(dates) > 1 else "")
        + f"; code {', '.join(commits)}"
    )
    today = PROFILES.get(c["profile"])
    if today is not None:
        held_out = today.val_size or 0
        expected = (today.train_subset or 50_000 - held_out, held_out)
        found = (c["train_images"], c["val_images"] or 0)
        if found[1] != expected[1] or (today.train_subset is None and found[0] != expected[0]):
            text += (
                f". **An older configuration of this profile**: {found[0]:,} training images "
                f"and {found[1]:,} held out for validation, where `{c['profile']}` now trains "
                f"on {expected[0]:,} and holds out {expected[1]:,}"
            )
    dirty = sum(bool(r.get("dirty")) for r in rows)
    if dirty:
        text += f". {dirty} of the runs were trained from uncommitted code (`dirty: true`)"
    return text + "."


def format_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: one heading and table per configuration."""
    blocks = []
    for section in board.sections:
        lines = [
            f"**{section.title()}**",
            "",
            "| variant | runs | test accuracy, mean ± sd [95 % CI] | compared with | "
            "difference [95 % CI] | p (family Holm) | verdict | detectable at 80 % power "
            "(α / α/k) | params | "
            "MFLOPs | train img/s | source notebooks reported (their setting) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        baselines = {e.vs_baseline.baseline for e in section.entries if e.vs_baseline}
        for e in section.entries:
            s = e.summary
            acc = f"{s.mean * 100:.2f}"
            if e.n >= 2:
                acc += f" ± {s.std * 100:.2f} [{s.low * 100:.2f}, {s.high * 100:.2f}]"
            d = e.vs_baseline
            diff, p, versus, detectable = "—", "", "", ""
            verdict = "baseline" if e.name in baselines else "—"
            if d is not None:
                versus = d.baseline
                diff = f"{d.diff * 100:+.2f}"
                if d.test != "none":
                    diff += f" [{d.low * 100:+.2f}, {d.high * 100:+.2f}]"
                    p = format_p(d.p) + ("" if math.isnan(d.p_holm) else f" ({format_p(d.p_holm)})")
                verdict = d.verdict()
                if e.family is not None and e.family.detectable == e.family.detectable:
                    f = e.family  # at the family's fixed levels alpha and alpha / k
                    detectable = (
                        f"≥ {f.detectable * 100:.1f} / {f.detectable_strictest * 100:.1f} "
                        f"({d.n_pairs} pairs)"
                    )
                elif d.detectable == d.detectable:  # not NaN: a paired design with spread
                    detectable = f"≥ {d.detectable * 100:.1f} ({d.n_pairs} pairs)"
            reported = "; ".join(
                f"{r['accuracy'] * 100:.2f} ({r['setting']})" for r in (e.source_reported or [])
            )
            flops = f"{e.flops / 1e6:.1f}" if e.flops else ""
            name = f"{e.name} (reduced)" if e.reduced else e.name
            lines.append(
                f"| {name} | {e.n} | {acc} | {versus} | {diff} | {p} | {verdict} | {detectable} | "
                f"{e.params:,} | "
                f"{flops} | "
                f"{e.train_images_per_s:.0f} | {reported} |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_archive(board: Leaderboard) -> str:
    """The superseded sections (:func:`build_archive`) as Markdown for the archive page: each
    section's table as :func:`format_markdown` writes it, under a heading that calls it
    superseded, with where its rows lie and where they come from."""
    blocks = []
    for section in board.sections:
        c = section.config
        rows = [r for e in section.entries for r in e.rows]
        places = defaultdict(int)
        for r in rows:
            places[str(Path(r["file"]).parent)] += 1
        where = ", ".join(
            f"`results/{place}/` ({n} run{'s' if n != 1 else ''}"
            + ("" if place.startswith(ARCHIVE) else ", kept there for a chapter's reading")
            + ")"
            for place, n in sorted(places.items())
        )
        blocks.append(
            f"### Superseded: {c['profile']}, {c['image_size']} px, {c['epochs']} epochs, "
            f"{c['train_images']:,} training images\n\n"
            + format_markdown(Leaderboard([section]))
            + f"\n\nRows: {where}. {section_provenance(section)}"
        )
    return "\n\n".join(blocks)


def plot_leaderboard(section: Section, path: str | Path | None = None):
    """Left: every seed's test accuracy (points) with the mean and its 95 % interval, on an axis
    from chance to 100 %; right: each variant minus the baseline, paired by seed, with its 95 %
    interval and the zero line, n and the family's Holm p beside it, green where significant in
    the family and orange where not (a legend says so). The right panel is where a difference
    is judged; a section with no paired difference (one variant, or no shared seeds) gets the
    left panel alone."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    entries = [e for e in section.entries if not e.reduced]
    diffs = [e for e in entries if e.vs_baseline is not None]
    panels = 2 if diffs else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 0.55 * len(entries) + 1.9),
                             dpi=100, squeeze=False)  # fmt: skip
    ax_a = axes[0, 0]
    for y, e in enumerate(entries):
        values = [v * 100 for v in e.accuracies.values()]
        ax_a.scatter(values, [y] * len(values), s=14, color="0.5", zorder=2)
        s = e.summary
        xerr = None if e.n < 2 else [[s.ci95 * 100], [s.ci95 * 100]]
        ax_a.errorbar(s.mean * 100, y, xerr=xerr, fmt="D", color="C0", capsize=4, zorder=3)
    ax_a.set(yticks=range(len(entries)), yticklabels=[f"{e.name} (n={e.n})" for e in entries],
             ylim=(-0.7, len(entries) - 0.3), xlim=(10, 100),
             xlabel="test accuracy (%): seeds (grey), mean and 95 % CI (blue)",
             title="accuracy (axis from chance to 100 %)")  # fmt: skip
    ax_a.grid(alpha=0.3, axis="x")
    if diffs:
        ax_d = axes[0, 1]
        reach = [abs(v) for e in diffs for v in (e.vs_baseline.low, e.vs_baseline.high,
                                                   e.vs_baseline.diff) if v == v]  # fmt: skip
        # room for the labels inside the frame, and never narrower than +-5 points, so that a
        # gap of a tenth of a point does not fill the panel
        half = max(max(reach + [0.0]) * 100 * 1.35, 5.0)
        for y, e in enumerate(diffs):
            d = e.vs_baseline
            colour = "C2" if d.significant else "C1"
            xerr = (None if d.test == "none"
                    else [[(d.diff - d.low) * 100], [(d.high - d.diff) * 100]])  # fmt: skip
            ax_d.errorbar(d.diff * 100, y, xerr=xerr, fmt="o", color=colour, capsize=4)
            holm_p = (
                "exploratory" if math.isnan(d.p_holm) else f"family Holm p {format_p(d.p_holm)}"
            )
            note = f"{d.n_pairs} pair{'s' if d.n_pairs != 1 else ''}, {holm_p}"
            ax_d.annotate(note, (d.diff * 100, y), xytext=(0, 7), textcoords="offset points",
                          ha="center", fontsize=7, annotation_clip=True)  # fmt: skip
        ax_d.axvline(0, color="k", lw=0.8)
        ax_d.set(yticks=range(len(diffs)),
                 yticklabels=[f"{e.name} − {e.vs_baseline.baseline}" for e in diffs],
                 ylim=(-0.7, len(diffs) - 0.2), xlim=(-half, half),
                 xlabel="paired difference (points), 95 % CI",
                 title="difference to the baseline")  # fmt: skip
        ax_d.grid(alpha=0.3, axis="x")
        ax_d.legend(handles=[
            Line2D([], [], marker="o", color="C2", ls="",
                   label="significant in the family (confirmatory seeds)"),
            Line2D([], [], marker="o", color="C1", ls="",
                   label="exploratory, pending or not significant"),
        ], fontsize=7, loc="lower right")  # fmt: skip
    fig.suptitle(section.title(), fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_tradeoffs(section: Section, path: str | Path | None = None):
    """Accuracy against parameters and against training throughput, one point per variant with
    its 95 % interval over seeds (none drawn for a single run), on axes from 0 (parameters,
    images/s) and from chance (accuracy), so that a 0.2 % parameter gap looks as small as it is.
    Throughput is the committed CPU bench's where it measured the variant (idle machine), else
    the runs' own (as trained, on a shared machine), and the axis says which."""
    import matplotlib.pyplot as plt

    from .bench import recorded_speeds

    c = section.config
    on_cpu = str(section.entries[0].device if section.entries else "").startswith("CPU")
    bench = recorded_speeds(c["image_size"], c["precision"] or "bf16") if on_cpu else None
    speeds = (bench or {}).get("speeds", {})
    fig, (ax_p, ax_t) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    from_bench = []
    for i, e in enumerate(e for e in section.entries if not e.reduced):
        s = e.summary
        yerr = None if e.n < 2 else s.ci95 * 100
        model, _, attention = e.name.partition("-")
        bench_speed = speeds.get((model, attention or "none"), {}).get("train")
        from_bench.append(bench_speed is not None)
        speed = bench_speed if bench_speed is not None else e.train_images_per_s
        for ax, x in ((ax_p, e.params / 1e6), (ax_t, speed)):
            ax.errorbar(x, s.mean * 100, yerr=yerr, fmt="o", color=f"C{i % 10}", capsize=3,
                        label=f"{e.name} (n={e.n})")  # fmt: skip
    if from_bench and all(from_bench):
        speed_label = f"training images / s (bench of {bench['date']}, idle machine)"
    else:
        speed_label = "training images / s (as trained, shared machine)"
    ax_p.set(xlabel="parameters (M)", ylabel="test accuracy (%)", title="accuracy vs parameters",
             xlim=(0, None), ylim=(10, 100))  # fmt: skip
    ax_t.set(xlabel=speed_label, title="accuracy vs training speed", xlim=(0, None),
             ylim=(10, 100))  # fmt: skip
    for ax in (ax_p, ax_t):
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=7, loc="best")
    fig.suptitle(section.title() + "; error bars: 95 % CI over seeds", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
