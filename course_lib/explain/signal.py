"""How large a network's activations are, layer by layer: the root mean square of the output of
chosen layers (by default every ReLU of ``model.features``) and of the logits, on a batch.

A gate that multiplies a feature map by about 0.5 halves its scale; in a network without
normalisation such as AlexNet, five of them in a row shrink what reaches the classifier by about
2^5 = 32, and CBAM's two gates per module (a product near 0.25) by about 4^5 = 1024. Comparing the
scales of the same seed's untrained networks with and without attention measures that directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


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
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(images)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return {**{n: outputs[n] for n in layers}, "logits": _rms(logits)}


def _rms(t: torch.Tensor) -> float:
    return float(t.float().pow(2).mean().sqrt())
