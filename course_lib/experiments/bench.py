"""``python -m course_lib bench``: where the time goes, model by model, on this device.

For every registered model (or a chosen few) at one image size: parameters, forward FLOPs,
training and inference images per second, peak GPU memory; every attention module's
training-step cost as a ratio over plain AlexNet measured in the same run; and the data side:
the source notebooks' per-image PIL pipeline against the batched on-device augmentation.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from ..attention import list_attention
from ..models import MODELS, build_model, list_models
from ..models.moganet import MOGANET_ALIASES
from ..profiles import get_profile
from ..runtime.atomic import atomic_write_json
from ..runtime.compile import auto_compile, compiled
from ..runtime.device import (
    AUTOCAST_DTYPES,
    cpu_isa,
    device_name,
    memory_format,
    pick_device,
    resolve_precision,
    synchronize,
)
from ..runtime.paths import results_dir
from .measure import count_flops, count_params, measure_throughput

# every MogaNet arch is registered twice (moganet_xtiny, moganet_xt): bench each once
MODEL_ALIASES = {f"moganet_{short}" for short in MOGANET_ALIASES}


def bench_model(
    name: str,
    image_size: int,
    batch_size: int,
    device: torch.device,
    attention: str | None = None,
    iters: int = 5,
    compile: bool | str | None = "auto",
    precision: str = "fp32",
) -> dict:
    """Parameters, FLOPs, train and inference images/s and peak memory for one model."""
    torch.manual_seed(0)
    model = build_model(name, attention=attention, image_size=image_size, num_classes=10)
    row = {
        "model": name,
        "attention": attention or "none",
        "image_size": image_size,
        "batch_size": batch_size,
        "precision": precision,
        "params": count_params(model),
        "flops": count_flops(model, image_size),
    }
    model = model.to(device)
    compile = row["compiled"] = resolve_compile(model, compile, device, precision)
    model = compiled(model, compile)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timing = {"warmup": 2, "iters": iters, "precision": precision}
    if compile:
        # the first training step compiles (or loads compiled code from PyTorch's on-disk cache)
        start = time.perf_counter()
        measure_throughput(model, image_size, batch_size, device, train=True, warmup=0, iters=1,
                           precision=precision)  # fmt: skip
        row["first_train_step_s"] = time.perf_counter() - start
    row["train_images_per_s"] = measure_throughput(
        model, image_size, batch_size, device, train=True, **timing
    )
    row["inference_images_per_s"] = measure_throughput(
        model, image_size, batch_size, device, train=False, **timing
    )
    row["peak_memory_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    )
    return row


def resolve_compile(
    model: nn.Module, compile: bool | str | None, device: torch.device, precision: str
) -> str | bool | None:
    """What ``compile`` means for ``model``: ``"auto"`` is what training does by default for a
    run of the ``quick`` profile (:func:`course_lib.runtime.compile.auto_compile`), so that the
    bench with no ``--compile`` times the step the course's runs train with; ``"none"`` is None
    (eager); anything else is passed on."""
    if compile == "auto":
        steps = quick_run_steps()
        return auto_compile(model, device, resolve_precision(precision, device), steps)
    return None if compile == "none" else compile


def quick_run_steps() -> int:
    """Training steps of one ``quick`` run (750: 16,000 images, batch 128, 6 epochs)."""
    quick = get_profile("quick")
    return quick.epochs * (quick.train_subset // quick.batch_size)


def paired_train_overhead(
    name: str,
    attention: str,
    image_size: int,
    batch_size: int,
    device: torch.device,
    iters: int = 5,
    rounds: int = 3,
    compile: bool | str | None = "auto",
    precision: str = "fp32",
) -> list[float]:
    """Training-step cost of ``name`` with ``attention`` over the plain model, ``rounds`` times.

    Each round times the plain model and then the variant, back to back, so that both see the
    same machine load; a ratio from two far-apart measurements drifts with the load (on a
    shared 2-core CPU by 10-20 %). Returns one ratio per round.
    """
    models = []
    for variant in (None, attention):
        torch.manual_seed(0)
        model = build_model(name, attention=variant, image_size=image_size, num_classes=10)
        model = model.to(device)
        models.append(compiled(model, resolve_compile(model, compile, device, precision)))
    ratios = []
    for _ in range(rounds):
        plain, with_attention = (
            measure_throughput(
                m,
                image_size,
                batch_size,
                device,
                train=True,
                warmup=2,
                iters=iters,
                precision=precision,
            )
            for m in models
        )
        ratios.append(plain / with_attention)
    return ratios


def bench_pipelines(image_size: int, batch_size: int, device: torch.device, batches: int = 10):
    """Images/s of the per-image PIL pipeline (DataLoader, 2 workers) and of BatchAugment."""
    from torch.utils.data import DataLoader

    from ..data import BatchAugment, TensorImageDataset, pil_train_transform

    g = torch.Generator().manual_seed(0)
    images = torch.randint(
        0, 256, (batch_size * batches, 3, 32, 32), dtype=torch.uint8, generator=g
    )
    labels = torch.zeros(len(images), dtype=torch.long)
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    loader = DataLoader(
        TensorImageDataset(images, labels, pil_train_transform(image_size, mean, std)),
        batch_size=batch_size,
        num_workers=2,
    )
    start = time.perf_counter()
    for x, _ in loader:
        x.to(device)
    synchronize(device)
    pil = len(images) / (time.perf_counter() - start)

    augment = BatchAugment(image_size, mean, std)
    on_device = images.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    augment(on_device[:batch_size], gen)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for i in range(batches):
        augment(on_device[i * batch_size : (i + 1) * batch_size], gen)
    synchronize(device)
    batched = len(images) / (time.perf_counter() - start)
    return {"pil_images_per_s": pil, "batched_images_per_s": batched}


def peak_gflops(device: torch.device, precision: str, reps: int = 5) -> float:
    """GFLOP/s of the fastest of ``reps`` large 1x1 convolutions in ``precision``: a matrix
    product (positions x channels times channels x channels) run by the library that runs the
    network's convolutions (oneDNN on a CPU, cuDNN on a GPU), so it is the ceiling they can
    approach. (``torch.mm`` would time the BLAS library instead: on this course's AMD CPU it
    runs float32 at about 70 % of oneDNN's rate.) The fastest, not the mean: on a shared
    machine the slow repetitions measure the neighbours."""
    channels, side = (4096, 64) if device.type == "cuda" else (1024, 64)
    dtype = AUTOCAST_DTYPES.get(precision, torch.float32)
    fmt = memory_format(device)
    x = torch.randn(1, channels, side, side, device=device).to(dtype).contiguous(memory_format=fmt)
    w = torch.randn(channels, channels, 1, 1, device=device).to(dtype)
    w = w.contiguous(memory_format=fmt)
    torch.nn.functional.conv2d(x, w)  # warm-up
    best = float("inf")
    for _ in range(reps):
        synchronize(device)
        start = time.perf_counter()
        torch.nn.functional.conv2d(x, w)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * channels**2 * side**2 / best / 1e9


def default_precisions(device: torch.device) -> list[str]:
    """fp32, and the precision training resolves ``auto`` to on ``device`` when it is another
    (bf16 where native, fp16 on a CUDA GPU without bf16)."""
    chosen = resolve_precision("auto", device)
    return ["fp32"] if chosen == "fp32" else ["fp32", chosen]


def run_bench(
    image_size: int = 64,
    batch_size: int = 128,
    models: list[str] | None = None,
    attentions: list[str] | None = None,
    device: str | None = None,
    iters: int = 5,
    compile: bool | str | None = "auto",
    output: str | Path | None = None,
    rounds: int = 3,
    precisions: list[str] | None = None,
) -> dict:
    """Benchmark and write ``results/bench-<device>-<size>px.json``; returns the report.

    Every model is timed in each of ``precisions`` (default: :func:`default_precisions`). Each
    attention module's training-step overhead over plain AlexNet in the same precision is the
    median of ``rounds`` paired measurements (:func:`paired_train_overhead`), with their range.
    Plain AlexNet's training FLOP rate is compared with the device's measured peak in that
    precision (:func:`peak_gflops`).
    """
    device = pick_device(device)
    precisions = precisions or default_precisions(device)
    models = models or [m for m in list_models() if m not in MODEL_ALIASES]
    # plain AlexNet is always benched first: "none" among the attentions adds no second row
    attentions = [a for a in (attentions or list_attention()) if a != "none"]
    # the peak is measured before and after the models, and the higher kept: on a shared
    # machine one of the two can land in a neighbour's busy spell
    peaks = {p: peak_gflops(device, p) for p in precisions}
    rows = []
    for precision in precisions:
        rows += _bench_precision(
            models, attentions, image_size, batch_size, device, iters, compile, rounds, precision
        )
        peaks[precision] = max(peaks[precision], peak_gflops(device, precision))
    report = {
        "device": device_name(device),
        "cpu_isa": cpu_isa() if device.type == "cpu" else None,
        "torch": torch.__version__,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "image_size": image_size,
        "batch_size": batch_size,
        "compile": compile,
        "iters": iters,
        "overhead_rounds": rounds,
        "precisions": precisions,
        "peak_gflops": peaks,
        "models": rows,
        "pipelines": bench_pipelines(image_size, batch_size, device),
    }
    for precision in precisions:
        plain = _plain_alexnet(rows, precision)
        if plain:
            # a training step is about three forward passes: forward, input and weight gradients
            rate = plain["train_images_per_s"] * 3 * plain["flops"] / 1e9
            report.setdefault("alexnet_train_gflops", {})[precision] = rate
            report.setdefault("alexnet_fraction_of_peak", {})[precision] = rate / peaks[precision]
            report.setdefault("alexnet_epoch_seconds_50k", {})[precision] = (
                50000 / plain["train_images_per_s"]
            )
    path = Path(output or results_dir() / f"bench-{device.type}-{image_size}px.json")
    atomic_write_json(report, path)
    print(format_report(report))
    print(f"wrote {path}")
    return report


def _plain_alexnet(rows: list[dict], precision: str) -> dict | None:
    return next(
        (r for r in rows if (r["model"], r["attention"], r["precision"]) ==
         ("alexnet", "none", precision)),
        None,
    )  # fmt: skip


def _bench_precision(
    models, attentions, image_size, batch_size, device, iters, compile, rounds, precision
) -> list[dict]:
    rows = []
    for name in models:
        MODELS.get(name)
        variants = [None, *attentions] if name == "alexnet" else [None]
        for attention in variants:
            row = bench_model(
                name, image_size, batch_size, device, attention, iters, compile, precision
            )
            print(_format_row(row), flush=True)
            rows.append(row)
    plain = _plain_alexnet(rows, precision)
    for r in rows:
        if plain and r["model"] == "alexnet" and r["attention"] != "none":
            ratios = paired_train_overhead(
                "alexnet", r["attention"], image_size, batch_size, device, iters, rounds, compile,
                precision,
            )  # fmt: skip
            r["train_overhead_vs_alexnet"] = median = statistics.median(ratios)
            r["train_overhead_rounds"] = ratios
            r["inference_overhead_vs_alexnet"] = (
                plain["inference_images_per_s"] / r["inference_images_per_s"]
            )
            print(
                f"alexnet + {r['attention']} ({precision}): training step {median:.2f}x plain "
                f"AlexNet (median of {rounds} paired rounds, {min(ratios):.2f}-{max(ratios):.2f})",
                flush=True,
            )
    return rows


def _format_row(r: dict) -> str:
    memory = f"{r['peak_memory_mb']:8.0f}" if r.get("peak_memory_mb") is not None else "     n/a"
    return (
        f"{r['model']:16s} {r['attention']:15s} {r.get('precision', 'fp32'):5s} "
        f"{r['params']:>12,d} {r['flops'] / 1e6:9.1f} "
        f"{r['train_images_per_s']:9.0f} {r['inference_images_per_s']:9.0f} {memory}"
        + (f" first step {r['first_train_step_s']:.1f} s" if "first_train_step_s" in r else "")
        + (f" [compiled: {r['compiled']}]" if r.get("compiled") else "")
    )


def format_report(report: dict) -> str:
    header = (
        f"{'model':16s} {'attention':15s} {'prec':5s} {'params':>12s} {'MFLOPs':>9s} "
        f"{'train/s':>9s} {'infer/s':>9s} {'peak MB':>8s} {'train x':>8s}"
    )
    lines = [
        f"device {report['device']}"
        + (f" [{report['cpu_isa']}]" if report.get("cpu_isa") else "")
        + f" | torch {report['torch']} | {report['image_size']} px | "
        f"batch {report['batch_size']} | compile {report['compile']}",
        header,
    ]
    for r in report["models"]:
        ratio = r.get("train_overhead_vs_alexnet")
        spread = r.get("train_overhead_rounds")
        lines.append(
            _format_row(r)
            + (f" {ratio:7.2f}x" if ratio else "")
            + (f" ({min(spread):.2f}-{max(spread):.2f})" if spread else "")
        )
    p = report["pipelines"]
    lines.append(
        f"augmentation: PIL per image (2 workers) {p['pil_images_per_s']:.0f} img/s, "
        f"batched on device {p['batched_images_per_s']:.0f} img/s"
    )
    for precision, seconds in report.get("alexnet_epoch_seconds_50k", {}).items():
        lines.append(
            f"plain AlexNet, {precision}: one 50,000-image epoch of training steps ~ "
            f"{seconds:.0f} s; {report['alexnet_train_gflops'][precision]:.0f} GFLOP/s, "
            f"{report['alexnet_fraction_of_peak'][precision]:.0%} of the measured peak "
            f"({report['peak_gflops'][precision]:.0f} GFLOP/s, a 1x1 convolution)"
        )
    return "\n".join(lines)


def _packed_worker(spec: dict, barrier, results) -> None:
    device = torch.device(spec["device"])
    torch.manual_seed(0)
    model = build_model("alexnet", attention=spec["attention"], image_size=spec["image_size"])
    model = model.to(device)
    args = (model, spec["image_size"], spec["batch_size"], device)
    measure_throughput(*args, train=True, warmup=3, iters=1)  # allocation, cuDNN autotuning
    barrier.wait()  # every process times the same window
    results.put(measure_throughput(*args, train=True, warmup=0, iters=spec["iters"]))


def packed_train_throughput(
    attention: str | None,
    image_size: int,
    batch_size: int,
    device: torch.device,
    processes: int,
    iters: int = 20,
    timeout: float = 300.0,
) -> float:
    """Total training images/s of ``processes`` AlexNet trainings sharing one device at once.

    One small model rarely fills a large GPU (each step is many short kernels); several
    processes on the same GPU overlap them. Compare the total against ``processes=1`` to see
    whether packing runs (``sweep --gpus 0 0``) raises throughput.
    """
    import multiprocessing as mp

    context = mp.get_context("spawn")  # CUDA cannot be re-initialised in a forked child
    barrier, results = context.Barrier(processes), context.Queue()
    spec = {"attention": attention, "image_size": image_size, "batch_size": batch_size,
            "device": str(device), "iters": iters}  # fmt: skip
    workers = [
        context.Process(target=_packed_worker, args=(spec, barrier, results))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    try:
        rates = [results.get(timeout=timeout) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
    return sum(rates)


def profile_train_step(
    attention: str | None,
    image_size: int,
    batch_size: int,
    device: torch.device,
    steps: int = 5,
    rows: int = 25,
    precision: str = "auto",
) -> str:
    """``torch.profiler``'s table of one AlexNet variant's eager training steps in ``precision``:
    where the time goes, operator by operator, sorted by device time (CPU time on a CPU)."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=image_size).to(device)
    timing = {"train": True, "precision": precision}
    measure_throughput(model, image_size, batch_size, device, warmup=2, iters=1, **timing)
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        measure_throughput(model, image_size, batch_size, device, warmup=0, iters=steps, **timing)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)


def format_markdown(report: dict) -> str:
    """The report as a Markdown table, one row per model and one column per precision."""
    precisions = report.get("precisions", ["-"])  # "-": a report from before precisions
    by_model: dict[tuple, dict] = {}
    for r in report["models"]:
        by_model.setdefault((r["model"], r["attention"]), {})[r.get("precision", "-")] = r
    head = ["model", "params", "MFLOPs"]
    head += [f"train img/s {p}" for p in precisions]
    head += [f"inference img/s {p}" for p in precisions]
    head += [f"step vs AlexNet {p}" for p in precisions]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (model, attention), rows in by_model.items():
        first = next(iter(rows.values()))
        name = model if attention == "none" else f"+ {attention}"
        cells = [name, f"{first['params']:,}", f"{first['flops'] / 1e6:.1f}"]
        cells += [f"{rows[p]['train_images_per_s']:,.0f}" for p in precisions]
        cells += [f"{rows[p]['inference_images_per_s']:,.0f}" for p in precisions]
        for p in precisions:
            spread = rows[p].get("train_overhead_rounds")
            cells.append(
                f"{rows[p]['train_overhead_vs_alexnet']:.2f}x ({min(spread):.2f}-{max(spread):.2f})"
                if spread
                else "1.00x"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recorded_overheads(image_size: int, precision: str) -> dict | None:
    """The training-step cost of each attention module relative to plain AlexNet, as the last
    committed CPU bench measured it (``results/bench-cpu-<size>px.json``): ``{"device", "date",
    "overheads": {attention: ratio}}``, or None when no bench at that size was recorded. Chapters
    quote these instead of the speed of their own runs, which shared the machine."""
    path = results_dir() / f"bench-cpu-{image_size}px.json"
    if not path.exists():
        return None
    bench = json.loads(path.read_text())
    overheads = {
        r["attention"]: r["train_overhead_vs_alexnet"]
        for r in bench.get("models", [])
        if r.get("model") == "alexnet" and r.get("precision") == precision
        and "train_overhead_vs_alexnet" in r
    }  # fmt: skip
    return {"device": bench["device"], "date": bench["date"][:10], "overheads": overheads}


def recorded_speeds(image_size: int, precision: str) -> dict | None:
    """Training and inference images/s of every model the last committed CPU bench measured at
    ``image_size`` in ``precision``: ``{"device", "date", "speeds": {(model, attention):
    {"train", "inference", "overhead"}}}`` (overhead: the training step relative to plain AlexNet,
    where measured), or None without such a bench. Measured on an idle machine, back to back;
    the speed of a chapter's own runs depends on what else the machine was doing."""
    path = results_dir() / f"bench-cpu-{image_size}px.json"
    if not path.exists():
        return None
    bench = json.loads(path.read_text())
    speeds = {
        (r["model"], r["attention"]): {
            "train": r["train_images_per_s"],
            "inference": r["inference_images_per_s"],
            "overhead": r.get("train_overhead_vs_alexnet"),
        }
        for r in bench.get("models", [])
        if r.get("precision") == precision
    }
    return {"device": bench["device"], "date": bench["date"][:10], "speeds": speeds}


STEP_MODES = ("eager", "compiled", "graphs")


def step_mode_throughput(
    attention: str | None,
    image_size: int,
    batch_size: int,
    device: torch.device,
    iters: int = 20,
    precision: str = "auto",
) -> dict:
    """Training images/s of one AlexNet variant run three ways side by side: ``eager``,
    ``compiled`` (``torch.compile``, default mode: fused elementwise kernels) and ``graphs``
    (``torch.compile(mode="reduce-overhead")``: forward and backward replayed as CUDA graphs,
    one launch instead of hundreds, the remedy for a step bound by kernel launches). The
    optimiser step stays eager in all three. CUDA graphs need a CUDA device: on another device
    ``graphs`` is None and ``graphs_note`` says why. ``*_first_step_s`` is the first step's
    time (compilation, graph capture)."""
    row: dict = {"attention": attention or "none", "image_size": image_size,
                 "batch_size": batch_size, "precision": precision}  # fmt: skip
    for mode in STEP_MODES:
        if mode == "graphs" and device.type != "cuda":
            row[mode] = None
            row["graphs_note"] = f"not measured: CUDA graphs need a CUDA device, not {device.type}"
            continue
        torch.manual_seed(0)
        model = build_model("alexnet", attention=attention, image_size=image_size).to(device)
        if mode != "eager":
            model = torch.compile(model, mode="reduce-overhead" if mode == "graphs" else None)
        args = (model, image_size, batch_size, device)
        start = time.perf_counter()
        measure_throughput(*args, train=True, warmup=1, iters=1, precision=precision)
        row[f"{mode}_first_step_s"] = time.perf_counter() - start
        row[mode] = measure_throughput(
            *args, train=True, warmup=2, iters=iters, precision=precision
        )
    return row


def format_step_modes(rows: list[dict]) -> str:
    """The side-by-side table of :func:`step_mode_throughput` rows, training images/s."""
    lines = [f"{'attention':15s} " + " ".join(f"{m:>10s}" for m in STEP_MODES) + "  first steps"]
    for r in rows:
        cells = " ".join(
            f"{r[m]:10.0f}" if r.get(m) is not None else f"{'n/a':>10s}" for m in STEP_MODES
        )
        firsts = ", ".join(
            f"{m} {r[f'{m}_first_step_s']:.1f} s" for m in STEP_MODES if f"{m}_first_step_s" in r
        )
        lines.append(f"{r['attention']:15s} {cells}  {firsts}")
    notes = {r["graphs_note"] for r in rows if r.get("graphs_note")}
    return "\n".join(lines + [f"graphs: {note}" for note in sorted(notes)])
