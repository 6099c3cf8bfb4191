"""The command line: ``python -m course_lib`` (or ``course``) with its commands.

A mistake a user can make (a bad value, missing data, a locked or unwritable run folder, a
diverging training) ends with one ``error:`` line saying what went wrong and what to do, and
exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import warnings

from .names import ATTENTION_NAMES, CHAPTERS_WITH_VARIANTS, COMPILE_MODES, MODEL_NAMES, PRECISIONS

# Only the standard library and course_lib.names are imported before the arguments are parsed:
# --help and an argument error answer at once. Each command imports what it needs, then checks
# every name and setting it was given before it loads data or trains.

DESCRIPTION = """\
Train the course's models, run its notebooks, benchmark, sweep, and check the set-up.

examples:
  {prog} train --model alexnet --attention triplet --profile quick
  {prog} train --profile quick --epochs 1 --set lr=5e-4
  {prog} run-notebooks --profile smoke --only 00 01
  {prog} bench --image-size 64 --models alexnet
  {prog} info
"""


def _prog() -> str:
    """How the command was called: ``course``, or ``python -m course_lib``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name and name not in ("__main__.py", "-m", "-c") else "python -m course_lib"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of the usage block and a second line
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_pairs(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        values[key.strip()] = _parse_value(value)
    return values


def cmd_train(args: argparse.Namespace) -> int:
    from .data import load_course_data, load_image_folder
    from .profiles import get_profile
    from .train import TrainConfig, train_or_load
    from .train.distributed import init_from_env, is_main

    # everything the user typed is checked before any data is loaded
    flags = {"epochs": args.epochs, "image_size": args.image_size, "batch_size": args.batch_size,
             "lr": args.lr, "seed": args.seed, "precision": args.precision}  # fmt: skip
    overrides = {**_parse_pairs(args.set), **{k: v for k, v in flags.items() if v is not None}}
    base = get_profile(args.profile)
    model_kwargs = _parse_pairs(args.model_arg)
    if args.variant:  # one network of chapters 05-07, at its chapter's setting, as it trains it
        from .variants import chapter_variant

        variant, base = chapter_variant(args.variant, base)
        if args.attention or model_kwargs or args.name or args.model != "alexnet":
            raise ValueError(
                f"--variant {args.variant!r} sets the model, attention, model arguments and run "
                "name; drop --model, --attention, --model-arg and --name"
            )
        args.model, args.attention, args.name = variant.model, variant.attention, variant.name
        model_kwargs = dict(variant.model_kwargs)
    profile = base.with_overrides(overrides)
    config = TrainConfig.from_profile(profile)
    from .models import check_models

    check_models([args.model], [args.attention], config.image_size, model_kwargs)
    device = init_from_env() or args.device  # under torchrun: this rank's device
    if args.image_folder:
        data = load_image_folder(args.image_folder, size=args.folder_size)
    else:
        # --seed is the run's seed only: the training subset is drawn with the profile's main
        # seed, as the chapters draw it for every seed (the run's name does not record it)
        data = load_course_data(profile.replace(seed=base.seed), args.data)
    if is_main():
        print(f"profile {profile.name}: {config}")
        print(f"data: {data}")
    run = train_or_load(
        args.model,
        data,
        config,
        attention=args.attention,
        name=args.name,
        model_kwargs=model_kwargs,
        profile=profile.name,
        device=device,
        compile=None if args.compile == "none" else args.compile,
    )
    if not is_main():
        return 0
    if args.write_result:  # the row a chapter writes: with FLOPs, curves and recipe
        from .chapter import report

        print(report(run, args.write_result))
    shown = {
        k: v for k, v in run.metrics.items() if k not in ("confusion_matrix", "per_class_accuracy")
    }
    print(json.dumps(shown, indent=2))
    print(f"run folder: {run.run_dir}")
    return 0


def cmd_run_notebooks(args: argparse.Namespace) -> int:
    from .data import load_cifar10
    from .learner import ALL_SEEDS_ENV
    from .notebook_runner import format_summary, run_notebooks
    from .profiles import default_profile_name, get_profile

    profile = get_profile(args.profile or default_profile_name()).name
    parameters = _parse_pairs(args.parameter)
    check_notebook_selection(args.only)
    if args.all_seeds:  # the kernels inherit it: chapter.start() reads it
        os.environ[ALL_SEEDS_ENV] = "1"
    # every notebook needs the data: one clear failure here, not one per notebook
    print(f"data: {load_cifar10().source}", flush=True)
    results = run_notebooks(
        profile,
        output_dir=args.output_dir,
        only=args.only,
        parameters=parameters,
        inplace=args.inplace,
        timeout=args.timeout,
    )
    print(format_summary(results))
    return 0 if all(r.ok for r in results) else 1


def check_notebook_selection(only: list[str] | None) -> None:
    """``--only`` prefixes that match no notebook are refused, naming the notebooks."""
    from .notebook_runner import find_notebooks
    from .runtime.paths import repo_root

    every = find_notebooks(repo_root() / "notebooks")
    unmatched = [o for o in only or [] if not find_notebooks(repo_root() / "notebooks", [o])]
    if unmatched:
        names = ", ".join(p.stem for p in every)
        raise ValueError(f"no notebook starts with {', '.join(unmatched)}; the notebooks: {names}")


def cmd_bench(args: argparse.Namespace) -> int:
    from .attention import ATTENTION
    from .experiments.bench import run_bench
    from .models import MODELS

    for name in args.models or []:
        MODELS.get(name)
    for name in args.attention or []:
        ATTENTION.get(name)
    report = run_bench(
        image_size=args.image_size,
        batch_size=args.batch_size,
        models=args.models,
        attentions=args.attention,
        device=args.device,
        iters=args.iters,
        compile=args.compile,
        output=args.output,
        rounds=args.rounds,
        precisions=args.precision,
    )
    if args.markdown:
        from .experiments.bench import format_markdown

        print(format_markdown(report))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .experiments.sweep import SweepSpec, run_sweep

    if args.config:
        spec = SweepSpec.from_toml(args.config)
    else:
        spec = SweepSpec(models=args.models, attentions=args.attention, seeds=args.seeds,
                         profile=args.profile, overrides=_parse_pairs(args.set))  # fmt: skip
    rows = run_sweep(spec, gpus=args.gpus)
    return 0 if all(not r["failed"] for r in rows) else 1


def cmd_train_chapter(args: argparse.Namespace) -> int:
    from .profiles import get_profile
    from .variants import check_chapter_request, train_chapter

    profile = get_profile(args.profile)
    check_chapter_request(args.chapters, args.only)
    for chapter in args.chapters:
        # several workers may run this at once: a run another one is training is skipped
        runs = train_chapter(chapter, profile, only=args.only or None, skip_locked=True)
        for label, found in runs.items():
            accs = ", ".join(f"{r.metrics['accuracy']:.4f}" for r in found)
            print(f"chapter {chapter} {label}: test accuracy {accs}")
    return 0


def _for_finished_runs(args: argparse.Namespace, profile, work) -> int:
    """Call ``work(run, data)`` for the finished run of every ``--attention`` and seed (the
    profile's seeds by default); runs that have not finished are named on stderr (exit 1)."""
    from .data import load_course_data
    from .models import check_models
    from .train import TrainConfig, train_or_load

    check_models([args.model], args.attention, profile.image_size)
    data = load_course_data(profile)  # the main seed's subset, as every seed's run used
    missing = []
    for attention in args.attention:
        for seed in args.seeds or profile.seeds:
            config = TrainConfig.from_profile(profile, seed=seed)
            run = train_or_load(args.model, data, config, attention, profile=profile.name,
                                load_only=True, progress=False)  # fmt: skip
            if run is None:
                missing.append(f"{args.model}-{attention} seed {seed}")
                continue
            work(run, data)
    if missing:
        print(
            f"no finished run (train it first with python -m course_lib train --profile "
            f"{profile.name} ...): {'; '.join(missing)}",
            file=sys.stderr,
        )
    return 1 if missing else 0


def cmd_interventions(args: argparse.Namespace) -> int:
    from .experiments.interventions import (
        INTERVENTIONS,
        intervention_rows,
        interventions_path,
        write_intervention_rows,
    )
    from .profiles import get_profile

    unknown = set(args.only or []) - set(INTERVENTIONS)
    if unknown:
        raise ValueError(f"unknown intervention(s) {sorted(unknown)}; known: {INTERVENTIONS}")
    profile = get_profile(args.profile)
    if args.precision:
        profile = profile.with_overrides({"precision": args.precision})
    path = interventions_path(profile.name)

    def work(run, data) -> None:
        rows = intervention_rows(run, data, args.only or None)
        write_intervention_rows(rows, path)
        print(f"{rows[0]['variant']} seed {run.metrics['seed']}: " + ", ".join(
            f"{r['intervention']} {r['accuracy']:.4f}" for r in rows), flush=True)  # fmt: skip

    code = _for_finished_runs(args, profile, work)
    print(f"wrote {path}")
    return code


def cmd_gate_readings(args: argparse.Namespace) -> int:
    from .experiments.gate_baselines import gate_readings, gates_path, write_gate_rows
    from .profiles import get_profile

    profile = get_profile(args.profile)
    path = gates_path(profile.name)
    if args.untrained_only:
        return _untrained_gate_readings(args, profile, path)

    def work(run, data) -> None:
        write_gate_rows(gate_readings(run, data), path)
        print(f"{run.metrics['name']} seed {run.metrics['seed']}: 4 readings -> {path}",
              flush=True)  # fmt: skip

    return _for_finished_runs(args, profile, work)


def _untrained_gate_readings(args: argparse.Namespace, profile, path) -> int:
    """The untrained readings of committed runs (``results/<profile>/``, the profile's own
    recipe), which need no checkpoint: the initial weights follow from each row's seed."""
    from .data import load_course_data
    from .experiments.gate_baselines import untrained_readings, write_gate_rows
    from .experiments.reference import MissingReference, committed

    seeds = tuple(args.seeds or profile.seeds)
    data = load_course_data(profile)
    missing = []
    for attention in args.attention:
        name = f"{args.model}-{attention}"
        try:
            found = committed(profile.replace(seeds=seeds), {name: name}, with_curves=False)
        except MissingReference as err:  # no row of this network, or two of one seed
            missing.append(str(err))
            continue
        rows = found.rows[name]
        missing += [f"{name} seed {seed}" for seed in seeds if seed not in rows]
        for seed, row in rows.items():
            write_gate_rows(untrained_readings(row, data), path)
            print(f"{name} seed {seed} ({row['file']}): 2 untrained readings -> {path}",
                  flush=True)  # fmt: skip
    if missing:
        print(f"no committed {profile.name} row of: {'; '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


def cmd_family(args: argparse.Namespace) -> int:
    from .experiments.hypotheses import format_family, judge_family, load_family

    family = load_family(args.file)
    print(
        f"results/hypotheses.toml: k = {family.k} comparisons, Holm at α = {family.alpha} over "
        f"all of them (strictest level α/k = {family.strictest_level:.4f})"
    )
    for which in args.seeds:
        print(f"\n{which} seeds {', '.join(map(str, family.seeds(which)))}:\n")
        print(format_family(judge_family(family, which)))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .data.cifar10 import DatasetError, locate_cifar10
    from .runtime.env import environment_report
    from .runtime.paths import data_dir

    for key, value in environment_report().items():
        print(f"{key:14s} {value}")
    try:
        path = locate_cifar10()
        where = str(path) if path else f"nothing found locally: a download into {data_dir()}"
    except DatasetError as err:
        where = str(err).replace("\n", "\n" + " " * 15)
    print(f"{'data':14s} {where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    prog = _prog()
    parser = _Parser(
        prog=prog,
        description=DESCRIPTION.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    models, attentions = ", ".join(MODEL_NAMES), ", ".join(ATTENTION_NAMES)
    profile_help = (
        "smoke, quick, gpu or paper (default: COURSE_PROFILE, else quick, on a GPU too; gpu and "
        "paper are exploratory)"
    )
    precision_help = (
        "bf16 or fp16 autocast, or fp32 (default auto: bf16 where the device has it natively, "
        "fp16 with a gradient scaler on other CUDA GPUs, else fp32)"
    )

    train = sub.add_parser("train", help="train a registered model (or load the finished run)")
    train.add_argument("--model", default="alexnet", help=f"one of: {models}")
    train.add_argument("--attention", default=None, help=f"one of: {attentions}")
    train.add_argument("--profile", default=None, help=profile_help)
    train.add_argument("--epochs", type=_at_least_one, help="default: the profile's")
    train.add_argument("--image-size", type=_at_least_one, help="pixels; default: the profile's")
    train.add_argument("--batch-size", type=_at_least_one, help="default: the profile's")
    train.add_argument("--lr", type=float, help="learning rate; default: the profile's")
    train.add_argument("--seed", type=int, help="default: the profile's")
    train.add_argument(
        "--variant",
        default=None,
        metavar="CHAPTER:LABEL",
        help="a network of chapters 05-07 at its chapter's setting, e.g. "
        "'07:ResNet + self-attention' (model, attention and setting as the chapter trains it)",
    )
    train.add_argument("--precision", choices=PRECISIONS, default=None, help=precision_help)
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
    train.add_argument(
        "--data", default=None, help="CIFAR-10 source (default: COURSE_DATA or search)"
    )
    train.add_argument("--image-folder", default=None, help="train on your own image folder")
    train.add_argument(
        "--folder-size",
        type=_at_least_one,
        default=None,
        help="resize your folder's images to this side when decoding",
    )
    train.add_argument("--name", default=None, help="run name (default: <model>-<attention>)")
    train.add_argument("--device", default=None, help="cuda, cpu, ... (default: auto)")
    train.add_argument(
        "--compile",
        nargs="?",
        const="model",
        default="auto",
        choices=[*COMPILE_MODES, "auto", "none"],
        help="torch.compile the training step (--compile), only the attention modules "
        "(--compile attention), never (--compile none), or where measured to pay (default: auto)",
    )
    train.add_argument(
        "--write-result",
        default=None,
        metavar="CHAPTER",
        help="also write the results row for the leaderboard under this chapter",
    )
    train.set_defaults(func=cmd_train)

    nbs = sub.add_parser("run-notebooks", help="execute every notebook with papermill")
    nbs.add_argument("--profile", default=None, help=profile_help)
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
    nbs.add_argument(
        "--all-seeds",
        action="store_true",
        help="train every seed of every variant, statistics from these runs (default on a CPU: "
        "learner mode, the main seed only, checked against the course's committed runs)",
    )
    nbs.add_argument(
        "--timeout", type=_at_least_one, default=None, help="seconds per notebook (default: none)"
    )
    nbs.set_defaults(func=cmd_run_notebooks)

    bench = sub.add_parser("bench", help="parameters, FLOPs, throughput and overheads")
    bench.add_argument("--image-size", type=_at_least_one, default=64, help="pixels (default 64)")
    bench.add_argument("--batch-size", type=_at_least_one, default=128, help="default 128")
    bench.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    bench.add_argument("--attention", nargs="*", default=None, help="default: every module")
    bench.add_argument("--device", default=None, help="cuda, cpu, ... (default: auto)")
    bench.add_argument("--iters", type=_at_least_one, default=5, help="timed steps per measurement")
    bench.add_argument(
        "--rounds",
        type=_at_least_one,
        default=3,
        help="paired plain/attention measurements per overhead ratio (the median is reported)",
    )
    bench.add_argument(
        "--compile",
        nargs="?",
        const="model",
        default="auto",
        choices=(*COMPILE_MODES, "auto", "none"),
        help="torch.compile the models (--compile), only their attention modules (--compile "
        "attention), never (--compile none), or as training does by default (default: auto)",
    )
    bench.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    bench.add_argument(
        "--precision",
        nargs="*",
        choices=PRECISIONS[1:],
        default=None,
        help="fp32, bf16 and/or fp16 (default: fp32 and what auto resolves to on the device)",
    )
    bench.add_argument("--output", default=None, help="default: results/bench-<device>-<px>.json")
    bench.set_defaults(func=cmd_bench)

    sweep = sub.add_parser("sweep", help="models x attention x seeds, with statistics")
    sweep.add_argument(
        "--config", default=None, help="a TOML file (models, attentions, seeds, ...)"
    )
    sweep.add_argument("--models", nargs="*", default=["alexnet"], help="default: alexnet")
    sweep.add_argument("--attention", nargs="*", default=["none"], help="default: none")
    sweep.add_argument(
        "--seeds", nargs="*", type=int, default=[42, 43, 44], help="default: 42 43 44"
    )
    sweep.add_argument("--profile", default=None, help=profile_help)
    sweep.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="as for train"
    )
    sweep.add_argument(
        "--gpus", nargs="*", default=None, help="GPU ids: one training subprocess per GPU at a time"
    )
    sweep.set_defaults(func=cmd_sweep)

    chapter = sub.add_parser(
        "train-chapter", help="train (or load) the runs of chapters 05-07, as the notebooks do"
    )
    chapter.add_argument("chapters", nargs="+", help=", ".join(CHAPTERS_WITH_VARIANTS))
    chapter.add_argument("--profile", default=None, help=profile_help)
    chapter.add_argument("--only", nargs="*", default=None, help="variant labels to train")
    chapter.set_defaults(func=cmd_train_chapter)

    inter = sub.add_parser(
        "interventions",
        help="test accuracy of finished runs with their gates at their mean, shuffled or off",
    )
    inter.add_argument("--model", default="alexnet", help=f"one of: {models}")
    inter.add_argument("--attention", nargs="+", required=True, help=f"any of: {attentions}")
    inter.add_argument("--seeds", nargs="*", type=int, default=None, help="default: the profile's")
    inter.add_argument("--profile", default=None, help=profile_help)
    inter.add_argument("--precision", choices=PRECISIONS, default=None, help=precision_help)
    inter.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="as_trained, gate_mean, gate_shuffled, gate_other_class, attention_off, "
        "bn_recalibrated, bn_refreshed (default: every one that changes something in the model)",
    )
    inter.set_defaults(func=cmd_interventions)

    gr = sub.add_parser(
        "gate-readings",
        help="gate statistics of finished runs, untrained and trained, each read with default "
        "and with recalibrated BatchNorm statistics (results/gates-<profile>.json)",
    )
    gr.add_argument("--model", default="alexnet", help=f"one of: {models}")
    gr.add_argument("--attention", nargs="+", required=True, help=f"any of: {attentions}")
    gr.add_argument("--seeds", nargs="*", type=int, default=None, help="default: the profile's")
    gr.add_argument("--profile", default=None, help=profile_help)
    gr.add_argument(
        "--untrained-only",
        action="store_true",
        help="only the untrained readings, of the committed rows in results/<profile>/ (no "
        "checkpoint needed: the initial weights follow from the seed)",
    )
    gr.set_defaults(func=cmd_gate_readings)

    fam = sub.add_parser(
        "family", help="the course's confirmatory comparisons (results/hypotheses.toml), judged"
    )
    fam.add_argument(
        "--seeds",
        nargs="*",
        choices=["exploratory", "confirmatory"],
        default=["exploratory", "confirmatory"],
        help="which seeds to judge on (default: both)",
    )
    fam.add_argument("--file", default=None, help="default: results/hypotheses.toml")
    fam.set_defaults(func=cmd_family)

    info = sub.add_parser("info", help="versions, device, profile and where the data comes from")
    info.set_defaults(func=cmd_info)
    for command in sub.choices.values():  # --debug before or after the command
        command.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    from .runtime.paths import resolve_env_paths

    resolve_env_paths()  # relative to where the user typed them, before any kernel starts
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a bad argument (its message is printed)
        return int(done.code or 0)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"error: {_message(err)}", file=sys.stderr)
        return 2


def _message(err: Exception) -> str:
    """What the user needs to read: the message itself for the errors the course raises on
    purpose, the exception's name as well for anything else."""
    from .runtime.atomic import WriteError

    if isinstance(err, KeyError) and err.args:  # the registries' unknown names
        return str(err.args[0])
    if isinstance(err, OSError) and not isinstance(err, WriteError) and err.filename:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, (ValueError, OSError, RuntimeError, ArithmeticError, ImportError)):
        return str(err)
    return f"{type(err).__name__}: {err} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
