"""Where an attention module's training-step time goes on this CPU (issue 42's profiles).

For each module asked for, torch.profiler's table of five AlexNet training steps (the operators
that dominate, ``bench.profile_train_step``), written to
``results/profile-<device>-<size>px-<precision>-<module>.txt``. For Triplet Attention also a
breakdown by part at each of AlexNet's five attention sites (forward and backward, batch 128):
the three Z-pools (one autograd node), the three gates (2 -> 1 k x k convolution, BatchNorm,
sigmoid), the product with the mean gate, and the whole module; written to
``results/profile-<device>-<size>px-<precision>-triplet-parts.md``. Times are medians of
repeated timings on an idle machine; plain AlexNet's step is timed in the same run, so the
parts read as fractions of it.

    python scripts/profile_attention.py --attention triplet simam se cbam
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from course_lib.attention import _fast, create_attention
from course_lib.experiments.bench import profile_train_step
from course_lib.experiments.measure import measure_throughput
from course_lib.models import build_model
from course_lib.runtime.device import autocast, cpu_isa, device_name
from course_lib.runtime.paths import results_dir


def attention_sites(image_size: int, batch_size: int) -> list[tuple[int, int, int, int]]:
    """The input shapes of AlexNet's five attention modules."""
    model = build_model("alexnet", attention="triplet", image_size=image_size, num_classes=10)
    shapes = []
    for module in model.modules():
        if getattr(module, "course_attention", "none") != "none":
            module.register_forward_hook(lambda m, i, o: shapes.append(tuple(i[0].shape)))
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size))
    return [(batch_size, *s[1:]) for s in shapes]


def timed(fn, repeats: int = 15) -> float:
    """Median milliseconds of ``fn`` over ``repeats`` calls, after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def triplet_parts(shape: tuple[int, ...], precision: str) -> dict[str, float]:
    """Milliseconds of forward + backward of each part of Triplet Attention at one site."""
    torch.manual_seed(0)
    module = create_attention("triplet", shape[1]).train()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    x = torch.randn(shape).to(dtype).contiguous(memory_format=torch.channels_last)

    def backward(outputs) -> None:
        outputs = outputs if isinstance(outputs, tuple | list) else [outputs]
        torch.autograd.backward(outputs, [torch.ones_like(o) for o in outputs])

    def zpool() -> None:
        with autocast("cpu", precision):
            backward(_fast.ThreeAxisZPool.apply(x.detach().requires_grad_()))

    with torch.no_grad(), autocast("cpu", precision):
        over_h, over_w, over_c = _fast.ThreeAxisZPool.apply(x)
        gates = list(_fast.triplet_gates(module, x).values())
    maps = [(module.cw, over_h), (module.hc, over_w.transpose(2, 3)), (module.hw, over_c)]

    def gate_maps() -> None:
        with autocast("cpu", precision):
            backward([_fast.gate_from_pooled(g, p.detach().requires_grad_()) for g, p in maps])

    def product() -> None:
        inputs = [x.detach().requires_grad_()] + [g.detach().requires_grad_() for g in gates]
        with autocast("cpu", precision):
            backward(_fast.MeanGateProduct.apply(*inputs))

    def whole() -> None:
        with autocast("cpu", precision):
            backward(module(x.detach().requires_grad_()))

    return {
        "Z-pools": timed(zpool),
        "gates": timed(gate_maps),
        "product": timed(product),
        "whole": timed(whole),
    }


def parts_table(image_size: int, batch_size: int, precision: str) -> str:
    torch.manual_seed(0)
    plain = build_model("alexnet", image_size=image_size, num_classes=10)
    images_per_s = measure_throughput(
        plain, image_size, batch_size, "cpu", train=True, warmup=2, iters=5, precision=precision
    )
    step_ms = batch_size / images_per_s * 1e3
    rows, total = [], dict.fromkeys(("Z-pools", "gates", "product", "whole"), 0.0)
    for shape in attention_sites(image_size, batch_size):
        parts = triplet_parts(shape, precision)
        rows.append(
            f"| {tuple(shape[1:])} | "
            + " | ".join(f"{parts[k]:.1f}" for k in ("Z-pools", "gates", "product", "whole"))
            + " |"
        )
        total = {k: total[k] + parts[k] for k in total}
    rows.append(
        "| **all five sites** | "
        + " | ".join(f"**{v:.1f}** ({v / step_ms:.2f}x)" for v in total.values())
        + " |"
    )
    head = (
        f"Triplet Attention's parts, forward + backward, ms per training step: {device_name()}"
        f" [{cpu_isa()}], torch {torch.__version__}, {image_size} px, batch {batch_size}, "
        f"{precision}; plain AlexNet's whole step {step_ms:.1f} ms (in brackets: the part as a "
        "fraction of it). Parts are timed alone, so they do not add up exactly to the whole.\n\n"
        "| site (C, H, W) | Z-pools | gates (conv, BN, sigmoid) | product with the mean gate "
        "| whole module |\n|---|---|---|---|---|"
    )
    return head + "\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", nargs="+", default=["triplet", "simam", "se", "cbam"])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", default="bf16", choices=("bf16", "fp32"))
    args = parser.parse_args()
    out = results_dir()
    stem = f"profile-cpu-{args.image_size}px-{args.precision}"
    for attention in args.attention:
        table = profile_train_step(
            attention,
            args.image_size,
            args.batch_size,
            torch.device("cpu"),
            precision=args.precision,
        )
        head = (
            f"AlexNet + {attention}, {args.image_size} px, batch {args.batch_size}, "
            f"{args.precision} autocast, 5 training steps, {device_name()} [{cpu_isa()}], eager\n"
        )
        path = Path(out / f"{stem}-{attention}.txt")
        path.write_text(head + table + "\n")
        print(head + table)
        print(f"wrote {path}")
        if attention == "triplet":
            parts = parts_table(args.image_size, args.batch_size, args.precision)
            path = Path(out / f"{stem}-triplet-parts.md")
            path.write_text(parts)
            print(parts)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
