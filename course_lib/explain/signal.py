"""How large a network's activations are, layer by layer: the root mean square of the output of
chosen layers (by default every ReLU of ``model.features``) and of the logits, on a batch.

A gate that multiplies a feature map by about 0.5 halves its scale, and a network without
normalisation such as AlexNet passes the shrunk map on. Five such gates do not shrink what reaches
the classifier by 2^5, though: each convolution adds its bias after the previous gate, and the bias
is not gated. Comparing the scales of the same seed's untrained networks with and without
attention measures how much they do shrink it (chapter 04).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..runtime.modes import inspecting


def activation_scale(
    model: nn.Module, images: torch.Tensor, layers: Sequence[str] | None = None
) -> dict[str, float]:
    """The root mean square of each layer's output and of the logits (key ``"logits"``), in
    the order of the network; ``layers`` names modules as ``model.named_modules`` does
    (default: every ``nn.ReLU`` directly in ``model.features``, the stages' outputs). The model
    runs in eval mode, without gradients."""
    modules = dict(model.named_modules())
    if layers is None and isinstance(getattr(model, "features", None), nn.Module):
        stages = model.features.named_children()
        layers = [f"features.{n}" for n, m in stages if isinstance(m, nn.ReLU)]
    missing = [n for n in layers or [] if n not in modules]
    if missing or not layers:
        raise ValueError(
            f"no module named {', '.join(missing) or '(none given)'} in the model; pass names "
            "from model.named_modules()"
        )
    outputs: dict[str, float] = {}

    def keep(name: str):
        return lambda _m, _args, out: outputs.__setitem__(name, _rms(out))

    hooks = [modules[n].register_forward_hook(keep(n)) for n in layers]
    with inspecting(model, hooks), torch.no_grad():
        logits = model(images)
    return {**{n: outputs[n] for n in layers}, "logits": _rms(logits)}


def _rms(t: torch.Tensor) -> float:
    return float(t.float().pow(2).mean().sqrt())
