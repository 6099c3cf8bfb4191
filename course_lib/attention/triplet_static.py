"""Triplet Attention with input-independent gates: the control for "the gates use the image".

Not a paper's module: the course's control for chapter 02. Triplet Attention (Misra et al.,
WACV 2021, :mod:`course_lib.attention.triplet`) computes each branch's gate as
``sigmoid(BN(conv7x7(ZPool(x))))`` (Eq. 1). This module keeps everything of that gate except its
dependence on ``x``: the Z-pooled map ``ZPool(x)`` is replaced by a learned map ``P`` of the same
shape, so that

    gate_b = sigmoid(BN(conv7x7(P_b)))        (Eq. 1 with x* replaced by a learned P_b)
    y      = x * mean_b(gate_b)               (Eq. 2, the same broadcast products)

The placement (after every conv), the 7x7 convolutions, the BatchNorm (momentum 0.01) and the
sigmoid are Triplet Attention's; what differs is that every image gets the same three gates. A
network that trains as well with this module as with Triplet Attention does not need its gates
to depend on the image; one that trains better with Triplet Attention does.

The learned maps need the feature map's side: ``size`` (AlexNet passes each site's side; a
network that does not gets a clear error). Parameters per site: TA's 300 plus
``2 (C W + H C + H W)`` for the three learned maps.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention
from .triplet import pooled_map_conv

__all__ = ["StaticTripletAttention"]


class StaticGate(nn.Module):
    """One input-independent branch gate: ``sigmoid(BN(conv(P)))`` for a learned ``P`` of
    shape (1, 2, rows, cols), the shape ZPool(x) has in Triplet Attention's rotated view."""

    def __init__(self, rows: int, cols: int, kernel_size: int = 7):
        super().__init__()
        # ZPool(x) at initialisation is a map of roughly unit scale that varies from position to
        # position; a standard normal map has the same scale, so the conv and BN start alike
        self.pooled = nn.Parameter(torch.randn(1, 2, rows, cols))
        self.conv = pooled_map_conv(kernel_size)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def gate(self) -> torch.Tensor:
        """The gate map, shape (1, 1, rows, cols): the same for every image."""
        return torch.sigmoid(self.bn(self.conv(self.pooled)))


@register_attention("triplet_static")
class StaticTripletAttention(nn.Module):
    """Triplet Attention's three gates with the image's Z-pool replaced by learned maps.

    Args:
        channels: the feature map's channels (C).
        size: the feature map's side (H = W); required, AlexNet passes it.
        kernel_size: side of the gates' convolutions (7, as in Triplet Attention).
    """

    needs_map_size = True  # networks that build it pass size= (see AlexNet)

    def __init__(self, channels: int, size: int | None = None, kernel_size: int = 7):
        super().__init__()
        if size is None or size < 1:
            raise ValueError(
                "triplet_static learns one gate map per site and needs the feature map's side: "
                "build it as StaticTripletAttention(channels, size=...), or use it in AlexNet, "
                "which passes each site's side"
            )
        self.channels, self.size = channels, size
        # in the rotated views of Triplet Attention: C-W gate on the (C, W) plane, C-H gate on
        # the (H, C) plane, H-W gate on the (H, W) plane
        self.cw = StaticGate(channels, size, kernel_size)
        self.hc = StaticGate(size, channels, kernel_size)
        self.hw = StaticGate(size, size, kernel_size)

    def gates(self, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The three gates in the layout of a (B, C, H, W) input, as
        :meth:`TripletAttention.gates` returns them: ``{"cw": (1, C, 1, W), "hc": (1, C, H, 1),
        "hw": (1, 1, H, W)}``; ``x`` is accepted and ignored (nothing here depends on it)."""
        return {
            "cw": self.cw.gate().permute(0, 2, 1, 3),  # (1, 1, C, W) -> (1, C, 1, W)
            "hc": self.hc.gate().permute(0, 3, 2, 1),  # (1, 1, H, C) -> (1, C, H, 1)
            "hw": self.hw.gate(),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (self.channels, self.size, self.size):
            raise ValueError(
                f"this triplet_static module was built for ({self.channels}, {self.size}, "
                f"{self.size}) feature maps and got {tuple(x.shape[1:])}"
            )
        g = self.gates()
        return x * ((g["cw"] + g["hc"] + g["hw"]) / 3)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size={self.size}"
