"""Triplet Attention.

Paper: Diganta Misra, Trikay Nalamada, Ajay Uppili Arasanipalai, Qibin Hou,
"Rotate to Attend: Convolutional Triplet Attention Module", WACV 2021, arXiv:2010.03045.
Official code: https://github.com/landskape-ai/triplet-attention

Three branches capture the interactions between the channel axis C and the spatial axes H, W:

* C-H branch: rotate ``x`` with ``permute(0, 2, 1, 3)`` to (B, H, C, W), Z-pool over H, 7x7 conv on
  the (C, W) plane, rotate back;
* C-W branch: rotate with ``permute(0, 3, 2, 1)`` to (B, W, H, C), Z-pool over W, 7x7 conv on the
  (H, C) plane, rotate back;
* H-W branch: no rotation, Z-pool over C, 7x7 conv on the (H, W) plane (CBAM's spatial gate).

The output is the mean of the three branches (Eq. 2 of the paper; Eq. 3 with two branches when
``no_spatial``).

Two formulations are provided, giving the same numbers:

* :meth:`TripletAttention.forward_literal`: rotate, gate, rotate back, as in the paper and the
  official code. Kept for teaching: it makes three permuted copies of ``x`` (and three gated
  copies, and three rotated-back copies).
* :meth:`TripletAttention.forward_fast` (the default): every gate depends only on the Z-pool of
  ``x`` over ONE axis, and multiplying a rotated tensor by a gate then rotating back is the same as
  multiplying ``x`` by the rotated-back gate, which broadcasts. So the pooled maps are computed from
  ``x`` directly, the 7x7 convs run on those small maps, and the output is
  ``x * (g_ch + g_cw + g_hw) / 3`` with gates of shapes (B, C, 1, W), (B, C, H, 1), (B, 1, H, W).

Parameters: each gate is a 2->1 7x7 conv without bias (98 weights) and a BatchNorm2d(1) (weight and
bias: 2), so 100 per gate and 300 per module at any width (200 with ``no_spatial``), plus 6
BatchNorm running statistics (running_mean and running_var of one element per gate) and 3
``num_batches_tracked`` counters.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention

__all__ = ["AttentionGate", "TripletAttention", "ZPool"]


class ZPool(nn.Module):
    """Z-pool (Sec. 3.2): concatenate the max and the mean over ``dim``, max first.

    Reduces ``dim`` to 2 channels-like entries: (B, N, ...) -> (B, 2, ...) for ``dim=1``.
    ``amax`` is used instead of ``max(...)[0]``: same values; on ties its gradient is shared
    equally among the tied entries, so it does not depend on the memory layout (which keeps the
    literal and the fast forms of Triplet Attention gradient-exact).
    """

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.amax(dim=self.dim), x.mean(dim=self.dim)], dim=1)


class AttentionGate(nn.Module):
    """One branch of Triplet Attention: Z-pool over dim 1, k x k conv 2->1, BN, sigmoid.

    ``gate(x)`` returns the sigmoid map (B, 1, H, W) (Eq. 1's sigma(psi(x*)));
    ``forward(x)`` multiplies ``x`` by it.
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.pool = ZPool(dim=1)
        # The official BasicConv: conv without bias, BatchNorm2d(eps=1e-5, momentum=0.01), no ReLU.
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        # momentum=0.01 in PyTorch's convention: running = 0.99 * running + 0.01 * batch.
        # The Paddle momentum trap: Paddle's `momentum` weighs the OLD statistics
        # (running = momentum * running + (1 - momentum) * batch), so a Paddle port that keeps
        # `momentum=0.01` makes the running statistics follow the last batch almost entirely.
        # PyTorch's 0.01 is Paddle's 0.99.
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def gate_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """sigma(BN(conv(pooled))) for an already Z-pooled map (B, 2, P, Q) -> (B, 1, P, Q)."""
        # channels_last: oneDNN's 2->1 convolution is 3-4x faster in that layout on a CPU (and
        # it is cuDNN's preferred one); the values are the same.
        pooled = pooled.contiguous(memory_format=torch.channels_last)
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map sigma(BN(conv(ZPool(x)))), shape (B, 1, H, W)."""
        return self.gate_from_pooled(self.pool(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class TripletAttention(nn.Module):
    """Triplet Attention (Misra et al., WACV 2021).

    Args:
        channels: ignored (Triplet Attention has 300 parameters at any width); accepted so that
            every attention module is built as ``Module(channels, ...)``.
        no_spatial: drop the H-W branch (the paper's ablation; 200 parameters).
        kernel_size: side of the gates' convolutions (7 in the paper).
        literal: use :meth:`forward_literal` (rotate-gate-rotate) instead of the cheaper, equal
            :meth:`forward_fast`.
    """

    def __init__(
        self,
        channels: int | None = None,
        no_spatial: bool = False,
        kernel_size: int = 7,
        literal: bool = False,
    ):
        super().__init__()
        self.no_spatial = no_spatial
        self.literal = literal
        self.gate_ch = AttentionGate(kernel_size)  # official: ChannelGateH (C-H interaction)
        self.gate_cw = AttentionGate(kernel_size)  # official: ChannelGateW (C-W interaction)
        self.gate_hw = None if no_spatial else AttentionGate(kernel_size)  # official: SpatialGate

    # --- the paper's formulation ---------------------------------------------------------------
    def forward_literal(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate, gate, rotate back, average (Eqs. 2 and 3), as in the official code."""
        # C-H branch: (B, C, H, W) -> (B, H, C, W); Z-pool over H; conv on the (C, W) plane.
        x_ch = self.gate_ch(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3)
        # C-W branch: (B, C, H, W) -> (B, W, H, C); Z-pool over W; conv on the (H, C) plane.
        x_cw = self.gate_cw(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1)
        if self.gate_hw is None:
            return (x_ch + x_cw) / 2  # Eq. 3 (no spatial branch)
        # H-W branch: no rotation; Z-pool over C; conv on the (H, W) plane.
        x_hw = self.gate_hw(x)
        return (x_ch + x_cw + x_hw) / 3  # Eq. 2

    # --- the cheaper exact formulation ---------------------------------------------------------
    def pooled_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three Z-pooled maps, computed from ``x`` without rotating it.

        Each equals ``ZPool`` applied to the corresponding rotated tensor:

        * ``"ch"``: (B, 2, C, W), max and mean of x over H (dim 2);
        * ``"cw"``: (B, 2, H, C), max and mean of x over W (dim 3), with H and C swapped so that
          the conv sees the same (H, C) plane as after ``permute(0, 3, 2, 1)``;
        * ``"hw"``: (B, 2, H, W), max and mean of x over C (dim 1).
        """
        maps = {
            "ch": torch.stack([x.amax(dim=2), x.mean(dim=2)], dim=1),
            "cw": torch.stack([x.amax(dim=3), x.mean(dim=3)], dim=1).transpose(2, 3),
        }
        if self.gate_hw is not None:
            maps["hw"] = torch.stack([x.amax(dim=1), x.mean(dim=1)], dim=1)
        return maps

    def gates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The branch gates in ``x``'s layout, ready to broadcast against (B, C, H, W).

        Returns ``{"ch": (B, C, 1, W), "cw": (B, C, H, 1), "hw": (B, 1, H, W)}`` ("hw" absent
        with ``no_spatial``); the module's output is ``x * mean(gates)``. Useful for plotting.
        """
        maps = self.pooled_maps(x)
        # gate (B, 1, C, W) lives in the rotated layout (B, H, C, W); permute(0, 2, 1, 3) back.
        gates = {"ch": self.gate_ch.gate_from_pooled(maps["ch"]).permute(0, 2, 1, 3)}
        # gate (B, 1, H, C) lives in the rotated layout (B, W, H, C); permute(0, 3, 2, 1) back.
        gates["cw"] = self.gate_cw.gate_from_pooled(maps["cw"]).permute(0, 3, 2, 1)
        if self.gate_hw is not None:
            gates["hw"] = self.gate_hw.gate_from_pooled(maps["hw"])  # (B, 1, H, W)
        return gates

    def forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as ``x * (g_ch + g_cw + g_hw) / 3`` with broadcast gates: no rotated copies."""
        g = list(self.gates(x).values())
        # Divide the small gates before broadcasting: two full-size adds and one multiply.
        scale = 1.0 / len(g)
        total = g[0] * scale
        for gate in g[1:]:
            total = total + gate * scale
        return x * total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_literal(x) if self.literal else self.forward_fast(x)

    def extra_repr(self) -> str:
        return f"no_spatial={self.no_spatial}, literal={self.literal}"


@register_attention("triplet")
def triplet_attention(channels: int, **kwargs) -> TripletAttention:
    """Triplet Attention for a ``channels``-channel map (the width is ignored)."""
    return TripletAttention(channels, **kwargs)
