"""``torch.compile`` for the whole model, or for its attention modules only.

Compiling only the attention modules fuses their elementwise passes and reductions (the part
of their cost that eager PyTorch cannot fuse) and leaves the convolutions to oneDNN or cuDNN; it
compiles in seconds rather than minutes. It pays for modules written as plain tensor operations
(CBAM, SimAM) and not for Triplet Attention's fast path, whose hand-written autograd nodes the
compiler does not fuse (README, "Performance", has the measurements).
"""

from __future__ import annotations

import torch
from torch import nn

COMPILE_MODES = ("model", "attention")


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
        model.get_submodule(name).compile(dynamic=False)
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
