"""Minutes per run and per chapter of a profile, estimated from the committed CPU bench.

    python scripts/estimate_costs.py                 # the quick profile, 128 px bench

For each AlexNet variant and precision: the training steps (plain AlexNet's images/s divided by
the variant's median paired overhead, the bench's robust number), the batched augmentation and
the validation pass of every epoch, and the final test pass. ``bf16 + compile`` uses the
overheads of ``results/bench-cpu-<px>px-bf16-compile-attention.json`` for the modules that
``train_or_load`` compiles by default in a run of the profile's length
(``runtime.compile.COMPILE_PAYS_ON_CPU``); the first
compilation on a machine (recorded in that file) is not included. Prints Markdown. GPUs:
``scripts/gpu/estimate_gpu_costs.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course_lib.profiles import get_profile  # noqa: E402
from course_lib.runtime.compile import COMPILE_PAYS_ON_CPU  # noqa: E402

CHAPTERS = {"01": ["none"], "02": ["triplet"], "03": ["simam"], "04": ["se", "cbam"]}
TEST_IMAGES = 10_000


def rates(bench: dict) -> dict[tuple[str, str], tuple[float, float]]:
    """(attention, precision) -> (training images/s, inference images/s), training from the
    paired overhead over plain AlexNet."""
    plain = {r["precision"]: r for r in bench["models"] if r["attention"] == "none"}
    out = {}
    for r in bench["models"]:
        base = plain[r["precision"]]
        ratio = r.get("train_overhead_vs_alexnet", 1.0)
        out[r["attention"], r["precision"]] = (
            base["train_images_per_s"] / ratio,
            r["inference_images_per_s"],
        )
    return out


def run_minutes(train_ips: float, infer_ips: float, augment_ips: float, profile) -> float:
    epoch = profile.train_subset / train_ips + profile.train_subset / augment_ips
    epoch += profile.val_size / infer_ips
    return (profile.epochs * epoch + TEST_IMAGES / infer_ips) / 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    profile = get_profile(args.profile)
    results = REPO / "results"
    bench = json.loads((results / f"bench-cpu-{args.image_size}px.json").read_text())
    compiled_path = results / f"bench-cpu-{args.image_size}px-bf16-compile-attention.json"
    table = rates(bench)
    augment = bench["pipelines"]["batched_images_per_s"]
    columns = ["fp32", "bf16"]
    if compiled_path.exists():
        compiled = json.loads(compiled_path.read_text())
        plain = next(
            r for r in bench["models"] if (r["attention"], r["precision"]) == ("none", "bf16")
        )
        steps = profile.epochs * (profile.train_subset // profile.batch_size)
        for r in compiled["models"]:  # the modules a run of this length compiles by default
            if steps >= COMPILE_PAYS_ON_CPU.get(r["attention"], float("inf")):
                table[r["attention"], "bf16 + compile"] = (
                    plain["train_images_per_s"] / r["train_overhead_vs_alexnet"],
                    table[r["attention"], "bf16"][1],
                )
        columns.append("bf16 + compile")
    minutes = {
        key: run_minutes(train, infer, augment, profile) for key, (train, infer) in table.items()
    }

    def best(attention: str, precision: str) -> float:
        if precision == "bf16 + compile":
            return minutes.get((attention, precision), minutes[attention, "bf16"])
        return minutes[attention, precision]

    print(
        f"{profile.name} profile: {profile.train_subset:,} training images, "
        f"{profile.val_size:,} validation, {TEST_IMAGES:,} test, {profile.epochs} epochs, "
        f"{len(profile.seeds)} seeds; bench of {bench['date'][:10]} ({bench['device']})\n"
    )
    print("| variant | " + " | ".join(f"min per run {c}" for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for attention in ("none", "triplet", "simam", "se", "cbam"):
        cells = [f"{best(attention, c):.1f}" for c in columns]
        print(
            f"| {'alexnet' if attention == 'none' else '+ ' + attention} | "
            + " | ".join(cells)
            + " |"
        )
    print("\n| chapter | " + " | ".join(f"min {c}" for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for chapter, attentions in CHAPTERS.items():
        cells = [f"{len(profile.seeds) * sum(best(a, c) for a in attentions):.0f}" for c in columns]
        print(f"| {chapter} ({', '.join(attentions)}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
