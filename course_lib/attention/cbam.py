"""CBAM: Convolutional Block Attention Module.

Paper: Sanghyun Woo, Jongchan Park, Joon-Young Lee, In So Kweon, "CBAM: Convolutional Block
Attention Module", ECCV 2018, arXiv:1807.06521.
Official code: https://github.com/Jongchan/attention-module (MODELS/cbam.py)

Channel attention then spatial attention (Eq. 1): ``F' = M_c(F) * F``, ``F'' = M_s(F') * F'``.

Choices, following the official code rather than timm's ``CbamModule``:

* the shared MLP of the channel attention is two ``nn.Linear`` layers WITH bias (timm uses 1x1
  convs without bias);
* the spatial attention's 7x7 conv has no bias and is followed by
  ``BatchNorm2d(1, eps=1e-5, momentum=0.01)`` (the official ``BasicConv(..., relu=False)``), then
  the sigmoid. The Z-pool order is max then mean, as in the official ``ChannelPool``. This is the
  same gate as Triplet Attention's H-W branch, whose authors reused CBAM's code.

Difference from the official code: the bottleneck is ``h = max(C // reduction, min_channels)``
(the official one is ``C // reduction``), so that 48 channels do not give a 3-unit MLP.

Parameters: channel attention ``C*h + h + h*C + C``; spatial attention ``2*k*k`` (conv) + 2 (BN
weight and bias), i.e. 100 for k = 7; CBAM = ``2*C*h + h + C + 2*k*k + 2``. Plus the spatial BN's
running mean and variance (2 elements) and its ``num_batches_tracked``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _fast
from .registry import register_attention
from .se import se_hidden_channels
from .triplet import pooled_map_conv

__all__ = ["CBAM", "ChannelAttention", "SpatialAttention"]


class ChannelAttention(nn.Module):
    """M_c(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F))) (Eq. 2), then ``x * M_c``.

    The arguments are SE's (:class:`~course_lib.attention.se.SqueezeExcite`): the channel count
    C, the reduction ratio r and the smallest bottleneck width; the MLP is shared by the two
    pooled vectors.
    """

    def __init__(self, channels: int, reduction: int = 16, min_channels: int = 8):
        super().__init__()
        hidden = se_hidden_channels(channels, reduction, min_channels)
        # The shared MLP (W0, W1 of Eq. 2); Linear with bias, as in the official code.
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """M_c(F) of Eq. 2, shape (B, C, 1, 1)."""
        # Global max as adaptive_max_pool2d rather than amax over (H, W): the same values, and
        # forward + backward are 6x faster on a CPU for channels_last maps (on a tie its gradient
        # goes to one entry instead of being shared; ties do not occur for continuous inputs).
        avg, top = x.mean(dim=(2, 3)), F.adaptive_max_pool2d(x, 1).flatten(1)
        logits = self.mlp(avg) + self.mlp(top)
        return torch.sigmoid(logits)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SpatialAttention(nn.Module):
    """M_s(F) = sigmoid(BN(conv_kxk([MaxPool_c(F); AvgPool_c(F)]))) (Eq. 3), then ``x * M_s``.

    The paper's Eq. 3 writes [AvgPool; MaxPool] and no BN; the official code pools max first and
    puts a BatchNorm after the bias-free conv. We follow the code.
    """

    def __init__(self, kernel_size: int = 7, fast: bool = True):
        super().__init__()
        self.fast = fast  # the banded convolution of attention._fast: same numbers, faster
        self.conv = pooled_map_conv(kernel_size)
        # PyTorch momentum convention (0.01 here is Paddle's 0.99); see triplet.AttentionGate.
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """M_s(F) of Eq. 3, shape (B, 1, H, W)."""
        if self.fast:
            return _fast.spatial_gate(self, x)
        pooled = torch.stack([x.amax(dim=1), x.mean(dim=1)], dim=1)  # channel max, mean
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


@register_attention("cbam")
class CBAM(nn.Module):
    """CBAM (Woo et al., ECCV 2018): channel attention, then spatial attention (Eq. 1).

    Args:
        channels: the input's channel count C.
        reduction: the channel MLP's reduction ratio r.
        kernel_size: the spatial conv's side (7 in the paper).
        min_channels: the smallest bottleneck width.
    """

    # torch.compile (2.14, CPU) of CBAM as one graph gives non-finite gradients in bf16 although
    # each part compiled alone is correct: course_lib.runtime.compile compiles them one by one
    compile_parts = ("channel", "spatial")

    def __init__(
        self, channels: int, reduction: int = 16, kernel_size: int = 7, min_channels: int = 8
    ):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction, min_channels)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))
