"""``torch.compile`` for the whole model, or for its attention modules only.

Compiling only the attention modules fuses their elementwise passes and reductions (the part
of their cost that eager PyTorch cannot fuse) and leaves the convolutions to oneDNN or cuDNN.
On a CPU in bf16 it pays clearly for CBAM and SimAM, and for Triplet Attention's Z-pools'
backward in long runs (the module compiles only that part: ``compile_fast_path``); the first
compilation on a machine takes seconds to a minute, and later runs load the compiled code from
PyTorch's on-disk cache in one or two seconds (docs/performance.md has the measurements).
``train_or_load`` therefore compiles them by default (``compile="auto"``) where that has been
measured to repay itself.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import nn

from ..names import COMPILE_MODES  # one list, also for the command line

# attention modules whose training steps compiling made cheaper on a CPU in bf16, each with the
# number of steps from which the saving repays a first compilation into an empty cache (15-45 s):
# CBAM 1.66x -> 1.20x and SimAM 1.37x -> 1.11-1.14x of plain AlexNet at 128 px save ~0.1 s a
# step; Triplet Attention, whose compiled part is only its Z-pools' backward (1.52x -> 1.44x,
# the same numbers bit for bit), ~13 ms a step against a first compilation of ~16 s. SE gained
# too little to repay one.
COMPILE_PAYS_ON_CPU = {"cbam": 300, "simam": 300, "triplet": 1500}
MIN_STEPS_TO_COMPILE = min(COMPILE_PAYS_ON_CPU.values())


def _not_about_missing_cuda(record: logging.LogRecord) -> bool:
    """False for the warning torch prints when it loads its C++ build helpers on a machine with
    a CUDA toolkit but no GPU ("No CUDA runtime is found, using CUDA_HOME=..."): compiling
    for the CPU does not use CUDA, and in a notebook the line reads like an error."""
    return not record.getMessage().startswith("No CUDA runtime is found")


# the logger exists before torch.utils.cpp_extension is imported (logging keeps it by name)
logging.getLogger("torch.utils.cpp_extension").addFilter(_not_about_missing_cuda)


def auto_compile(model: nn.Module, device: torch.device, precision: str, steps: int) -> str | None:
    """``"attention"`` where compiling ``model``'s attention modules is measured to repay itself
    (a CPU, bf16, a module in :data:`COMPILE_PAYS_ON_CPU` with at least its number of training
    steps, a working compiler), else None (eager)."""
    if device.type != "cpu" or precision != "bf16":
        return None
    kinds = {getattr(m, "course_attention", "none") for m in model.modules()}
    pays = any(steps >= COMPILE_PAYS_ON_CPU.get(kind, float("inf")) for kind in kinds)
    return "attention" if pays and compiler_works() else None


@functools.cache
def compiler_works() -> bool:
    """Whether ``torch.compile`` can build code on this machine (on a CPU it needs a C++
    compiler and OpenMP): a tiny function is compiled and run once per process."""
    try:
        double = torch.compile(lambda x: x * 2 + 1, dynamic=False)
        return bool(double(torch.ones(4)).eq(3).all())
    except Exception:  # any failure means: train eagerly, as without a compiler
        return False


def mark_attention(module: nn.Module, name: str) -> nn.Module:
    """Remember that ``module`` is an attention module (``create_attention`` calls this)."""
    module.course_attention = name
    return module


def compile_attention(model: nn.Module) -> list[str]:
    """Compile every attention module of ``model`` in place (``nn.Module.compile``: parameter
    names and checkpoints stay as they are); returns their names."""
    names = [
        name
        for name, module in model.named_modules()
        if getattr(module, "course_attention", "none") != "none"
    ]
    # one graph per input shape and mode: AlexNet's five slots need ten, the default keeps eight
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    for name in names:
        module = model.get_submodule(name)
        if hasattr(module, "compile_fast_path"):  # it compiles what pays itself (Triplet Attention)
            module.compile_fast_path()
            continue
        # a module may name parts to compile one by one instead of as one graph (CBAM: see there)
        parts = [module.get_submodule(part) for part in getattr(module, "compile_parts", ())]
        for part in parts or [module]:
            part.compile(dynamic=False)
    return names


def compiled(model: nn.Module, mode: str | bool | None) -> nn.Module:
    """``model`` to run steps with: itself (``None``/``False``), ``torch.compile(model)``
    (``"model"`` or ``True``), or itself with its attention modules compiled (``"attention"``)."""
    if not mode:
        return model
    if mode is True or mode == "model":
        return torch.compile(model)
    if mode == "attention":
        compile_attention(model)
        return model
    raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}; got {mode!r}")
