"""Triplet Attention.

Paper: Diganta Misra, Trikay Nalamada, Ajay Uppili Arasanipalai, Qibin Hou,
"Rotate to Attend: Convolutional Triplet Attention Module", WACV 2021, arXiv:2010.03045.
Official code: https://github.com/landskape-ai/triplet-attention

Three branches capture the interactions between the channel axis C and the spatial axes H, W.
Each is named, as in the paper, by the plane its 7x7 convolution sees:

* C-H branch (the paper's first): rotate ``x`` with ``permute(0, 3, 2, 1)`` to (B, W, H, C),
  Z-pool over W, 7x7 conv on the (H, C) plane, rotate back (official code: ``self.hc``);
* C-W branch (the paper's second): rotate with ``permute(0, 2, 1, 3)`` to (B, H, C, W), Z-pool
  over H, 7x7 conv on the (C, W) plane, rotate back (official code: ``self.cw``);
* H-W branch: no rotation, Z-pool over C, 7x7 conv on the (H, W) plane (CBAM's spatial gate).

The output is the mean of the three branches (Eq. 2 of the paper; Eq. 3 with two branches when
``no_spatial``).

The module computes it in one of two equal ways: :meth:`TripletAttention.forward_literal`
rotates, gates and rotates back, as the paper and the official code do; the default fast path
(``fast=True``, in :mod:`course_lib.attention._fast`) uses that each gate depends on a Z-pool of
``x`` over ONE axis, so multiplying a rotated tensor by a gate and rotating back equals
multiplying ``x`` by the gate broadcast along that axis: no rotated copies.

Parameters: each gate is a 2->1 7x7 conv without bias (98 weights) and a BatchNorm2d(1) (weight and
bias: 2), so 100 per gate and 300 per module at any width (200 with ``no_spatial``), plus 6
BatchNorm running statistics (running_mean and running_var of one element per gate) and 3
``num_batches_tracked`` counters.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _fast
from .registry import register_attention

__all__ = ["AttentionGate", "TripletAttention", "ZPool", "pooled_map_conv"]


class ZPool(nn.Module):
    """Z-pool (Sec. 3.2): concatenate the max and the mean over ``dim``, max first.

    Reduces ``dim`` to 2 channels-like entries: (B, N, ...) -> (B, 2, ...) for ``dim=1``.
    ``amax`` is used instead of ``max(...)[0]``: same values; on ties its gradient is shared
    equally among the tied entries, so it does not depend on the memory layout of the rotated
    copy. (The fast path gives a tie's gradient to one entry; the two agree wherever the
    maximum is unique.)
    """

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.amax(dim=self.dim), x.mean(dim=self.dim)], dim=1)


def pooled_map_conv(kernel_size: int) -> nn.Conv2d:
    """The gates' bias-free 2 -> 1 k x k convolution with "same" padding (odd k only)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be a positive odd number so that the gate keeps the map's size, "
            f"got {kernel_size} (the papers use 7)"
        )
    return nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)


class AttentionGate(nn.Module):
    """One branch of Triplet Attention: Z-pool over dim 1, k x k conv 2->1, BN, sigmoid.

    ``gate(x)`` returns the sigmoid map (B, 1, H, W) (Eq. 1's sigma(psi(x*)));
    ``forward(x)`` multiplies ``x`` by it.
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.pool = ZPool(dim=1)
        # The official BasicConv: conv without bias, BatchNorm2d(eps=1e-5, momentum=0.01), no ReLU.
        self.conv = pooled_map_conv(kernel_size)
        # momentum=0.01 in PyTorch's convention: running = 0.99 * running + 0.01 * batch.
        # The Paddle momentum trap: Paddle's `momentum` weighs the OLD statistics
        # (running = momentum * running + (1 - momentum) * batch), so a Paddle port that keeps
        # `momentum=0.01` makes the running statistics follow the last batch almost entirely.
        # PyTorch's 0.01 is Paddle's 0.99.
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map sigma(BN(conv(ZPool(x)))), shape (B, 1, H, W) (Eq. 1)."""
        return torch.sigmoid(self.bn(self.conv(self.pool(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


@register_attention("triplet")
class TripletAttention(nn.Module):
    """Triplet Attention (Misra et al., WACV 2021).

    Args:
        channels: ignored (Triplet Attention has 300 parameters at any width); accepted so that
            every attention module is built as ``Module(channels, ...)``.
        no_spatial: drop the H-W branch (the paper's ablation; 200 parameters).
        kernel_size: side of the gates' convolutions (7 in the paper).
        fast: compute with the fast path (broadcast gates, no rotated copies; default) instead
            of :meth:`forward_literal`; same numbers.
    """

    def __init__(
        self,
        channels: int | None = None,
        no_spatial: bool = False,
        kernel_size: int = 7,
        fast: bool = True,
    ):
        super().__init__()
        self.no_spatial = no_spatial
        self.fast = fast
        # named as in the official code, by the plane each gate's convolution sees
        self.cw = AttentionGate(kernel_size)  # C-W branch: (C, W) plane, pooled over H
        self.hc = AttentionGate(kernel_size)  # C-H branch: (H, C) plane, pooled over W
        self.hw = None if no_spatial else AttentionGate(kernel_size)  # H-W: pooled over C

    # --- the paper's formulation ---------------------------------------------------------------
    def forward_literal(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate, gate, rotate back, average (Eqs. 2 and 3), as in the official code."""
        # C-W branch: (B, C, H, W) -> (B, H, C, W); Z-pool over H; conv on the (C, W) plane.
        x_cw = self.cw(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3)
        # C-H branch: (B, C, H, W) -> (B, W, H, C); Z-pool over W; conv on the (H, C) plane.
        x_hc = self.hc(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1)
        if self.hw is None:
            return (x_cw + x_hc) / 2  # Eq. 3 (no spatial branch)
        # H-W branch: no rotation; Z-pool over C; conv on the (H, W) plane.
        x_hw = self.hw(x)
        return (x_cw + x_hc + x_hw) / 3  # Eq. 2

    def gates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The branch gates in ``x``'s layout, ready to broadcast against (B, C, H, W):
        ``{"cw": (B, C, 1, W), "hc": (B, C, H, 1), "hw": (B, 1, H, W)}`` ("hw" absent with
        ``no_spatial``). The module's output is ``x * mean(gates)``."""
        gates = {
            "cw": self.cw.gate(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3),
            "hc": self.hc.gate(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1),
        }
        if self.hw is not None:
            gates["hw"] = self.hw.gate(x)
        return gates

    # compile_attention calls compile_fast_path instead of compiling the module: compiled whole,
    # its plain forms were no faster than eager; only the Z-pools' backward gains
    compiled_backward = False

    def compile_fast_path(self) -> None:
        """Compile the Z-pools' backward of the fast path (:func:`_fast.zpool_input_grad`), the
        part of the module that ``torch.compile`` makes faster on a CPU; the rest stays eager."""
        self.compiled_backward = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _fast.triplet_forward(self, x) if self.fast else self.forward_literal(x)

    def extra_repr(self) -> str:
        return f"no_spatial={self.no_spatial}, fast={self.fast}"
