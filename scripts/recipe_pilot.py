"""The recipe pilot of the 32 px networks (chapters 05-07): which recipe lets them learn in a CPU
budget, measured.

    python scripts/recipe_pilot.py            # train what is missing (hours), then report
    python scripts/recipe_pilot.py --report   # only the runs already trained (seconds)

Step 1 changes one thing at a time on the CIFAR ResNet (seed 42, all 45,000 training images):
the source notebooks' recipe (Adam 1e-3, heavy augmentation), Adam 3e-3, then no augmentation.
Step 2 trains every network of chapters 05-07 at the chosen recipe (``EXPERIMENTS["cifar32"]``
of the ``quick`` profile) over its seeds. Every run is the cached run a chapter loads (same
configuration, same name), trained with 2 threads; the summary goes to
``results/pilot/cifar32-recipe.json`` and a Markdown table is printed. A run that shared the
machine with other work took longer: the fastest run of a network is the closest to its cost on
an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OUTPUT = Path(__file__).resolve().parents[1] / "results" / "pilot" / "cifar32-recipe.json"
# step 1: the ResNet, one change at a time (4 epochs of a 4-epoch cosine schedule)
STEP1 = [
    ("source recipe: Adam 1e-3, augmentation", {"lr": 1e-3, "augment": True}),
    ("Adam 3e-3, augmentation", {"lr": 3e-3, "augment": True}),
    ("Adam 3e-3, no augmentation", {"lr": 3e-3, "augment": False}),
]
STEP1_COMMON = {"train_subset": 45_000, "epochs": 4, "schedule_epochs": 4}
# step 2: the chapters' networks at the chosen recipe, as the chapters train them
STEP2 = [
    ("05", "ResNet"),
    ("05", "ResNet-PSA"),
    ("07", "ResNet + self-attention"),
    ("06", "shallow MogaNet"),
    ("06", "no decomposition"),
    ("06", "no gating"),
    ("05", "AlexNet-PSA"),
    ("05", "AlexNet-PSA + shortcut"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="train nothing; summarise")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from course_lib.chapter import train_variant
    from course_lib.data import load_course_data
    from course_lib.profiles import experiment_settings, get_profile
    from course_lib.variants import variants

    torch.set_num_threads(args.threads)
    quick = get_profile("quick")
    loaded: dict = {}

    def data(p):
        key = (p.train_subset, p.val_size, p.test_subset)
        if key not in loaded:
            loaded[key] = load_course_data(p)
        return loaded[key]

    def run(p, v, seed):
        found = train_variant(data(p), p, attention=v.attention, seeds=[seed], model=v.model,
                              model_kwargs=dict(v.model_kwargs), name=v.name, progress=False,
                              load_only=args.report)  # fmt: skip
        # train_variant puts the profile's main seed first: pick the run of this seed
        return next((r for r in found if r.metrics["seed"] == seed), None)

    rows = []
    resnet = next(v for v in variants("05") if v.label == "ResNet")
    for label, change in STEP1:
        p = experiment_settings(quick, "cifar32").with_overrides({**STEP1_COMMON, **change})
        r = run(p, resnet, 42)
        if r is not None:
            rows.append(_row("step 1", "ResNet", label, p, r))
    for chapter, label in STEP2:
        v = next(v for v in variants(chapter) if v.label == label)
        p = experiment_settings(quick, v.experiment)
        for seed in p.seeds:
            r = run(p, v, seed)
            if r is not None:
                rows.append(_row("step 2", label, "chosen recipe", p, r))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({"runs": rows}, indent=1) + "\n")
    print(markdown_table(rows))
    return 0


def _row(step: str, network: str, recipe: str, p, run) -> dict:
    m = run.metrics
    return {
        "step": step,
        "network": network,
        "recipe": recipe,
        "seed": m["seed"],
        "image_size": p.image_size,
        "train_images": m["train_images"],
        "epochs": p.epochs,
        "lr": p.lr,
        "augment": p.augment,
        "val_accuracy_per_epoch": [round(v, 4) for v in run.history.val_acc],
        "train_accuracy_per_epoch": [round(v, 4) for v in run.history.train_acc],
        "test_accuracy": round(m["accuracy"], 4),
        "train_time_s": round(m["train_time_s"], 1),
        "threads": m.get("threads"),
        "git_commit": m.get("git_commit"),
        "dirty": m.get("dirty"),
        "device": m.get("device"),
        "scalars_last_epoch": {k: round(v[-1], 5) for k, v in run.history.scalars.items()},
    }


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| step | network | recipe | epochs × images | seeds | val. acc. per epoch (mean) | "
        "test acc. (mean ± sd) | train time per run: median (fastest) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["step"], r["network"], r["recipe"], r["epochs"]), []).append(r)
    for (step, network, recipe, epochs), found in groups.items():
        curves = [r["val_accuracy_per_epoch"] for r in found]
        mean_curve = [statistics.fmean(c[e] for c in curves) for e in range(len(curves[0]))]
        tests = [r["test_accuracy"] for r in found]
        sd = f" ± {statistics.stdev(tests) * 100:.2f}" if len(tests) > 1 else ""
        times = [r["train_time_s"] for r in found]
        lines.append(
            f"| {step} | {network} | {recipe} | {epochs} × {found[0]['train_images']:,} | "
            f"{', '.join(str(r['seed']) for r in found)} | "
            f"{', '.join(f'{v * 100:.1f}' for v in mean_curve)} | "
            f"{statistics.fmean(tests) * 100:.2f}{sd} % | {statistics.median(times):.0f} s"
            + (f" ({min(times):.0f} s) |" if len(times) > 1 else " |")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
