"""The steps every chapter repeats, so that a notebook reads as the chapter's argument.

Load the data for a profile, train (or load) a model, compare runs in one table, draw the
prediction strip and the GradCAM / GradCAM++ maps on a fixed set of test images, and write the
results row the leaderboard reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .data import EvalTransform, ImageDataset, load_course_data
from .experiments.hypotheses import judged_family, with_family
from .experiments.measure import count_flops, count_params
from .experiments.results import source_reported, write_result
from .experiments.stats import MIN_PAIRS, Difference, Summary, compare_pairs, summarize
from .explain import compute_cam, plot_cam_grid
from .learner import (
    SeedRuns,
    default_all_seeds,
    learner_check,
    learner_mode,
    plot_your_runs,
    statistics_runs,
)
from .plots import plot_predictions, show_as_jpeg
from .profiles import EXPLORATORY_PROFILES, Profile, get_profile
from .runtime.device import device_name
from .runtime.paths import runs_dir
from .train import Run, RunLockedError, TrainConfig, predict, train_or_load

# set by start(): whether train_variant retrains every seed (True) or only the main one
_ALL_SEEDS: bool | None = None
_MODE_SAID = False  # whether this chapter has said which mode it trains in


def say_mode(profile: Profile, learner: bool, seeds: Sequence[int]) -> None:
    """Say once per chapter, before its first training, which mode it trains in (``seeds``:
    what it trains with all seeds)."""
    global _MODE_SAID
    if _MODE_SAID:
        return
    _MODE_SAID = True
    if learner:
        print(
            f"learner mode: trains seed {profile.seed} of every variant; the statistics come "
            f"from the course's committed runs of seeds {list(profile.seeds)} "
            f"(results/{profile.name}/), and your run is checked against them (all seeds: "
            "all_seeds=True, or run-notebooks --all-seeds)"
        )
    else:
        print(f"all seeds: trains seeds {list(seeds)}; the statistics are this session's runs")


def start(profile: str, all_seeds: bool | None = None, **settings) -> Profile:
    """What every chapter does after its parameters cell: the profile with the parameters'
    values (papermill may have changed them), figures at a readable resolution, and lines
    saying which profile, device and mode the outputs below come from.

    ``all_seeds`` (default :func:`course_lib.learner.default_all_seeds`: off on a CPU, on with
    a CUDA GPU): in learner mode (off, profile ``quick``) :func:`train_variant` trains only the
    main seed; the statistics come from the course's committed runs and the learner's run is
    checked against them. With ``all_seeds`` every seed is trained and the statistics are the
    learner's own."""
    import matplotlib.pyplot as plt

    global _ALL_SEEDS, _MODE_SAID
    _ALL_SEEDS = default_all_seeds() if all_seeds is None else bool(all_seeds)
    _MODE_SAID = False  # the mode is said by the chapter's first train_variant
    P = get_profile(profile, **settings)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100})
    print(f"profile {P.name} | device {device_name()} | torch {torch.__version__}")
    print(f"settings: {P}")
    if P.name in EXPLORATORY_PROFILES:
        print(
            f"profile {P.name} is exploratory: no committed runs back its verdicts; the course's "
            "results come from the quick profile"
        )
    return P


def all_seeds() -> bool:
    """Whether this chapter retrains every seed (set by :func:`start`, else the default)."""
    return default_all_seeds() if _ALL_SEEDS is None else _ALL_SEEDS


def curves_section(variants: Mapping[str, Sequence[Run]], title: str):
    """The learning curves a chapter shows. With all seeds: every variant's curves over its
    seeds (:func:`course_lib.plots.plot_seed_curves`). In learner mode: first the learner's run
    of each variant over the band of the course's committed seeds, validation accuracy per epoch
    and test accuracy (:func:`course_lib.learner.plot_your_runs`), then the learner's own
    curves, losses included."""
    import matplotlib.pyplot as plt

    from .plots import plot_seed_curves

    if any(getattr(runs, "check", None) is not None for runs in variants.values()):
        plot_your_runs(variants)
        plt.show()
        seed = next(iter(variants.values()))[0].metrics["seed"]
        title = f"{title}; your runs (seed {seed})"
    plot_seed_curves({name: [r.history for r in runs] for name, runs in variants.items()},
                     title=title)  # fmt: skip
    plt.show()


def train_variant(
    data: ImageDataset,
    profile: Profile,
    attention: str | None = None,
    seeds: Sequence[int] | None = None,
    model: str = "alexnet",
    model_kwargs: dict | None = None,
    progress: bool = True,
    load_only: bool = False,
    name: str | None = None,
    skip_locked: bool = False,
    **config_overrides,
) -> list[Run]:
    """Train (or load) ``model`` with ``attention`` once per seed; the first run is the profile's
    main seed (the one whose curves, predictions and CAMs a chapter shows). With ``load_only``
    only the finished runs are returned (possibly none) and nothing is trained. ``name`` names
    the runs (default: model and attention), for variants that differ in ``model_kwargs``.
    With ``skip_locked`` a run that another process is training is left out, not waited for
    (several batch workers can then share one list of runs).

    In learner mode (:func:`start`) only the main seed is trained; the result also holds the
    course's committed rows of every seed (``.course``) and prints the "Your run" check."""
    learner = learner_mode(profile, all_seeds())
    if learner and not load_only:
        seeds = [profile.seed]
    else:
        seeds = list(seeds or profile.seeds)
    if not load_only:
        say_mode(profile, learner, seeds)
    if profile.seed in seeds:
        seeds.remove(profile.seed)
    seeds.insert(0, profile.seed)
    runs = []
    for seed in seeds:
        config = TrainConfig.from_profile(profile, seed=seed, **config_overrides)
        try:
            run = train_or_load(
                model,
                data,
                config,
                attention,
                model_kwargs=model_kwargs,
                name=name,
                profile=profile.name,
                progress=progress,
                load_only=load_only,
            )
        except RunLockedError:
            if not skip_locked:
                raise
            print(f"{name or model} {attention or ''} seed {seed}: trained by another process")
            continue
        if run is not None:
            runs.append(run)
    if learner and not load_only and runs:
        checked = learner_check(runs[0], profile)
        print(checked.check.line())
        return checked
    return SeedRuns(runs)


@dataclass
class VariantComparison:
    """Variants trained over several seeds, each summarised and compared with the baseline
    (seed-paired differences, Holm-corrected): the numbers a chapter's prose quotes."""

    runs: dict[str, list[Run]]
    baseline: str | None
    summaries: dict[str, Summary]
    differences: dict[str, Difference]
    course: bool = False  # the course's committed rows (learner mode), not this session's runs

    def table(self) -> str:
        w = max(16, *(len(name) for name in self.summaries))
        lines = [
            f"{'variant':{w}s} {'n':>2s} {'test acc':>9s} {'sd':>6s} {'95 % CI':>16s}  seeds",
        ]
        for name, s in self.summaries.items():
            seeds = sorted(r.metrics["seed"] for r in self.runs[name])
            ci = "" if s.n < 2 else f"[{s.low * 100:5.2f}, {s.high * 100:5.2f}]"
            sd = "" if s.n < 2 else f"{s.std * 100:.2f}"
            lines.append(f"{name:{w}s} {s.n:2d} {s.mean * 100:8.2f}% {sd:>6s} {ci:>16s}  {seeds}")
        lines += [d.sentence() for d in self.differences.values()]
        first = next(iter(self.runs.values()))[0].metrics
        note = f"test accuracy (%) after the last epoch, {first['test_images']:,} test images"
        if self.differences:
            note += (
                f"; differences paired by seed, p from a paired t-test; Holm p and verdict from "
                f"the course's one family (results/hypotheses.toml, Holm over all its "
                f"comparisons): significant only on its confirmatory seeds, 'exploratory' on its "
                f"exploratory seeds and for comparisons it does not list; >= {MIN_PAIRS} pairs "
                "to test at all"
            )
        if self.course:
            rows = [r.metrics for runs in self.runs.values() for r in runs]
            kinds = sorted({f"{r['device']}, {r.get('precision', '?')}" for r in rows})
            commits = sorted({str(r.get("git_commit", "?"))[:7] for r in rows})
            note += (
                f". The course's committed runs (results/{first['profile']}/; {'; '.join(kinds)};"
                f" commit {', '.join(commits)}), not this session's: your run is checked "
                "against them where it was trained"
            )
        lines.append(note)
        return "\n".join(lines)


def compare_variants(
    variants: Mapping[str, Sequence[Run]],
    baseline: str | None = None,
    extra_pairs: Sequence[tuple[str, str]] = (),
) -> VariantComparison:
    """Summarise each variant's test accuracy over its seeds and compare every variant with
    ``baseline`` (a key of ``variants``), paired by seed. ``extra_pairs`` adds comparisons
    between two variants (e.g. an attention module against its control), keyed
    ``"variant − other"``; the Holm correction runs over all comparisons together."""
    course = any(getattr(runs, "course", None) is not None for runs in variants.values())
    variants = {n: statistics_runs(runs) for n, runs in variants.items()}
    by_seed = {n: {r.metrics["seed"]: r.metrics["accuracy"] for r in runs} for n, runs in
               variants.items()}  # fmt: skip
    summaries = {n: summarize(list(accs.values())) for n, accs in by_seed.items()}
    differences = {}
    if baseline is not None:
        pairs = [(n, baseline) for n in by_seed if n != baseline] + list(extra_pairs)
        names = {n: runs[0].metrics.get("name", n) for n, runs in variants.items() if runs}
        judged = judged_family()
        for (v, b), d in zip(pairs, compare_pairs(by_seed, pairs), strict=True):
            seeds = set(by_seed[v]) & set(by_seed[b])
            d, _ = with_family(d, names[v], names[b], seeds, judged)
            differences[v if b == baseline else f"{v} − {b}"] = d
    return VariantComparison(
        {n: list(r) for n, r in variants.items()}, baseline, summaries, differences, course
    )


def describe_setting(profile: Profile, seeds: Sequence[int]) -> str:
    """The line a chapter prints above its results: what the runs were trained at."""
    schedule = profile.schedule_epochs or profile.epochs
    images = f"{profile.train_subset:,}" if profile.train_subset else "all"
    return (
        f"setting: {profile.image_size} px, {profile.epochs} epochs"
        + (
            f" of a {schedule}-epoch cosine schedule"
            if schedule != profile.epochs
            else " (cosine schedule to 0)"
        )
        + f", {images} training images (validation {profile.val_size or 0:,}), batch "
        f"{profile.batch_size}, Adam lr {profile.lr:g}, weight decay {profile.weight_decay:g}, "
        f"label smoothing {profile.label_smoothing:g}, "
        + ("augmentation (crop, flip, rotation, colour)" if profile.augment else "no augmentation")
        + f"; seeds {list(seeds)}"
    )


def comparison_section(
    variants: Mapping[str, Sequence[Run]],
    baseline: str,
    profile: Profile,
    title: str,
    extra_pairs: Sequence[tuple[str, str]] = (),
) -> VariantComparison:
    """What chapters 05-07 show for each experiment: its setting, the main seed's runs side by
    side (accuracy, size, speed), the table over seeds with the paired differences and the
    prose that reads it, then the learning curves over seeds and theirs."""
    from IPython.display import Markdown, display

    from . import reading

    main = {name: runs[0] for name, runs in variants.items()}
    seeds = [r.metrics["seed"] for r in statistics_runs(variants[baseline])]
    print(describe_setting(profile, seeds))
    print(
        compare_runs(main, {n: count_flops(r.model, profile.image_size) for n, r in main.items()})
    )
    print()
    comparison = compare_variants(variants, baseline, extra_pairs)
    print(comparison.table())
    display(Markdown(reading.describe_comparison(comparison)))
    curves_section(variants, f"{title}, {profile.image_size} px")
    display(Markdown("\n\n".join(reading.describe_curves(n, v) for n, v in variants.items())))
    return comparison


def seed_table(variants: Mapping[str, Sequence[Run]], baseline: str | None = None) -> str:
    """The table of :func:`compare_variants` (kept for the chapters that print only the table)."""
    return compare_variants(variants, baseline).table()


def fixed_test_images(data: ImageDataset, n: int = 18, seed: int = 0) -> torch.Tensor:
    """``n`` test-image indices, as many per class as possible, the same in every chapter."""
    generator = torch.Generator().manual_seed(seed)
    per_class = [
        (data.test_labels == c)
        .nonzero()
        .flatten()[torch.randperm(int((data.test_labels == c).sum()), generator=generator)]
        for c in range(data.num_classes)
    ]
    chosen = [int(idx[r]) for r in range(n) for idx in per_class if r < len(idx)][:n]
    return torch.tensor(chosen)


def predicted_classes(run: Run, data: ImageDataset, indices: torch.Tensor) -> torch.Tensor:
    """The class ``run``'s model predicts for the test images ``indices``."""
    transform = EvalTransform(run.metrics["image_size"], data.mean, data.std)
    device = next(run.model.parameters()).device
    return predict(run.model, data.test_images[indices], transform, device=device).argmax(1)


def prediction_strip(run: Run, data: ImageDataset, indices: torch.Tensor, columns: int = 9):
    """The source notebooks' 18-image strip: predicted and true labels, wrong ones in red."""
    return plot_predictions(
        data.test_images[indices],
        data.test_labels[indices],
        predicted_classes(run, data, indices),
        data.classes,
        columns,
    )


def strip_section(
    runs: Mapping[str, Run], data: ImageDataset, shown: str, n: int = 18, columns: int = 9
) -> str:
    """Show ``runs[shown]``'s prediction strip on ``n`` fixed, class-balanced test images (as a
    JPEG) and return the Markdown that reads it: which classes it got wrong, and how many of the
    same images every other run gets right."""
    from .reading import describe_strip

    indices = fixed_test_images(data, n=n)
    show_as_jpeg(prediction_strip(runs[shown], data, indices, columns))
    truth = [data.classes[int(c)] for c in data.test_labels[indices]]
    right = {
        name: (predicted_classes(run, data, indices) == data.test_labels[indices]).tolist()
        for name, run in runs.items()
    }
    text = f"{shown}: " + describe_strip(right[shown], truth)
    others = [f"{name} {sum(r)}" for name, r in right.items() if name != shown]
    if others:
        text += f" Right out of {len(indices)} for the others (same seed): {', '.join(others)}."
    return text


def cam_maps(
    runs: Mapping[str, Run],
    data: ImageDataset,
    indices: torch.Tensor,
    methods=("gradcam", "gradcam++"),
) -> dict[str, object]:
    """``{"<run> GradCAM": maps, "<run> GradCAM++": maps, ...}`` for the true classes."""
    maps = {}
    for name, run in runs.items():
        transform = EvalTransform(run.metrics["image_size"], data.mean, data.std)
        inputs = transform(data.test_images[indices])
        for method in methods:
            label = {"gradcam": "GradCAM", "gradcam++": "GradCAM++"}[method]
            maps[f"{name}\n{label}"] = compute_cam(
                run.model, inputs, method, classes=data.test_labels[indices].tolist()
            )
    return maps


def cam_comparison(runs: Mapping[str, Run], data: ImageDataset, indices: torch.Tensor):
    """GradCAM and GradCAM++ of every run, side by side, on the same test images, for the true
    class; under each map the run's prediction, framed green (right) or red (wrong)."""
    maps = cam_maps(runs, data, indices)
    titles = [f"true {data.classes[int(c)]}" for c in data.test_labels[indices]]
    predictions, correct = {}, {}
    for name, run in runs.items():
        preds = predicted_classes(run, data, indices)
        for row in maps:
            if row.split("\n")[0] == name:
                predictions[row] = [data.classes[int(p)] for p in preds]
                correct[row] = (preds == data.test_labels[indices]).tolist()
    return plot_cam_grid(data.test_images[indices], maps, titles, predictions=predictions,
                         correct=correct)  # fmt: skip


class CamMaps(dict):
    """Each run's GradCAM maps ``{name: (n, H, W)}``, and in ``cells`` the side of the layer
    each was computed on (the maps are upsampled from it to the image)."""

    def __init__(self, maps: Mapping[str, object], cells: Mapping[str, int]):
        super().__init__(maps)
        self.cells = dict(cells)


def cam_section(runs: Mapping[str, Run], data: ImageDataset, n: int = 8) -> CamMaps:
    """Show the GradCAM / GradCAM++ grid of ``runs`` on ``n`` fixed test images (as a JPEG) and
    return each run's GradCAM maps, for the prose that reads them."""
    from .explain.cam import cam_layer_side

    indices = fixed_test_images(data, n=n)
    show_as_jpeg(cam_comparison(runs, data, indices))
    maps = cam_maps(runs, data, indices, methods=("gradcam",))
    cells = {
        name: cam_layer_side(run.model, run.metrics["image_size"]) for name, run in runs.items()
    }
    return CamMaps({name.split("\n")[0]: m for name, m in maps.items()}, cells)


def compare_runs(runs: Mapping[str, Run], flops: Mapping[str, int] | None = None) -> str:
    """A text table of accuracy, parameters, FLOPs and speed per run. Speeds come from the
    committed CPU bench (idle machine, back to back; :func:`recorded_speeds`) where it measured
    the run's network at its size and precision, else from the run itself (marked ``*``: what
    the machine gave while it trained, shared with whatever else ran)."""
    from .experiments.bench import recorded_speeds

    first = next(iter(runs.values())).metrics
    on_cpu = str(first.get("device", "")).startswith("CPU")
    bench = recorded_speeds(first["image_size"], first.get("precision", "bf16")) if on_cpu else None
    w = max(22, *(len(name) for name in runs))
    rows, measured_here = [], False
    for name, run in runs.items():
        m = run.metrics
        mflops = (flops or {}).get(name)
        speed = (bench or {}).get("speeds", {}).get((m["model"], m.get("attention", "none")))
        if speed:
            train, infer = f"{speed['train']:.0f}", f"{speed['inference']:.0f}"
            overhead = f"{speed['overhead']:.2f}x" if speed.get("overhead") else "1.00x"
            if m["model"] != "alexnet":
                overhead = ""
        else:
            measured_here = True
            train = f"{m['train_images_per_s']:.0f}*"
            infer = f"{m['inference_images_per_s']:.0f}*"
            overhead = ""
        rows.append(
            (
                f"{name:{w}s} {m['accuracy']:8.4f} {m['best_val_accuracy']:8.4f} "
                f"{m['params']:11,d} {(mflops or 0) / 1e6:8.1f} {train:>11s} {infer:>11s}",
                overhead,
            )
        )
    with_overhead = any(overhead for _, overhead in rows)  # a column only where AlexNet is benched
    header = (
        f"{'run':{w}s} {'test acc':>8s} {'val@best':>8s} {'params':>11s} {'MFLOPs':>8s} "
        f"{'train img/s':>11s} {'infer img/s':>11s}"
        + (f" {'step vs AlexNet':>15s}" if with_overhead else "")
    )
    lines = [header, "-" * len(header)]
    lines += [row + (f" {overhead:>15s}" if with_overhead else "") for row, overhead in rows]
    lines.append(
        f"data: {first['data_source']}; {first['train_images']:,} train / "
        f"{first.get('val_images', 0):,} validation / {first['test_images']:,} test images; "
        f"profile {first['profile']}; device {first['device']}; seed {first['seed']}"
    )
    if bench:
        lines.append(
            f"speeds: `python -m course_lib bench` of {bench['date']} ({bench['device']}, idle, "
            f"{first['image_size']} px, batch 128, {first.get('precision', 'bf16')}"
            + ("; step vs AlexNet: median of paired rounds)" if with_overhead else ")")
        )
    if measured_here:
        lines.append(
            "* measured while this run trained, on a machine shared with other work: not "
            "comparable between runs; `python -m course_lib bench` measures speed under control"
        )
    return "\n".join(lines)


def report(run: Run, chapter: str, **extra) -> str:
    """Write the run's results row (with FLOPs) and say where, with the source notebooks'
    numbers beside. In a chapter in learner mode (:func:`start`) the course's committed rows
    stay as they are: the row goes to ``<run cache>/your-results/`` (the chapter's "Your run"
    line compares the run with the course's). Outside a chapter (``train --write-result``) the
    row goes to ``results/``."""
    # learner mode only inside a chapter that start() put in it: the CLI's `train
    # --write-result` writes the course's rows
    learner = _ALL_SEEDS is not None and learner_mode(run.metrics.get("profile"), _ALL_SEEDS)
    flops = count_flops(run.model, run.metrics["image_size"])
    curves = {  # what a reading's "still rising" and "below validation" check
        "val_accuracy_per_epoch": [float(v) for v in run.history.val_acc],
        "train_accuracy_per_epoch": [float(v) for v in run.history.train_acc],
    }
    folder = runs_dir() / "your-results" if learner else None
    path = write_result(run.metrics, chapter, folder=folder, flops=flops, **curves,
                        **run.recipe(), **extra)  # fmt: skip
    where = f"{path.parent.parent}/{path.parent.name}" if learner else path.parent.name
    line = f"wrote {where}/{path.name}: test accuracy {run.metrics['accuracy']:.4f}"
    for reported in source_reported(run.metrics["name"]):
        line += f"; the source notebook reported {reported['accuracy']:.4f} ({reported['setting']})"
    return line


__all__ = [
    "cam_comparison",
    "cam_maps",
    "cam_section",
    "compare_runs",
    "compare_variants",
    "comparison_section",
    "count_flops",
    "count_params",
    "fixed_test_images",
    "load_course_data",
    "predicted_classes",
    "prediction_strip",
    "seed_table",
    "start",
    "strip_section",
    "report",
    "train_variant",
]
