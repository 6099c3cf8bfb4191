"""A small CIFAR-native bottleneck ResNet, built with a plain 3x3 conv or with PSA in its place.

ResNet: Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun, "Deep Residual Learning for Image
Recognition", CVPR 2016, arXiv:1512.03385 (Sec. 4.2 describes the CIFAR-10 networks: a 3x3
stride-1 stem, no max-pool, three stages at 32, 16 and 8 px).

EPSANet's comparison (Zhang et al. 2021) is ResNet-50 against the same network with every
bottleneck's 3x3 conv replaced by PSA. ResNet-50's ImageNet stem (7x7/2 conv and a max-pool)
leaves a 1x1 map in its last stage at 32 px, so at CIFAR size that comparison says nothing. This
network keeps the comparison and fixes the geometry: one class, two mixers::

    build_model("cifar_resnet")                   # bottleneck 1x1 -> 3x3 conv -> 1x1
    build_model("cifar_resnet", attention="psa")  # bottleneck 1x1 -> PSA      -> 1x1

Everything else (depth, widths, BatchNorms, shortcuts, initialisation) is shared, so a difference
in accuracy is PSA's. PSA's four branches (kernels 3, 5, 7, 9, groups fitted to the width as in
AlexNet-PSA) cost fewer multiply-adds than the 3x3 conv they replace, as in the paper.

Any other attention module is placed *between* stages, after the stages listed in
``attention_after`` (chapter 07 puts SAGAN's self-attention after stages 1 and 2, on the 16x16
and 8x8 maps of a 32 px image)::

    build_model("cifar_resnet", attention="self_attention", attention_after=(1, 2))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..attention.psa import PSA_GROUPS, PSA_KERNELS, FixedWeightPSA, PSAModule, fit_groups
from ..attention.registry import attention_key, create_attention
from .registry import register_model

CIFAR_RESNET_MIXERS = (None, "psa", "psa_fixed")


def mixer(kind: str | None, channels: int, stride: int) -> nn.Module:
    """The bottleneck's middle layer: a 3x3 conv, or PSA (same input, output and stride)."""
    if kind is None:
        return nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
    groups = fit_groups(channels, channels, PSA_GROUPS)
    return PSAModule(channels, channels, PSA_KERNELS, groups, stride=stride)


class Bottleneck(nn.Module):
    """1x1 conv -> BN -> ReLU -> mixer (3x3 conv or PSA, carries the stride) -> BN -> ReLU ->
    1x1 conv (x4 channels) -> BN, plus the shortcut (a strided 1x1 conv + BN where the shape
    changes), ReLU. EPSANet's EPSA block is this block with the PSA mixer."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, kind: str | None = None):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        if kind == "psa_fixed":  # the control: PSA's convolutions, branch weights fixed at 1/4
            groups = fit_groups(planes, planes, PSA_GROUPS)
            self.conv2 = FixedWeightPSA(planes, planes, PSA_KERNELS, groups, stride=stride)
        else:
            self.conv2 = mixer(kind, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()  # not in-place: GradCAM keeps the activations
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """3x3 stride-1 stem -> three bottleneck stages (32, 16, 8 px at 32 px input) -> average
    pool -> linear.

    Args:
        num_classes: output classes.
        attention: ``None`` (3x3 convs: a ResNet), ``"psa"`` (PSA in their place: an EPSANet),
            or any other registered module, inserted after the stages in ``attention_after``.
        depths: bottleneck blocks per stage.
        planes: bottleneck widths per stage (each block outputs 4x as many channels).
        stem_channels: channels of the stem conv.
        attention_after: stage indices (0-based) after which a module other than PSA goes;
            each becomes ``stages[i].attention``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        attention: str | None = None,
        depths: tuple[int, ...] = (2, 2, 2),
        planes: tuple[int, ...] = (32, 64, 128),
        stem_channels: int = 32,
        attention_after: tuple[int, ...] = (),
    ):
        super().__init__()
        kind = attention_key(attention)
        if len(depths) != len(planes):
            raise ValueError(f"depths {depths} and planes {planes} need one entry per stage")
        between = kind not in CIFAR_RESNET_MIXERS  # a module placed between stages
        if between and not attention_after:
            raise ValueError(
                f"cifar_resnet puts attention={attention!r} between stages: give "
                f"attention_after=(stage indices), e.g. (1, 2); attention='psa' replaces the "
                "3x3 convs instead"
            )
        if not between and attention_after:
            raise ValueError(
                f"attention_after={tuple(attention_after)} places a module between stages; "
                f"attention={attention!r} has none to place (use e.g. 'self_attention')"
            )
        bad = [i for i in attention_after if not 0 <= i < len(depths)]
        if bad:
            raise ValueError(f"attention_after {bad}: this network has stages 0-{len(depths) - 1}")
        mixer_kind = None if between else kind
        self.attention = kind or "none"
        self.attention_after = tuple(sorted(set(attention_after)))
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(),
        )
        stages, channels = [], stem_channels
        for i, (depth, width) in enumerate(zip(depths, planes, strict=True)):
            blocks = []
            for j in range(depth):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(Bottleneck(channels, width, stride, mixer_kind))
                channels = width * Bottleneck.expansion
            stage = nn.Sequential(*blocks)
            if i in attention_after:
                stage.add_module("attention", create_attention(kind, channels))
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for name, m in self.named_modules():  # EPSANet's init: N(0, sqrt(2 / fan_out)) convs
            if isinstance(m, nn.Conv2d) and ".attention." not in name:
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model("cifar_resnet")
def cifar_resnet(
    num_classes: int = 10,
    attention: str | None = None,
    image_size: int | None = None,  # accepted for build_model, not needed: the net pools
    depths: tuple[int, ...] = (2, 2, 2),
    planes: tuple[int, ...] = (32, 64, 128),
    stem_channels: int = 32,
    attention_after: tuple[int, ...] = (),
) -> CifarResNet:
    """The CIFAR bottleneck ResNet; ``attention="psa"`` puts PSA in place of every 3x3 conv,
    another module goes after the stages in ``attention_after``."""
    return CifarResNet(
        num_classes, attention, tuple(depths), tuple(planes), stem_channels, tuple(attention_after)
    )


cifar_resnet.added_later = ("attention_after",)  # the runs named before it keep their names
