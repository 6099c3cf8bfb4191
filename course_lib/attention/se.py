"""Squeeze-and-Excitation.

Paper: Jie Hu, Li Shen, Gang Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
arXiv:1709.01507. Official code (Caffe): https://github.com/hujie-frank/SENet

Squeeze (Eq. 2): global average pooling, one number per channel. Excitation (Eq. 3):
``s = sigmoid(W2 relu(W1 z))``, a bottleneck MLP C -> C/r -> C. Scale (Eq. 4): ``x * s``.
The fully connected layers are written as 1x1 convolutions with bias (as in timm's ``SEModule``),
which is the same map as the paper's FC layers on a (B, C, 1, 1) tensor.

Parameters: ``C*h + h + h*C + C`` with ``h = max(C // reduction, min_channels)``; the
``min_channels`` floor (timm's ``rd_divisor`` idea, here a plain minimum) keeps narrow layers such
as AlexNet's 48-channel conv1 from a 3-unit bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention

__all__ = ["SqueezeExcite", "se_from_identity", "se_hidden_channels"]


def se_hidden_channels(channels: int, reduction: int = 16, min_channels: int = 8) -> int:
    """The bottleneck width ``h = max(channels // reduction, min_channels)``."""
    return max(channels // reduction, min_channels)


@register_attention("se")
class SqueezeExcite(nn.Module):
    """SE block: ``x * sigmoid(fc2(relu(fc1(GAP(x)))))``.

    Args:
        channels: the input's channel count C.
        reduction: the reduction ratio r (16 in the paper).
        min_channels: the smallest bottleneck width.
        gate_scale: multiplies the sigmoid (1 in the paper). At initialisation the sigmoid sits
            near 0.5, so every SE block halves its input until it learns; ``gate_scale=2``
            (registered as ``se_from_identity``) starts the block near the identity with the
            same range around it: the variant chapter 04 uses to test whether that halving is
            what slows SE's first epochs.
    """

    def __init__(
        self, channels: int, reduction: int = 16, min_channels: int = 8, gate_scale: float = 1.0
    ):
        super().__init__()
        self.gate_scale = gate_scale
        hidden = se_hidden_channels(channels, reduction, min_channels)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)  # W1 of Eq. 3
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=True)  # W2 of Eq. 3

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights s (Eqs. 2-3), shape (B, C, 1, 1), in (0, gate_scale)."""
        z = x.mean(dim=(2, 3), keepdim=True)  # squeeze, Eq. 2
        s = torch.sigmoid(self.fc2(self.act(self.fc1(z))))  # excitation, Eq. 3
        return s if self.gate_scale == 1.0 else self.gate_scale * s

    def extra_repr(self) -> str:
        return "" if self.gate_scale == 1.0 else f"gate_scale={self.gate_scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)  # scale, Eq. 4


@register_attention("se_from_identity")
def se_from_identity(channels: int, **kwargs) -> SqueezeExcite:
    """SE whose gate is ``2 * sigmoid``: it starts near 1 (the identity) instead of near 0.5."""
    return SqueezeExcite(channels, gate_scale=2.0, **kwargs)
