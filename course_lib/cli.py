"""Command line: ``python -m course_lib {train,run-notebooks,bench,sweep,info}``.

Examples::

    python -m course_lib train --model alexnet --attention triplet --profile quick
    python -m course_lib train --model alexnet --profile quick --epochs 1 --set lr=5e-4
    python -m course_lib run-notebooks --profile smoke
    python -m course_lib bench --image-size 64 --models alexnet
    python -m course_lib info
"""

from __future__ import annotations

import argparse
import ast
import json
import sys


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_pairs(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        values[key.strip()] = _parse_value(value)
    return values


def cmd_train(args: argparse.Namespace) -> int:
    from .attention import ATTENTION
    from .data import load_cifar10, load_image_folder
    from .distributed import init_from_env, is_main
    from .models import MODELS
    from .profiles import get_profile
    from .train import apply_overrides, train_or_load

    MODELS.get(args.model)  # unknown names fail here, before any data is loaded
    if args.attention:
        ATTENTION.get(args.attention)
    device = init_from_env() or args.device  # under torchrun: this rank's device
    flags = {"epochs": args.epochs, "image_size": args.image_size, "batch_size": args.batch_size,
             "lr": args.lr, "seed": args.seed}  # fmt: skip
    overrides = {**_parse_pairs(args.set), **{k: v for k, v in flags.items() if v is not None}}
    profile, config = apply_overrides(get_profile(args.profile), overrides)
    if args.image_folder:
        data = load_image_folder(args.image_folder, size=args.folder_size)
    else:
        data = load_cifar10(
            args.data,
            train_subset=profile.train_subset,
            test_subset=profile.test_subset,
            seed=profile.seed,
        )
    if is_main():
        print(f"profile {profile.name}: {config}")
        print(f"data: {data}")
    run = train_or_load(
        args.model,
        data,
        config,
        attention=args.attention,
        name=args.name,
        model_kwargs=_parse_pairs(args.model_arg),
        profile=profile.name,
        device=device,
        compile=args.compile,
    )
    if not is_main():
        return 0
    if args.write_result:
        from .results import write_result

        write_result(run.metrics, args.write_result)
    shown = {
        k: v for k, v in run.metrics.items() if k not in ("confusion_matrix", "per_class_accuracy")
    }
    print(json.dumps(shown, indent=2))
    print(f"run folder: {run.run_dir}")
    return 0


def cmd_run_notebooks(args: argparse.Namespace) -> int:
    from .notebook_runner import format_summary, run_notebooks
    from .profiles import default_profile_name

    profile = args.profile or default_profile_name()
    results = run_notebooks(
        profile,
        output_dir=args.output_dir,
        only=args.only,
        parameters=_parse_pairs(args.parameter),
        inplace=args.inplace,
    )
    print(format_summary(results))
    if not results:
        print("no notebooks found", file=sys.stderr)
        return 1
    return 0 if all(r.ok for r in results) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    run_bench(
        image_size=args.image_size,
        batch_size=args.batch_size,
        models=args.models,
        attentions=args.attention,
        device=args.device,
        iters=args.iters,
        compile=args.compile,
        output=args.output,
        rounds=args.rounds,
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import SweepSpec, run_sweep

    if args.config:
        spec = SweepSpec.from_toml(args.config)
    else:
        spec = SweepSpec(models=args.models, attentions=args.attention, seeds=args.seeds,
                         profile=args.profile, overrides=_parse_pairs(args.set))  # fmt: skip
    rows = run_sweep(spec, gpus=args.gpus)
    return 0 if all(not r["failed"] for r in rows) else 1


def cmd_info(args: argparse.Namespace) -> int:
    from .env import environment_report

    for key, value in environment_report().items():
        print(f"{key:14s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .attention import list_attention
    from .models import list_models

    parser = argparse.ArgumentParser(
        prog="python -m course_lib",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a registered model (or load the finished run)")
    train.add_argument("--model", default="alexnet", help=f"one of: {', '.join(list_models())}")
    train.add_argument("--attention", default=None, help=f"one of: {', '.join(list_attention())}")
    train.add_argument("--profile", default=None, help="smoke, quick or paper (default: auto)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--image-size", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--seed", type=int)
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other profile or TrainConfig field, e.g. --set train_subset=5000",
    )
    train.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an argument of the model's builder, e.g. --model-arg classifier=compact for VGG16",
    )
    train.add_argument("--data", default=None, help="CIFAR-10 source (default: search, see docs)")
    train.add_argument("--image-folder", default=None, help="train on your own image folder")
    train.add_argument(
        "--folder-size",
        type=int,
        default=None,
        help="resize your folder's images to this side when decoding",
    )
    train.add_argument("--name", default=None, help="run name (default: <model>-<attention>)")
    train.add_argument("--device", default=None, help="cuda, cpu, ... (default: auto)")
    train.add_argument("--compile", action="store_true", help="torch.compile the training step")
    train.add_argument(
        "--write-result",
        default=None,
        metavar="CHAPTER",
        help="also write the results row for the leaderboard under this chapter",
    )
    train.set_defaults(func=cmd_train)

    nbs = sub.add_parser("run-notebooks", help="execute every notebook with papermill")
    nbs.add_argument("--profile", default=None, help="smoke, quick or paper (default: auto)")
    nbs.add_argument("--output-dir", default=None, help="default: executed/<profile>/")
    nbs.add_argument("--only", nargs="*", default=None, help="notebook prefixes, e.g. 00 03")
    nbs.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a papermill parameter for every notebook",
    )
    nbs.add_argument(
        "--inplace", action="store_true", help="write outputs back into notebooks/ (to commit them)"
    )
    nbs.set_defaults(func=cmd_run_notebooks)

    bench = sub.add_parser("bench", help="parameters, FLOPs, throughput and overheads")
    bench.add_argument("--image-size", type=int, default=64)
    bench.add_argument("--batch-size", type=int, default=128)
    bench.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    bench.add_argument("--attention", nargs="*", default=None, help="default: every module")
    bench.add_argument("--device", default=None)
    bench.add_argument("--iters", type=int, default=5, help="timed steps per measurement")
    bench.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="paired plain/attention measurements per overhead ratio (the median is reported)",
    )
    bench.add_argument("--compile", action="store_true", help="torch.compile the models")
    bench.add_argument("--output", default=None, help="default: results/bench-<device>-<px>.json")
    bench.set_defaults(func=cmd_bench)

    sweep = sub.add_parser("sweep", help="models x attention x seeds, with statistics")
    sweep.add_argument(
        "--config", default=None, help="a TOML file (models, attentions, seeds, ...)"
    )
    sweep.add_argument("--models", nargs="*", default=["alexnet"])
    sweep.add_argument("--attention", nargs="*", default=["none"])
    sweep.add_argument("--seeds", nargs="*", type=int, default=[42, 43, 44])
    sweep.add_argument("--profile", default=None)
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    sweep.add_argument(
        "--gpus", nargs="*", default=None, help="GPU ids: one training subprocess per GPU at a time"
    )
    sweep.set_defaults(func=cmd_sweep)

    info = sub.add_parser("info", help="versions, device, profile and data source")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
