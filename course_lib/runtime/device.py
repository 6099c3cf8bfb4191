"""Device choice and the settings that follow from it (mixed precision, channels_last).

Mixed precision fits the device: bf16 autocast where the device computes in bf16 natively
(CUDA from Ampere on, CPUs with AMX or AVX512-BF16), float16 autocast with a gradient scaler on
CUDA GPUs without native bf16 (T4, V100: their tensor cores run float16), float32 elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device | str | None = None) -> str:
    device = pick_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({torch.get_num_threads()} threads, {cpu})"


# the instruction sets that decide a CPU's numbers, fastest first: oneDNN picks its kernels by
# them, so the same run on two of these kinds differs (by 1-3 points of accuracy after 6 epochs)
CPU_ISAS = ("AMX", "AVX512-BF16", "AVX512", "AVX2", "other")


def cpu_isa(capabilities: dict | None = None, caps: dict | None = None) -> str:
    """The instruction set the kernels run with, one of :data:`CPU_ISAS`: the best this CPU has
    (``capabilities``: torch's ``torch.cpu.get_capabilities()``, read when not given), or lower
    where :func:`isa_caps` (read when ``caps`` is not given) holds the libraries below it.
    Recorded with every run and bench, so that a run that is not bit-identical to another can
    be told apart by its CPU kind."""
    if capabilities is None:
        capabilities = _cpu_capabilities()
    if caps is None:
        caps = _process_isa_caps()
    return max([_best_isa(capabilities), *caps.values()], key=CPU_ISAS.index)


@functools.cache
def _process_isa_caps() -> dict[str, str]:
    # the libraries read their caps once, when they start: read them once too (autocast() asks
    # for the CPU kind at every call)
    return isa_caps()


def _best_isa(capabilities: dict) -> str:
    if capabilities.get("amx_bf16"):
        return "AMX"
    if capabilities.get("avx512_bf16"):
        return "AVX512-BF16"
    if capabilities.get("avx512f") or capabilities.get("avx512"):
        return "AVX512"
    if capabilities.get("avx2"):
        return "AVX2"
    return "other"


def isa_caps(environ: dict | None = None, aten: str | None = None) -> dict[str, str]:
    """The caps below the CPU's best instruction set, by the library they hold: ATen's own
    vectorised kernels (``ATEN_CPU_CAPABILITY``, read back from torch as ``aten``), oneDNN's
    convolutions (``ONEDNN_MAX_CPU_ISA``) and MKL's float32 matrix products
    (``MKL_ENABLE_INSTRUCTIONS``). With all three at AVX2 (and ``--precision fp32``) a CPU with
    AVX512 runs the kernels of an AVX2 CPU: on the course's AMD EPYC (Zen 4) that reproduced the
    committed runs of a Zen 3 (AVX2) bit for bit."""
    environ = os.environ if environ is None else environ
    if aten is None:
        aten = torch.backends.cpu.get_cpu_capability()
    caps = {}
    if aten.upper() in ("DEFAULT", "NO AVX"):
        caps["aten"] = "other"
    elif aten.upper() == "AVX2":
        caps["aten"] = "AVX2"
    onednn = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    if onednn and onednn not in ("ALL", "DEFAULT") and "AMX" not in onednn:
        caps["onednn"] = (
            "AVX512-BF16"
            if onednn.startswith("AVX512_CORE_BF16")
            else "AVX512"
            if onednn.startswith("AVX512")
            else "AVX2"
            if onednn.startswith("AVX2")
            else "other"
        )
    mkl = environ.get("MKL_ENABLE_INSTRUCTIONS", "").upper()
    if mkl and not mkl.startswith("AVX512"):  # MKL's float32 products: AVX512 is no cap on bf16
        caps["mkl"] = "AVX2" if mkl.startswith("AVX2") else "other"
    return caps


@functools.cache
def _cpu_capabilities() -> dict:
    if not hasattr(torch.cpu, "get_capabilities"):  # torch before 2.5
        return {}
    return dict(torch.cpu.get_capabilities())


PRECISIONS = ("auto", "bf16", "fp32", "fp16")
# the autocast dtype of each low precision; fp32 runs without autocast
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device | str | None = None) -> bool:
    """Whether ``device`` computes in bfloat16 natively: CUDA GPUs from Ampere on, and CPUs with
    AMX or AVX512-BF16 instructions (oneDNN then runs convolutions and matrix products in bf16
    faster than in float32); elsewhere bf16 is emulated and slower than float32."""
    device = pick_device(device)
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch before 2.3 has no including_emulation
            return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_has_bf16()


def _cpu_has_bf16() -> bool:  # autocast() resolves "auto" at every call: capabilities cached
    return cpu_isa() in ("AMX", "AVX512-BF16")


def check_precision(precision: str) -> str:
    """``precision`` itself, or a ValueError that lists the valid ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def resolve_precision(precision: str, device: torch.device | str | None = None) -> str:
    """``bf16``, ``fp16`` or ``fp32``. ``auto`` is bf16 where the device has it natively,
    fp16 on a CUDA GPU without it (T4, V100: float16 tensor cores, a gradient scaler keeps
    small gradients from underflowing), else fp32."""
    if check_precision(precision) != "auto":
        return precision
    if native_bf16(device):
        return "bf16"
    return "fp16" if pick_device(device).type == "cuda" else "fp32"


def autocast(device: torch.device | str, precision: str = "auto"):
    """Autocast in the precision ``precision`` resolves to (convolutions and matrix products
    in bf16 or float16; weights, optimiser state, BatchNorm statistics and the loss stay
    float32); nothing in float32."""
    device = torch.device(device)
    dtype = AUTOCAST_DTYPES.get(resolve_precision(precision, device))
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler | None:
    """A ``torch.amp.GradScaler`` where ``precision`` resolves to fp16 (float16's 5-bit
    exponent flushes small gradients to zero unless the loss is scaled up first), else None:
    bf16 has float32's exponent range and float32 needs no scaling."""
    device = torch.device(device)
    if resolve_precision(precision, device) != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last: cuDNN's convolutions prefer it, and on a 2-core CPU oneDNN runs AlexNet
    9 % and AlexNet-PSA's grouped convolutions 2.4x faster in it (measured at 64 px)."""
    return torch.channels_last


def enable_fast_kernels(device: torch.device) -> None:
    """On CUDA: let cuDNN time its algorithms once per shape and keep the fastest (every
    training step here has the same shape), and let float32 matrix products use TF32."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
