"""The source notebooks' AlexNet, with an attention module after every convolution.

Convolutions 3->48->128->192->192->128 with kernels 11 (stride 4, padding 5), 5, 3, 3, 3; max-pools
3/2 after the first, second and fifth; classifier 2048-2048-classes with dropout 0.5. As in seeds
000 and 001, ``attention`` inserts a module after each convolution, before its ReLU.

Unlike the source notebooks, the flatten size is derived from ``image_size`` instead of being
fixed at 6 x 6 x 128, so the same class works at 224 px (the paper profile), 128 px (source 001's
SimAM setting and the CPU profile) and down to 57 px.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..attention import ATTENTION, attention_key, create_attention
from .registry import register_model

# (out_channels, kernel, stride, padding, pool after?)
ALEXNET_CONVS = [
    (48, 11, 4, 5, True),
    (128, 5, 1, 2, True),
    (192, 3, 1, 1, False),
    (192, 3, 1, 1, False),
    (128, 3, 1, 1, True),
]


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1: the side of a conv's or pool's output."""
    return (size + 2 * padding - kernel) // stride + 1


def alexnet_feature_sizes(image_size: int) -> list[tuple[str, int]]:
    """The side of every feature map, layer by layer, for a square input."""
    sizes, size = [], image_size
    for i, (_, kernel, stride, padding, pool) in enumerate(ALEXNET_CONVS, start=1):
        size = conv_output_size(size, kernel, stride, padding)
        sizes.append((f"conv{i}", size))
        if pool:
            size = conv_output_size(size, 3, 2) if size >= 3 else 0
            sizes.append((f"pool{i}", size))
    return sizes


def alexnet_receptive_fields(image_size: int) -> list[tuple[str, int, int, int]]:
    """``(layer, side of its map, receptive field in input pixels, stride in input pixels)``
    for every conv and pool: how much of the image one position of each map sees.

    A layer with kernel k and stride s grows the receptive field by (k - 1) times the current
    jump (the input pixels between two neighbouring positions) and multiplies the jump by s.
    """
    rows, field, jump = [], 1, 1
    for (name, side), (kernel, stride) in zip(alexnet_feature_sizes(image_size), _layer_kernels()):
        field += (kernel - 1) * jump
        jump *= stride
        rows.append((name, side, field, jump))
    return rows


def alexnet_field_span(image_size: int, layer: str, index: int) -> tuple[int, int]:
    """The first and last input row (or column) that position ``index`` of ``layer``'s map
    depends on. The receptive field is centred on its position, so a corner position sees less
    of the image than the centre one (the rest of its field is padding), and rows that a
    pooling's floor drops are seen by no position. Measured exactly, as the gradient of one
    position of a linear stand-in with AlexNet's kernels, strides and paddings (all-ones
    weights, average pools in place of max pools, which pass one arg-max only)."""
    names = [name for name, _ in alexnet_feature_sizes(image_size)]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; AlexNet's layers: {', '.join(names)}")
    layers = []
    for (kernel, stride, padding), name in zip(_layer_geometry(), names):
        if name.startswith("pool"):
            layers.append(nn.AvgPool2d(kernel, stride))
        else:
            layers.append(nn.Conv2d(1, 1, kernel, stride, padding, bias=False))
            nn.init.constant_(layers[-1].weight, 1.0)
        if name == layer:
            break
    x = torch.ones(1, 1, image_size, image_size, requires_grad=True)
    nn.Sequential(*layers)(x)[0, 0, index, 0].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero().flatten()
    return int(rows.min()), int(rows.max())


def _layer_geometry() -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every conv and pool, in order."""
    layers = []
    for _, kernel, stride, padding, pool in ALEXNET_CONVS:
        layers.append((kernel, stride, padding))
        if pool:
            layers.append((3, 2, 0))
    return layers


def _layer_kernels() -> list[tuple[int, int]]:
    kernels = []
    for _, kernel, stride, _, pool in ALEXNET_CONVS:
        kernels.append((kernel, stride))
        if pool:
            kernels.append((3, 2))
    return kernels


def alexnet_min_image_size() -> int:
    size = 1
    while alexnet_feature_sizes(size)[-1][1] < 1:
        size += 1
    return size


class AlexNet(nn.Module):
    """AlexNet as in the source notebooks; ``attention`` names a module placed after every conv.

    Args:
        num_classes: output classes.
        attention: a name from :func:`course_lib.attention.list_attention`, or None.
        image_size: the input side in pixels (sets the classifier's input size).
        attention_kwargs: passed to every attention module (e.g. ``{"lam": 1e-5}``).
        dropout: dropout probability before the first two fully connected layers.
    """

    def __init__(
        self,
        num_classes: int = 10,
        attention: str | None = None,
        image_size: int = 224,
        attention_kwargs: dict | None = None,
        dropout: float = 0.5,
    ):
        super().__init__()
        minimum = alexnet_min_image_size()
        if image_size < minimum:
            raise ValueError(
                f"AlexNet needs images of at least {minimum} px (its three 3/2 max-pools leave "
                f"nothing of a {image_size} px input); resize the data to {minimum} px or more"
            )
        self.image_size = image_size
        attention = attention_key(attention)
        self.attention = attention or "none"
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = 3
        # a module that learns one map per site (the input-independent control) gets its side
        sides = dict(alexnet_feature_sizes(image_size))
        needs_size = bool(attention) and getattr(ATTENTION.get(attention), "needs_map_size", False)
        for i, (out_channels, kernel, stride, padding, pool) in enumerate(ALEXNET_CONVS, 1):
            layers[f"conv{i}"] = nn.Conv2d(in_channels, out_channels, kernel, stride, padding)
            if attention:
                site = {"size": sides[f"conv{i}"]} if needs_size else {}
                layers[f"attn{i}"] = create_attention(
                    attention, out_channels, **site, **(attention_kwargs or {})
                )
            layers[f"relu{i}"] = nn.ReLU()  # not in-place: GradCAM keeps the activations
            if pool:
                layers[f"pool{i}"] = nn.MaxPool2d(3, 2)
            in_channels = out_channels
        self.features = nn.Sequential(layers)
        side = alexnet_feature_sizes(image_size)[-1][1]
        self.flatten_size = in_channels * side * side
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.flatten_size, 2048),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(2048, 2048),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(2048, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(
                f"this AlexNet was built for {self.image_size} px inputs and got "
                f"{tuple(x.shape[-2:])}; resize the images or build it with "
                f"image_size={x.shape[-1]}"
            )
        return self.classifier(self.features(x))


@register_model("alexnet")
def alexnet(
    num_classes: int = 10,
    attention: str | None = None,
    image_size: int = 224,
    **kwargs,
) -> AlexNet:
    return AlexNet(num_classes=num_classes, attention=attention, image_size=image_size, **kwargs)
