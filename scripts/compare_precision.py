"""Does bf16 autocast cost accuracy? The same runs in float32 and in bf16, seed-paired.

    python scripts/compare_precision.py --profile quick --seeds 42 43

Trains (or loads) one variant per seed in both precisions with the profile's recipe, then writes
``results/precision-<profile>-<variant>-<px>px-<epochs>ep-<images>img.json`` and prints each
seed's accuracies, the paired differences (bf16 minus float32), the float32 runs' seed-to-seed
spread for scale, and the time per epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course_lib.data import load_course_data  # noqa: E402
from course_lib.experiments.stats import summarize  # noqa: E402
from course_lib.profiles import get_profile  # noqa: E402
from course_lib.runtime.atomic import atomic_write_json  # noqa: E402
from course_lib.runtime.device import device_name, pick_device  # noqa: E402
from course_lib.runtime.paths import results_dir  # noqa: E402
from course_lib.train import TrainConfig, train_or_load  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--attention", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43])
    args = parser.parse_args()
    profile = get_profile(args.profile)
    data = load_course_data(profile)
    device = pick_device()
    rows = []
    for seed in args.seeds:
        for precision in PRECISIONS:
            config = TrainConfig.from_profile(profile, seed=seed, precision=precision)
            run = train_or_load(
                args.model, data, config, args.attention, profile=profile.name, device=device
            )
            m = run.metrics
            rows.append({"seed": seed, "precision": precision, "accuracy": m["accuracy"],
                         "best_val_accuracy": m["best_val_accuracy"],
                         "train_time_s": m["train_time_s"],
                         "epochs": m["epochs"], "run_dir": m["run_dir"]})  # fmt: skip
            print(f"seed {seed} {precision}: accuracy {m['accuracy']:.4f}, "
                  f"{m['train_time_s'] / m['epochs']:.1f} s per epoch", flush=True)  # fmt: skip
    acc = {(r["seed"], r["precision"]): r["accuracy"] for r in rows}
    diffs = [acc[s, "bf16"] - acc[s, "fp32"] for s in args.seeds]
    fp32 = [acc[s, "fp32"] for s in args.seeds]
    epoch = {p: statistics.mean(r["train_time_s"] / r["epochs"] for r in rows
                                if r["precision"] == p) for p in PRECISIONS}  # fmt: skip
    variant = f"{args.model}-{args.attention or 'none'}"
    report = {
        "profile": profile.name,
        "variant": variant,
        "image_size": profile.image_size,
        "epochs": profile.epochs,
        "train_images": len(data.train_labels),
        "test_images": len(data.test_labels),
        "device": device_name(device),
        "data_source": str(data.source),
        "runs": rows,
        "paired_differences_bf16_minus_fp32": diffs,
        "difference": dataclasses.asdict(summarize(diffs)),
        "fp32_seed_spread": dataclasses.asdict(summarize(fp32)),
        "seconds_per_epoch": epoch,
    }
    # named by its whole setting: a run at another size or length never replaces this one
    setting = f"{profile.image_size}px-{profile.epochs}ep-{len(data.train_labels)}img"
    path = results_dir() / f"precision-{profile.name}-{variant}-{setting}.json"
    atomic_write_json(report, path)
    d, spread = report["difference"], report["fp32_seed_spread"]
    paired = ", ".join(f"{x:+.4f}" for x in diffs)
    print(
        f"bf16 - fp32, seed-paired: {paired} (mean {d['mean']:+.4f}); "
        f"fp32 seeds differ by std {spread['std']:.4f}; seconds per epoch "
        f"fp32 {epoch['fp32']:.1f}, bf16 {epoch['bf16']:.1f} ({epoch['fp32'] / epoch['bf16']:.2f}x)"
    )
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
