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

Two formulations are provided, giving the same numbers:

* :meth:`TripletAttention.forward_literal`: rotate, gate, rotate back, as in the paper and the
  official code. Kept for teaching: it makes three permuted copies of ``x`` (and three gated
  copies, and three rotated-back copies).
* :meth:`TripletAttention.forward_fast` (the default): every gate depends only on the Z-pool of
  ``x`` over ONE axis, and multiplying a rotated tensor by a gate then rotating back is the same as
  multiplying ``x`` by the rotated-back gate, which broadcasts. So the pooled maps are computed from
  ``x`` directly, the 7x7 convs run on those small maps, and the output is
  ``x * (g_cw + g_hc + g_hw) / 3`` with gates of shapes (B, C, 1, W), (B, C, H, 1), (B, 1, H, W).
  The six reductions (max and mean over H, W and C) share one autograd node,
  :class:`ThreeAxisZPool`, whose backward writes the input gradient once instead of summing six
  full-size gradients; the product with the gates is another, :class:`MeanGateProduct`, whose
  backward sums over H and W as pooling windows; the 7x7 convs run as
  :func:`~course_lib.attention.same_conv.same_conv2d` (see that module). All three are CPU
  speed-ups that keep the formulas; the tests check each against its plain form.

Parameters: each gate is a 2->1 7x7 conv without bias (98 weights) and a BatchNorm2d(1) (weight and
bias: 2), so 100 per gate and 300 per module at any width (200 with ``no_spatial``), plus 6
BatchNorm running statistics (running_mean and running_var of one element per gate) and 3
``num_batches_tracked`` counters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_attention
from .same_conv import pooled_map_conv, same_conv2d

__all__ = ["AttentionGate", "MeanGateProduct", "ThreeAxisZPool", "TripletAttention", "ZPool"]


class ZPool(nn.Module):
    """Z-pool (Sec. 3.2): concatenate the max and the mean over ``dim``, max first.

    Reduces ``dim`` to 2 channels-like entries: (B, N, ...) -> (B, 2, ...) for ``dim=1``.
    ``amax`` is used instead of ``max(...)[0]``: same values; on ties its gradient is shared
    equally among the tied entries, so it does not depend on the memory layout of the rotated
    copy. (The fast form's :class:`ThreeAxisZPool` gives a tie's gradient to one entry; the two
    forms' gradients are equal wherever the maximum is unique.)
    """

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.amax(dim=self.dim), x.mean(dim=self.dim)], dim=1)


class ThreeAxisZPool(torch.autograd.Function):
    """Z-pool of ``x`` (B, C, H, W) over H, over W and over C, as one autograd node.

    Forward returns the maps (B, 2, C, W), (B, 2, C, H) and (B, 2, H, W) (max first, as
    :class:`ZPool`). The reductions over H and W are written as ``max_pool2d`` and
    ``avg_pool2d`` with an (H, 1) or (1, W) window: the same numbers, and on a CPU up to 10x
    faster than ``amax``/``mean`` over a strided axis of a channels_last tensor. Left to
    autograd, the six reductions would each produce a full-size input gradient and add them up;
    the backward here writes one tensor in ``x``'s memory layout: the mean gradients broadcast
    into it, the max gradients scattered to the arg-max entries. On a tie the max's gradient
    goes to one of the tied entries (as ``torch.max``) instead of being shared (as ``amax``):
    both are valid sub-gradients, and ties do not occur for continuous inputs.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        max_h, index_h = F.max_pool2d(x, (h, 1), return_indices=True)  # (B, C, 1, W)
        max_w, index_w = F.max_pool2d(x, (1, w), return_indices=True)  # (B, C, H, 1)
        max_c, index_c = x.max(dim=1)  # (B, H, W)
        over_h = torch.stack([max_h.squeeze(2), F.avg_pool2d(x, (h, 1)).squeeze(2)], dim=1)
        over_w = torch.stack([max_w.squeeze(3), F.avg_pool2d(x, (1, w)).squeeze(3)], dim=1)
        over_c = torch.stack([max_c, x.mean(dim=1)], dim=1)
        # max_pool2d's indices are flat positions in the H*W plane of each (b, c)
        ctx.save_for_backward(index_h.flatten(2), index_w.flatten(2), index_c)
        ctx.shape, ctx.layout = x.shape, _layout(x)
        return over_h, over_w, over_c

    @staticmethod
    def backward(ctx, g_h: torch.Tensor, g_w: torch.Tensor, g_c: torch.Tensor) -> torch.Tensor:
        # (an unused output's gradient arrives as zeros: autograd materialises it)
        b, c, h, w = ctx.shape
        index_h, index_w, index_c = ctx.saved_tensors
        grad = torch.empty(ctx.shape, dtype=g_h.dtype, device=g_h.device, memory_format=ctx.layout)
        # d mean / dx = 1/n along the pooled axis: broadcast the three mean gradients into grad
        torch.add((g_h[:, 1] / h).unsqueeze(2), (g_w[:, 1] / w).unsqueeze(3), out=grad)
        grad.add_((g_c[:, 1] / c).unsqueeze(1))
        # d max / dx = 1 at the arg max, 0 elsewhere
        plane = grad.view(b, c, h * w)  # a view in either layout: writes go into grad
        plane.scatter_add_(2, index_h, g_h[:, 0])
        plane.scatter_add_(2, index_w, g_w[:, 0])
        grad.scatter_add_(1, index_c.unsqueeze(1), g_c[:, 0].unsqueeze(1))
        return grad


class MeanGateProduct(torch.autograd.Function):
    """``x * mean(gates)`` for gates that broadcast against ``x`` (B, C, H, W), as one node.

    The gates (two or three) are the small maps (B, C, 1, W), (B, C, H, 1) and (B, 1, H, W).
    Forward adds them (scaled by 1 / n while still small) into one full-size tensor in ``x``'s
    memory layout and multiplies. Backward: d out / d x = the gate sum; d out / d gate =
    ``grad * x`` summed over the axes the gate broadcasts along, divided by n. Autograd's own
    backward does the same sums with ``sum``, which over the strided H or W axis of a
    channels_last tensor is up to 20x slower on a CPU than the equal window sum
    ``avg_pool2d(..., divisor_override=1)`` used here.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, *gates: torch.Tensor) -> torch.Tensor:
        scale = 1.0 / len(gates)
        total = torch.empty_like(x)  # keeps x's memory layout
        torch.add(gates[0] * scale, gates[1] * scale, out=total)
        for gate in gates[2:]:
            total.add_(gate * scale)
        ctx.save_for_backward(x, total)
        ctx.scale = scale
        ctx.gate_shapes = [gate.shape for gate in gates]
        ctx.gate_dtypes = [gate.dtype for gate in gates]
        return x * total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, total = ctx.saved_tensors
        grad_x = grad * total if ctx.needs_input_grad[0] else None
        grad_times_x = grad * x
        grad_gates = [
            (_sum_to_shape(grad_times_x, shape) * ctx.scale).to(dtype)
            for shape, dtype in zip(ctx.gate_shapes, ctx.gate_dtypes)
        ]
        return grad_x, *grad_gates


def _sum_to_shape(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``t.sum_to_size(shape)`` for a (B, C, H, W) ``t``; sums over H or W as window sums."""
    b, c, h, w = t.shape
    if shape == t.shape:
        return t
    if tuple(shape) == (b, 1, h, w):
        return t.sum(dim=1, keepdim=True)  # contiguous in channels_last, fast in both layouts
    if tuple(shape) == (b, c, 1, w):
        return F.avg_pool2d(t, (h, 1), divisor_override=1)
    if tuple(shape) == (b, c, h, 1):
        return F.avg_pool2d(t, (1, w), divisor_override=1)
    return t.sum_to_size(shape)


def _layout(x: torch.Tensor) -> torch.memory_format:
    """x's memory format: channels_last when x is stored that way (and not also NCHW)."""
    if (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        return torch.channels_last
    return torch.contiguous_format


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

    def gate_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """sigma(BN(conv(pooled))) for an already Z-pooled map (B, 2, P, Q) -> (B, 1, P, Q).

        ``same_conv2d`` computes ``self.conv`` (same numbers, faster on a CPU). A tall map
        (P > Q) goes through conv, BN and sigmoid transposed, with the transposed kernel (the
        result is the transposed gate: BN's single channel has the same statistics either way),
        because both the convolution and BatchNorm's CPU kernel are several times faster with
        the longer axis last.
        """
        weight = self.conv.weight
        tall = pooled.shape[-2] > pooled.shape[-1]
        if tall:
            pooled, weight = pooled.transpose(-2, -1), weight.transpose(-2, -1)
        gate = torch.sigmoid(self.bn(same_conv2d(pooled, weight)))
        return gate.transpose(-2, -1) if tall else gate

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

    # --- the cheaper exact formulation ---------------------------------------------------------
    def pooled_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three Z-pooled maps, computed from ``x`` without rotating it.

        Each equals ``ZPool`` applied to the corresponding rotated tensor:

        * ``"cw"``: (B, 2, C, W), max and mean of x over H (dim 2);
        * ``"hc"``: (B, 2, H, C), max and mean of x over W (dim 3), with H and C swapped so that
          the conv sees the same (H, C) plane as after ``permute(0, 3, 2, 1)``;
        * ``"hw"``: (B, 2, H, W), max and mean of x over C (dim 1).
        """
        over_h, over_w, over_c = ThreeAxisZPool.apply(x)
        maps = {"cw": over_h, "hc": over_w.transpose(2, 3)}
        if self.hw is not None:
            maps["hw"] = over_c
        return maps

    def gates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The branch gates in ``x``'s layout, ready to broadcast against (B, C, H, W).

        Returns ``{"cw": (B, C, 1, W), "hc": (B, C, H, 1), "hw": (B, 1, H, W)}`` ("hw" absent
        with ``no_spatial``); the module's output is ``x * mean(gates)``. Useful for plotting.
        """
        maps = self.pooled_maps(x)
        # gate (B, 1, C, W) lives in the rotated layout (B, H, C, W); permute(0, 2, 1, 3) back.
        gates = {"cw": self.cw.gate_from_pooled(maps["cw"]).permute(0, 2, 1, 3)}
        # gate (B, 1, H, C) lives in the rotated layout (B, W, H, C); permute(0, 3, 2, 1) back.
        gates["hc"] = self.hc.gate_from_pooled(maps["hc"]).permute(0, 3, 2, 1)
        if self.hw is not None:
            gates["hw"] = self.hw.gate_from_pooled(maps["hw"])  # (B, 1, H, W)
        return gates

    def forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as ``x * (g_cw + g_hc + g_hw) / 3`` with broadcast gates: no rotated copies."""
        return MeanGateProduct.apply(x, *self.gates(x).values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_literal(x) if self.literal else self.forward_fast(x)

    def extra_repr(self) -> str:
        return f"no_spatial={self.no_spatial}, literal={self.literal}"


@register_attention("triplet")
def triplet_attention(channels: int, **kwargs) -> TripletAttention:
    """Triplet Attention for a ``channels``-channel map (the width is ignored)."""
    return TripletAttention(channels, **kwargs)
