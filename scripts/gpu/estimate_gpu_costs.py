"""Minutes per chapter on a T4, L4, A100 and H100: a cost model, calibrated on the one GPU bench.

    python scripts/gpu/estimate_gpu_costs.py                # the gpu profile
    python scripts/gpu/estimate_gpu_costs.py --profile paper --image-size 224

ESTIMATES, not measurements. How they are made:

1. **Work per step**, counted, not guessed: one training step (forward, loss, backward) of each
   variant at the profile's image size and batch, run on PyTorch's ``meta`` device (shapes
   only, no arithmetic) under ``FlopCounterMode`` (FLOPs of convolutions and matrix products,
   as ``experiments.measure.count_flops`` counts them) and a dispatch mode that counts every
   other operator and the bytes of its inputs and outputs (each operator reads and writes
   memory once: no fusion, no cache). The attention modules are counted in their plain forms
   (``plain_forms``: the papers' k x k convolutions, as CUDA runs them). Inference (validation
   and test passes) is counted the same way, forward only. In bf16/fp16 a tensor's bytes are
   halved (autocast keeps BatchNorm and the loss in float32 and adds casts: about even).
2. **Three rates, from the H100 of 2026-11-26** (``results/gpu-h100-2026-11-26/job-1``):
   GPU time per step = FLOPs / (eta_c x tensor peak) + bytes / (eta_m x memory bandwidth), with
   eta_c and eta_m solved from the two GPU-busy times the profiler measured there (plain AlexNet
   2.97 ms per step, AlexNet-TA 9.71 ms, 224 px, batch 128, bf16). The host launches every
   operator: host time per step = operators x c, with c the median over the six attention
   modules of (measured step time / counted operators), the modules whose steps the profiler
   showed waiting for the CPU. A step takes the longer of the two.
3. **Other GPUs** by their published peaks (below): the same eta_c and eta_m, the same host
   cost per operator (Colab's 2-vCPU host is likely slower: the T4 numbers of launch-bound
   variants may be optimistic). The batched augmentation scales with memory bandwidth and
   pixels from the H100's 87,000 images/s at 224 px.
4. **A run** = epochs x (training steps + augmentation + validation pass + 1 s checkpoint) +
   the test pass + 20 s start-up (the GPU job's allowance); **a chapter** = its runs over the
   profile's seeds. "alone" trains every run a chapter shows from an empty run cache; "in
   order" counts only the runs the earlier chapters have not trained. Data loading, CAMs and
   figures are not included (about a minute on a GPU).

The model is printed against the H100's measured steps (--check) so its error is visible.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from course_lib.attention._fast import plain_forms  # noqa: E402
from course_lib.models import build_model  # noqa: E402
from course_lib.profiles import Profile, experiment_settings, get_profile  # noqa: E402
from course_lib.variants import variants  # noqa: E402

CALIBRATION = REPO / "results" / "gpu-h100-2026-11-26" / "job-1"
PROFILED_STEPS = 5  # the GPU job's profiler tables cover five training steps
TEST_IMAGES = 10_000
RUN_OVERHEAD_S, EPOCH_OVERHEAD_S = 20.0, 1.0  # as scripts/gpu/job.py allows


@dataclass(frozen=True)
class Gpu:
    """Published peaks (dense, no sparsity): low-precision tensor FLOP/s in the precision that
    ``precision="auto"`` trains in there, float32 FLOP/s (TF32 tensor cores where the GPU has
    them, as cuDNN uses them for float32 convolutions by default), memory bandwidth."""

    name: str
    precision: str  # what "auto" resolves to on this GPU
    tensor_tflops: float
    fp32_tflops: float
    bandwidth_gbs: float


GPUS = [
    # NVIDIA T4 datasheet: 65 TFLOPS fp16 tensor, 8.1 TFLOPS fp32 (no TF32, no bf16), 320 GB/s
    Gpu("T4", "fp16", 65.0, 8.1, 320.0),
    # NVIDIA L4 datasheet: 121 TFLOPS bf16 tensor (242 with sparsity), 60 TF32 (120 sparse),
    # 300 GB/s
    Gpu("L4", "bf16", 121.0, 60.0, 300.0),
    # NVIDIA A100 80GB SXM datasheet: 312 TFLOPS bf16 tensor, 156 TF32, 2,039 GB/s
    Gpu("A100", "bf16", 312.0, 156.0, 2039.0),
    # NVIDIA H100 SXM5 datasheet: 989 TFLOPS bf16 tensor (1,979 sparse), 495 TF32, 3,350 GB/s
    # (the lent "H100 80GB HBM3" is the SXM5 part)
    Gpu("H100", "bf16", 989.0, 495.0, 3350.0),
]
CALIBRATION_GPU = "H100"

# the AlexNet variants each of chapters 01-04 shows (chapter 02's BatchNorm control: the
# BatchNorm inside TA's gates without the gates, which the GPU job trains with the others)
CHAPTERS = {
    "01": ["none"],
    "02": ["none", "triplet", "batchnorm"],
    "03": ["none", "simam"],
    "04": ["none", "se", "cbam", "se_from_identity"],
}
ATTENTIONS = ["triplet", "simam", "se", "cbam", "psa", "self_attention"]
VIEWS = frozenset(
    "detach view _unsafe_view t transpose permute expand as_strided unsqueeze squeeze alias "
    "slice select reshape split unbind".split()
)  # metadata only: no kernel, no memory traffic


class OperatorCount(TorchDispatchMode):
    """Operators dispatched (views aside) and the bytes of their tensor inputs and outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.operators, self.bytes = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__ not in VIEWS:
            self.operators += 1
            for t in tree_flatten((args, kwargs, out))[0]:
                if isinstance(t, torch.Tensor):
                    self.bytes += t.numel() * t.element_size()
        return out


@dataclass(frozen=True)
class Work:
    """What one step does: FLOPs, bytes moved (float32) and operators launched."""

    flops: float
    bytes: float
    operators: int


def count_step(model: torch.nn.Module, image_size: int, batch: int, train: bool) -> Work:
    """Count one training step (or one inference batch) of ``model`` on the meta device."""
    model = model.to("meta").train(train)
    x = torch.empty(batch, 3, image_size, image_size, device="meta")
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    flops, ops = FlopCounterMode(display=False), OperatorCount()
    with plain_forms(model), flops, ops, torch.set_grad_enabled(train):
        logits = model(x)
        if train:
            torch.nn.functional.cross_entropy(logits, y).backward()
    return Work(flops.get_total_flops(), ops.bytes, ops.operators)


def alexnet_work(attention: str, image_size: int, batch: int, train: bool) -> Work:
    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=image_size, num_classes=10)
    return count_step(model, image_size, batch, train)


@dataclass(frozen=True)
class Rates:
    """The calibrated model: compute and memory efficiencies, host seconds per operator."""

    eta_compute: float
    eta_memory: float
    host_s_per_op: float

    def gpu_seconds(self, work: Work, gpu: Gpu, precision: str) -> float:
        low = precision in ("bf16", "fp16")
        peak = (gpu.tensor_tflops if low else gpu.fp32_tflops) * 1e12
        moved = work.bytes * (0.5 if low else 1.0)
        return work.flops / (self.eta_compute * peak) + moved / (
            self.eta_memory * gpu.bandwidth_gbs * 1e9
        )

    def step_seconds(self, work: Work, gpu: Gpu, precision: str) -> float:
        return max(self.gpu_seconds(work, gpu, precision), work.operators * self.host_s_per_op)


def profiled_gpu_ms(attention: str) -> float:
    """GPU-busy milliseconds per step from the H100 profiler table of ``attention``."""
    text = (CALIBRATION / f"profile-alexnet-{attention}-224px.txt").read_text()
    total = float(re.search(r"Self CUDA time total: ([\d.]+)ms", text).group(1))
    return total / PROFILED_STEPS


def calibrate(bench: dict) -> Rates:
    """Solve eta_c, eta_m from the plain and TA GPU-busy times; c from the attention steps."""
    size, batch = bench["image_size"], bench["batch_size"]
    h100 = next(g for g in GPUS if g.name == CALIBRATION_GPU)
    plain, ta = (alexnet_work(a, size, batch, train=True) for a in ("none", "triplet"))
    # t = F / (eta_c P) + M / (eta_m B): two equations, unknowns a = 1/eta_c, b = 1/eta_m
    f = [w.flops / (h100.tensor_tflops * 1e12) for w in (plain, ta)]
    m = [0.5 * w.bytes / (h100.bandwidth_gbs * 1e9) for w in (plain, ta)]
    t = [profiled_gpu_ms(a) / 1e3 for a in ("none", "triplet")]
    det = f[0] * m[1] - f[1] * m[0]
    a, b = (t[0] * m[1] - t[1] * m[0]) / det, (f[0] * t[1] - f[1] * t[0]) / det
    step_s = {r["attention"]: batch / r["train_images_per_s"] for r in bench["models"]}
    per_op = [
        step_s[att] / alexnet_work(att, size, batch, train=True).operators
        for att in ATTENTIONS
        if att in step_s
    ]
    return Rates(1 / a, 1 / b, statistics.median(per_op))


def check(bench: dict, rates: Rates) -> list[str]:
    """The model's H100 training steps against the bench's measured ones (the calibration)."""
    size, batch = bench["image_size"], bench["batch_size"]
    h100 = next(g for g in GPUS if g.name == CALIBRATION_GPU)
    lines = [
        f"H100, {size} px, batch {batch}, bf16: modelled against measured training step (ms)",
        "",
        "| variant | FLOPs/img (G) | MB moved/img | operators | model | measured |",
        "|---|---|---|---|---|---|",
    ]
    for r in bench["models"]:
        work = alexnet_work(r["attention"], size, batch, train=True)
        model_ms = rates.step_seconds(work, h100, "bf16") * 1e3
        lines.append(
            f"| {r['attention']} | {work.flops / batch / 1e9:.2f} | "
            f"{work.bytes / batch / 1e6:.1f} | {work.operators} | {model_ms:.1f} | "
            f"{batch / r['train_images_per_s'] * 1e3:.1f} |"
        )
    return lines


@dataclass(frozen=True)
class RunSpec:
    """One run's network and settings (the seeds multiply it)."""

    key: str
    build: object  # () -> nn.Module
    profile: Profile


def run_minutes(spec: RunSpec, gpu: Gpu, rates: Rates, augment_224_ips: float) -> float:
    p = spec.profile
    train = count_step(spec.build(), p.image_size, p.batch_size, train=True)
    infer = count_step(spec.build(), p.image_size, p.eval_batch_size, train=False)
    precision = gpu.precision if p.precision == "auto" else p.precision
    step = rates.step_seconds(train, gpu, precision)
    infer_per_image = rates.step_seconds(infer, gpu, precision) / p.eval_batch_size
    h100 = next(g for g in GPUS if g.name == CALIBRATION_GPU)
    augment_per_image = (
        (p.image_size / 224) ** 2 * (h100.bandwidth_gbs / gpu.bandwidth_gbs) / augment_224_ips
    )
    n_train = p.train_subset or 50_000 - (p.val_size or 0)
    epoch = (n_train // p.batch_size) * step + n_train * augment_per_image
    epoch += (p.val_size or 0) * infer_per_image + EPOCH_OVERHEAD_S
    test = (p.test_subset or TEST_IMAGES) * infer_per_image
    return (p.epochs * epoch + test + RUN_OVERHEAD_S) / 60


def alexnet_spec(attention: str, profile: Profile) -> RunSpec:
    def build():
        torch.manual_seed(0)
        return build_model("alexnet", attention=attention, image_size=profile.image_size)

    return RunSpec(f"alexnet-{attention}", build, profile)


def chapter_specs(profile: Profile) -> dict[str, list[RunSpec]]:
    """Every chapter's runs in ``profile``: 01-04 from :data:`CHAPTERS`, 05-07 from
    ``course_lib.variants`` at their experiments' settings (left out where not trained)."""
    chapters = {c: [alexnet_spec(a, profile) for a in atts] for c, atts in CHAPTERS.items()}
    for chapter in ("05", "06", "07"):
        specs = []
        for v in variants(chapter):
            p = experiment_settings(profile, v.experiment)
            if p is None:
                continue

            def build(v=v, p=p):
                torch.manual_seed(0)
                return build_model(v.model, attention=v.attention, image_size=p.image_size,
                                   num_classes=10, **v.model_kwargs)  # fmt: skip

            label = v.name or f"{v.model}-{v.attention or 'none'}"
            key = f"{label}@{p.image_size}px-{p.epochs}ep-{p.train_subset}"
            specs.append(RunSpec(key, build, p))
        if specs:
            chapters[chapter] = specs
    return chapters


def chapter_table(profile: Profile, rates: Rates, augment_224_ips: float) -> list[str]:
    chapters = chapter_specs(profile)
    cache: dict[tuple[str, str], float] = {}

    def minutes(spec: RunSpec, gpu: Gpu) -> float:
        if (spec.key, gpu.name) not in cache:
            cache[spec.key, gpu.name] = run_minutes(spec, gpu, rates, augment_224_ips)
        return cache[spec.key, gpu.name]

    lines = [
        "| chapter | runs | " + " | ".join(f"{g.name} ({g.precision})" for g in GPUS) + " |",
        "|---|---|" + "---|" * len(GPUS),
    ]
    trained: set[str] = set()
    for chapter, specs in chapters.items():
        new = [s for s in specs if s.key not in trained]
        trained |= {s.key for s in specs}
        cells = []
        for gpu in GPUS:
            seeds = {s.key: len(s.profile.seeds) for s in specs}
            alone = sum(minutes(s, gpu) * seeds[s.key] for s in specs)
            in_order = sum(minutes(s, gpu) * seeds[s.key] for s in new)
            cells.append(f"{alone:.0f}" if alone == in_order else f"{alone:.0f} ({in_order:.0f})")
        runs = sum(len(s.profile.seeds) for s in specs)
        lines.append(f"| {chapter} | {runs} | " + " | ".join(cells) + " |")
    lines += ["", "| AlexNet variant, minutes per run | " + " | ".join(g.name for g in GPUS) + " |",
              "|---|" + "---|" * len(GPUS)]  # fmt: skip
    for attention in ["none", "triplet", "batchnorm", "simam", "se", "cbam"]:
        spec = alexnet_spec(attention, profile)
        cells = [f"{minutes(spec, gpu):.1f}" for gpu in GPUS]
        lines.append(f"| {attention} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="gpu")
    parser.add_argument("--image-size", type=int, default=None, help="default: the profile's")
    parser.add_argument("--check", action="store_true", help="also the H100 calibration table")
    args = parser.parse_args()
    profile = get_profile(args.profile, image_size=args.image_size)
    bench = json.loads((CALIBRATION / "bench-cuda-224px.json").read_text())
    rates = calibrate(bench)
    print(
        f"ESTIMATES (not measured): {profile.name} profile, {profile.image_size} px, "
        f"{profile.train_subset or 'all'} training images, {profile.epochs} epochs"
        f"{f' (of a {profile.schedule_epochs}-epoch schedule)' if profile.schedule_epochs else ''}"
        f", batch {profile.batch_size}, seeds {list(profile.seeds)}.\n"
        f"Calibrated on {bench['device']} ({bench['date'][:10]}): eta_compute "
        f"{rates.eta_compute:.3f}, eta_memory {rates.eta_memory:.3f}, host "
        f"{rates.host_s_per_op * 1e6:.0f} us per operator.\n"
    )
    if args.check:
        print("\n".join(check(bench, rates)) + "\n")
    print("Minutes per chapter (alone, from an empty run cache; in brackets: after the earlier")
    print("chapters, whose runs it reuses):\n")
    augment = bench["pipelines"]["batched_images_per_s"]
    print("\n".join(chapter_table(profile, rates, augment)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
