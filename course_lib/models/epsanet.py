"""EPSANet: a ResNet whose bottleneck 3x3 convolution is a PSA module (and ResNet-50 to compare).

Paper: Hu Zhang, Keke Zu, Jian Lu, Yuru Zou, Deyu Meng, "EPSANet: An Efficient Pyramid Squeeze
Attention Block on Convolutional Neural Network", arXiv:2105.14447 (2021), ACCV 2022.

The EPSA block is the ResNet bottleneck with its 3x3 conv replaced by
:class:`~course_lib.attention.psa.PSAModule`: 1x1 conv -> BN -> ReLU ->
PSA (carries the stride) -> BN -> ReLU -> 1x1 conv (x4 channels) -> BN, plus the shortcut, ReLU.
EPSANet-50 ("small", layers 3-4-6-3) has 22,561,715 parameters at 1000 classes (the paper's
22.56M), 22,614,835 if BatchNorm running means and variances are counted as in source 003's Paddle
summary. The seed's ``epsanet101`` refers to an undefined ``kwarg``; ours builds.
"""

from __future__ import annotations

import math

import torch
import torchvision
from torch import nn

from ..attention.psa import PSA_GROUPS, PSA_KERNELS, PSAModule
from .registry import register_model, reject_attention


class EPSABlock(nn.Module):
    """The EPSA bottleneck: 1x1 -> PSA(stride) -> 1x1 (x4), each followed by BN, plus shortcut."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        kernels: tuple[int, ...] = PSA_KERNELS,
        groups: tuple[int, ...] = PSA_GROUPS,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = PSAModule(planes, planes, kernels=kernels, groups=groups, stride=stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()  # not in-place: GradCAM keeps the activations
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))  # PSA in place of the 3x3 conv
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class EPSANet(nn.Module):
    """ResNet-style EPSANet: 7x7/2 stem, 3x3/2 max-pool, four EPSA stages, average pool, fc.

    Args:
        layers: blocks per stage, e.g. ``[3, 4, 6, 3]`` for EPSANet-50.
        num_classes: output classes.
    """

    def __init__(self, layers: list[int] | tuple[int, ...], num_classes: int = 1000):
        super().__init__()
        self.in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(64, layers[0], stride=1)
        self.layer2 = self._make_stage(128, layers[1], stride=2)
        self.layer3 = self._make_stage(256, layers[2], stride=2)
        self.layer4 = self._make_stage(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * EPSABlock.expansion, num_classes)
        # Official initialisation: N(0, sqrt(2 / (k*k*out))) for convs, BN weight 1 and bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_stage(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        out_channels = planes * EPSABlock.expansion
        downsample = None
        if stride != 1 or self.in_channels != out_channels:
            downsample = nn.Sequential(
                nn.Conv2d(self.in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        stage = [EPSABlock(self.in_channels, planes, stride, downsample)]
        self.in_channels = out_channels
        stage += [EPSABlock(out_channels, planes) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register_model("epsanet50")
def epsanet50(
    num_classes: int = 1000, attention: str | None = None, image_size: int | None = None
) -> EPSANet:
    """EPSANet-50 (small): 22.56M parameters at 1000 classes. ``image_size`` is not needed."""
    reject_attention("epsanet50", attention)
    return EPSANet([3, 4, 6, 3], num_classes=num_classes)


@register_model("epsanet101")
def epsanet101(
    num_classes: int = 1000, attention: str | None = None, image_size: int | None = None
) -> EPSANet:
    """EPSANet-101 (small), layers 3-4-23-3. ``image_size`` is not needed."""
    reject_attention("epsanet101", attention)
    return EPSANet([3, 4, 23, 3], num_classes=num_classes)


@register_model("resnet50")
def resnet50(
    num_classes: int = 1000, attention: str | None = None, image_size: int | None = None
) -> nn.Module:
    """torchvision's ResNet-50 (random weights), the reference EPSANet-50 is compared with."""
    reject_attention("resnet50", attention)
    return torchvision.models.resnet50(weights=None, num_classes=num_classes)
