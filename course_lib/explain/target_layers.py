"""Which layer a CAM should look at, for every registered model.

The target is the output of a whole block: for AlexNet the ReLU after the fifth convolution
(and its attention module), for ResNet-style networks the last bottleneck. Never an attention
module's internal gate: Triplet Attention's gates work on permuted tensors whose axes are not
(channels, height, width), so a CAM of them would be meaningless.
"""

from __future__ import annotations

from torch import nn


def target_layer(model: nn.Module) -> nn.Module:
    """The layer whose activations and gradients GradCAM uses for ``model``."""
    name = getattr(model, "spec", {}).get("name", type(model).__name__.lower())
    if hasattr(model, "features") and hasattr(model.features, "relu5"):
        return model.features.relu5  # AlexNet: conv5 -> attention -> ReLU
    if hasattr(model, "layer4"):
        return model.layer4[-1]  # ResNet-50, EPSANet
    if hasattr(model, "stages") or name.startswith("moganet"):
        return _last_block(model)
    if hasattr(model, "features") and isinstance(model.features, nn.Sequential):
        # VGG: the last ReLU of the feature extractor (before the final max-pool)
        relus = [m for m in model.features if isinstance(m, nn.ReLU)]
        if relus:
            return relus[-1]
    raise ValueError(
        f"no CAM target layer is known for model {name!r}; pass target_layers=[...] yourself "
        "(the output of the last convolutional block)"
    )


def _last_block(model: nn.Module) -> nn.Module:
    stages = getattr(model, "stages", None)
    if stages is not None:
        last = stages[-1]
        return last[-1] if isinstance(last, nn.Sequential) else last
    blocks = [m for m in model.modules() if type(m).__name__ == "MogaBlock"]
    if not blocks:
        raise ValueError("model has no MogaBlock to target")
    return blocks[-1]
