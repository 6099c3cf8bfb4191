"""A pilot that decides a profile by measurement: seed-paired runs of several variants at one
setting, the validation accuracy after every epoch, and what each run cost.

    python scripts/pilot.py --attention none triplet --seeds 42 43 44 45 46 47 48 49 \\
        --set epochs=6 --set schedule_epochs=50

Runs are trained pair by pair (every variant of seed 42, then of seed 43, ...), so an
interrupted pilot leaves whole pairs; it resumes where it stopped (finished runs are loaded,
an interrupted one continues from its ``last.pt``). Every run of a pilot uses one thread count
(``--threads``, default 2): the count changes the order of floating-point reductions and,
a few hundred steps later, the accuracy by up to a few points. The summary goes to
``results/pilot/<profile>-<variants>-<setting>.json``, named by the whole configuration, and
is rewritten only by the same configuration; it is printed with the seed-paired differences
per epoch and the minimum detectable difference of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--attention", nargs="+", default=["none", "triplet"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(42, 50)))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", default="auto", choices=["auto", "none"])
    parser.add_argument(
        "--report",
        default=None,
        metavar="PILOT_JSON",
        help="print the Markdown table of a pilot's summary file and exit (trains nothing)",
    )
    parser.add_argument(
        "--comparisons",
        type=int,
        default=4,
        help="comparisons Holm corrects over in the chapters (for the strictest level)",
    )
    args = parser.parse_args(argv)
    if args.report:
        report = json.loads(Path(args.report).read_text())
        print(markdown_table(report, args.comparisons))
        return 0

    from course_lib.attention import ATTENTION
    from course_lib.cli import _parse_pairs
    from course_lib.models import MODELS
    from course_lib.profiles import get_profile
    from course_lib.train.config import config_hash

    MODELS.get(args.model)  # every name is checked before any data is loaded
    for name in args.attention:
        if name != "none":
            ATTENTION.get(name)
    profile = get_profile(args.profile).with_overrides(_parse_pairs(args.set))

    import torch

    from course_lib.data import load_course_data
    from course_lib.runtime.atomic import atomic_write_json
    from course_lib.runtime.paths import results_dir
    from course_lib.train import TrainConfig, train_or_load

    torch.set_num_threads(args.threads)
    data = load_course_data(profile)
    setting = config_hash(profile.replace(seed=0, seeds=(0,)).as_dict(), args.model)
    variants = "-".join(args.attention)
    path = results_dir() / "pilot" / f"{profile.name}-{args.model}-{variants}-{setting}.json"
    runs = []
    for seed in args.seeds:
        for attention in args.attention:
            started = time.perf_counter()
            config = TrainConfig.from_profile(profile, seed=seed)
            run = train_or_load(
                args.model,
                data,
                config,
                attention=None if attention == "none" else attention,
                profile=profile.name,
                compile=None if args.compile == "none" else "auto",
                progress=False,
            )
            m = run.metrics
            runs.append(
                {
                    "attention": attention,
                    "seed": seed,
                    "test_accuracy": m["accuracy"],
                    "val_accuracy": run.history.val_acc,
                    "train_time_s": m["train_time_s"],
                    "wall_time_s": m["wall_time_s"],
                    "threads": m.get("threads"),
                    "git_commit": m.get("git_commit"),
                    "dirty": m.get("dirty"),
                    "precision": m.get("precision"),
                    "compiled": m.get("compiled"),
                    "run_dir": m["run_dir"],
                }
            )
            print(
                f"[pilot] {attention:10s} seed {seed}: test {m['accuracy']:.4f}, val "
                + " ".join(f"{v:.3f}" for v in run.history.val_acc)
                + f" ({m['train_time_s']:.0f} s training, "
                f"{time.perf_counter() - started:.0f} s in all)",
                flush=True,
            )
            report = {
                "profile": profile.as_dict(),
                "model": args.model,
                "attentions": args.attention,
                "seeds": args.seeds,
                "threads": args.threads,
                "data_source": m["data_source"],
                "device": m["device"],
                "runs": runs,
            }
            atomic_write_json(report, path)
    print(format_pilot(report))
    print(f"wrote {path}")
    return 0


def format_pilot(report: dict) -> str:
    """Per variant against the first: the seed-paired difference in test accuracy and in the
    validation accuracy of every epoch, with its interval and minimum detectable difference."""
    from course_lib.experiments.stats import paired_difference

    base = report["attentions"][0]
    by = {(r["attention"], r["seed"]): r for r in report["runs"]}
    lines = []
    for attention in report["attentions"][1:]:
        seeds = [s for s in report["seeds"] if (base, s) in by and (attention, s) in by]
        if len(seeds) < 2:
            continue
        epochs = min(len(by[(a, s)]["val_accuracy"]) for s in seeds for a in (base, attention))
        for label, pick in [("test", lambda r: r["test_accuracy"])] + [
            (f"val ep{e + 1}", lambda r, e=e: r["val_accuracy"][e]) for e in range(epochs)
        ]:
            d = paired_difference(
                {s: pick(by[(attention, s)]) for s in seeds},
                {s: pick(by[(base, s)]) for s in seeds},
                name=attention,
            )
            lines.append(f"{attention} - {base} {label:8s} {d.sentence()}")
    return "\n".join(lines)


def markdown_table(report: dict, comparisons: int = 4) -> str:
    """Per variant against the first and per epoch: the seed-paired difference of validation
    accuracy (and of test accuracy after the last epoch), its sd and 95 % interval, and the
    minimum detectable difference at 80 % power at level 0.05 and at Holm's strictest level
    over ``comparisons`` comparisons; then each variant's median training time per run."""
    from course_lib.experiments.stats import detectable_difference, paired_difference

    base = report["attentions"][0]
    by = {(r["attention"], r["seed"]): r for r in report["runs"]}
    lines = [
        "| variant − " + base + " | accuracy | pairs | mean difference (points) | sd | 95 % CI "
        f"| detectable at 80 % power (α = 0.05; α = 0.05/{comparisons}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for attention in report["attentions"][1:]:
        seeds = [s for s in report["seeds"] if (base, s) in by and (attention, s) in by]
        if len(seeds) < 2:
            continue
        epochs = min(len(by[(a, s)]["val_accuracy"]) for s in seeds for a in (base, attention))
        picks = [(f"validation, epoch {e + 1}", lambda r, e=e: r["val_accuracy"][e])
                 for e in range(epochs)]  # fmt: skip
        picks.append((f"test, after epoch {epochs}", lambda r: r["test_accuracy"]))
        for label, pick in picks:
            d = paired_difference(
                {s: pick(by[(attention, s)]) for s in seeds},
                {s: pick(by[(base, s)]) for s in seeds},
            )
            strict = detectable_difference(d.sd, d.n_pairs, 0.05 / comparisons)
            lines.append(
                f"| {attention} | {label} | {d.n_pairs} | {d.diff * 100:+.2f} | {d.sd * 100:.2f} "
                f"| [{d.low * 100:+.2f}, {d.high * 100:+.2f}] "
                f"| {d.detectable * 100:.1f}; {strict * 100:.1f} |"
            )
    times = {a: [r["train_time_s"] for r in report["runs"] if r["attention"] == a]
             for a in report["attentions"]}  # fmt: skip
    costs = ", ".join(f"{a} {statistics.median(t):.0f} s" for a, t in times.items() if t)
    return "\n".join(lines) + (
        f"\n\nmedian training time per run ({report['device']}; the median, because a run that "
        f"shared the machine with other work takes longer): {costs}"
    )


if __name__ == "__main__":
    sys.exit(main())
