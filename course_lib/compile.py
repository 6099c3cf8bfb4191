"""``torch.compile`` for the whole model, or for its attention modules only.

Compiling only the attention modules fuses their elementwise passes and reductions (the part
of their cost eager PyTorch cannot fuse) and leaves the convolutions to oneDNN or cuDNN; it
compiles in seconds rather than minutes. On this course's CPU, in bf16 at 64 px, it brought
AlexNet-CBAM's training step from 1.70x plain AlexNet to 1.27x (42 s of compilation) and
AlexNet-SimAM's from 1.32x to 1.16x (18 s), and left Triplet Attention's at 1.70x (its fast path
is hand-written autograd nodes that the compiler does not fuse).
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
