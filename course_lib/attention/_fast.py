"""The CPU fast paths of Triplet Attention and CBAM's spatial gate: same numbers, fewer passes.

Used only by the modules' fast forward (their default, ``fast=True``); the teaching classes in
``triplet.py`` and ``cbam.py`` read like the papers, and the tests check every function here
against them (outputs and gradients). Three pieces:

* :class:`ThreeAxisZPool`: Triplet Attention's three Z-pools (over H, W and C) as one autograd
  node that writes the input gradient once instead of summing six full-size gradients.
* :class:`MeanGateProduct`: ``x * mean(gates)`` with broadcast gates as one node; its backward
  sums over H and W as pooling windows (much faster on a CPU than ``sum`` over a strided axis).
* :func:`same_conv2d`: the gates' 2 -> 1 k x k "same" convolution computed with rows as
  channels, a 1-D convolution whose 2R input channels are the (channel, row) pairs of an R-row
  map and whose R outputs are the output rows (output row i reads input row r through kernel row
  r - i + k // 2, and zeros when |r - i| > k // 2). More multiply-adds, but one well-shaped
  convolution that oneDNN runs 2-3.5x faster than the 2-channel original; fastest with the
  longer axis last, so tall maps are transposed first (:func:`gate_from_pooled`).

On a GPU none of these pays: each is a CPU trick (fewer passes over memory, one well-shaped
oneDNN convolution), and on CUDA the extra kernels they launch cost more than they save. There
(:func:`cpu_forms` is False) the gates are the plain pools, the gates' own 2-channel convolution
and a broadcast product: the kernels cuDNN and the compiler fuse best.

Inside ``torch.compile`` (``compile="attention"``) the two autograd nodes give way to plain
operations (:func:`three_axis_zpool` and a broadcast product), which the compiler fuses; it
cannot fuse through a hand-written backward. :func:`plain_forms` switches a model's modules to
their plain forward for a block, which is how ``measure.count_flops`` counts the FLOPs of the
k x k convolutions the papers count.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MeanGateProduct",
    "ThreeAxisZPool",
    "cpu_forms",
    "gate_from_pooled",
    "plain_forms",
    "row_band_kernel",
    "same_conv2d",
    "spatial_gate",
    "three_axis_zpool",
    "triplet_forward",
    "triplet_gates",
    "zpool_input_grad",
]


@contextlib.contextmanager
def plain_forms(model: nn.Module) -> Iterator[None]:
    """Inside this block every module of ``model`` with a fast path runs its plain forward."""
    switched = [m for m in model.modules() if getattr(m, "fast", False) is True]
    for m in switched:
        m.fast = False
    try:
        yield
    finally:
        for m in switched:
            m.fast = True


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
    both are valid sub-gradients. A bf16 or float16 ``x`` is pooled in float32 (the maps come
    out in float32) and its gradient is returned in its own dtype.
    """

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, compiled_backward: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx.dtype, ctx.compiled_backward = x.dtype, compiled_backward
        if x.dtype in (torch.bfloat16, torch.float16):
            # float32 inside: one conversion pass costs less than the CPU's reduced-precision
            # reductions and scatters (scatter_add_ into bf16 is ~14x slower than into float32)
            x = x.float()
        b, c, h, w = x.shape
        max_h, index_h = F.max_pool2d(x, (h, 1), return_indices=True)  # (B, C, 1, W)
        max_w, index_w = F.max_pool2d(x, (1, w), return_indices=True)  # (B, C, H, 1)
        max_c, index_c = x.max(dim=1)  # (B, H, W)
        over_h = torch.stack([max_h.squeeze(2), F.avg_pool2d(x, (h, 1)).squeeze(2)], dim=1)
        over_w = torch.stack([max_w.squeeze(3), F.avg_pool2d(x, (1, w)).squeeze(3)], dim=1)
        over_c = torch.stack([max_c, x.mean(dim=1)], dim=1)
        # max_pool2d's indices are flat positions in the H*W plane of each (b, c)
        ctx.save_for_backward(index_h.flatten(2), index_w.flatten(2), index_c)
        ctx.shape, ctx.layout, ctx.compute_dtype = x.shape, _layout(x), x.dtype
        return over_h, over_w, over_c

    @staticmethod
    def backward(
        ctx, g_h: torch.Tensor, g_w: torch.Tensor, g_c: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        # (an unused output's gradient arrives as zeros: autograd materialises it)
        b, c, h, w = ctx.shape
        index_h, index_w, index_c = ctx.saved_tensors
        g_h, g_w, g_c = (g.to(ctx.compute_dtype) for g in (g_h, g_w, g_c))
        if ctx.compiled_backward:
            grad_input = compiled_zpool_input_grad()
            shape, layout, dtype = tuple(ctx.shape), ctx.layout, ctx.dtype
            return grad_input(g_h, g_w, g_c, index_h, index_w, index_c, shape, layout, dtype), None
        grad = torch.empty(ctx.shape, dtype=g_h.dtype, device=g_h.device, memory_format=ctx.layout)
        # d mean / dx = 1/n along the pooled axis: broadcast the three mean gradients into grad
        torch.add((g_h[:, 1] / h).unsqueeze(2), (g_w[:, 1] / w).unsqueeze(3), out=grad)
        grad.add_((g_c[:, 1] / c).unsqueeze(1))
        # d max / dx = 1 at the arg max, 0 elsewhere
        plane = grad.view(b, c, h * w)  # a view in either layout: writes go into grad
        plane.scatter_add_(2, index_h, g_h[:, 0])
        plane.scatter_add_(2, index_w, g_w[:, 0])
        grad.scatter_add_(1, index_c.unsqueeze(1), g_c[:, 0].unsqueeze(1))
        return grad.to(ctx.dtype), None


def zpool_input_grad(
    g_h: torch.Tensor,
    g_w: torch.Tensor,
    g_c: torch.Tensor,
    index_h: torch.Tensor,
    index_w: torch.Tensor,
    index_c: torch.Tensor,
    shape: tuple[int, int, int, int],
    layout: torch.memory_format,
    dtype: torch.dtype,
) -> torch.Tensor:
    """:class:`ThreeAxisZPool`'s input gradient as plain operations, for ``torch.compile`` to
    fuse into one loop that writes the gradient once (eager, its hand-written backward makes
    seven passes). The same six terms added in the same order, so the same numbers bit for bit:
    the three mean gradients, then each max gradient where its arg max is (a comparison with
    the saved flat H*W positions, or with the channel index, instead of a scatter)."""
    b, c, h, w = shape
    position = torch.arange(h * w, device=g_h.device).view(1, 1, h, w)
    channel = torch.arange(c, device=g_h.device).view(1, c, 1, 1)
    grad = (g_h[:, 1] / h).unsqueeze(2) + (g_w[:, 1] / w).unsqueeze(3)
    grad = grad + (g_c[:, 1] / c).unsqueeze(1)
    grad = grad + torch.where(position == index_h.view(b, c, 1, w), g_h[:, 0].unsqueeze(2), 0.0)
    grad = grad + torch.where(position == index_w.view(b, c, h, 1), g_w[:, 0].unsqueeze(3), 0.0)
    grad = grad + torch.where(channel == index_c.unsqueeze(1), g_c[:, 0].unsqueeze(1), 0.0)
    return grad.to(dtype).contiguous(memory_format=layout)


@functools.cache
def compiled_zpool_input_grad():
    """:func:`zpool_input_grad` compiled (once per process; each site's shapes compile once and
    are then loaded from PyTorch's on-disk cache)."""
    return torch.compile(zpool_input_grad, dynamic=False)


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


def row_band_kernel(weight: torch.Tensor, rows: int) -> torch.Tensor:
    """The (rows, C * rows, k) 1-D kernel equal to a (1, C, k, k) 2-D kernel on ``rows`` rows.

    Entry [i, c * rows + r, x] is ``weight[0, c, r - i + k // 2, x]`` where that row exists
    (|r - i| <= k // 2) and 0 elsewhere.
    """
    _, channels, k, width = weight.shape
    out_row = torch.arange(rows, device=weight.device)
    kernel_row = out_row[None, :] - out_row[:, None] + k // 2  # [i, r] -> r - i + k // 2
    # one_hot[i, r, y] = 1 where kernel row y links input row r to output row i
    one_hot = (kernel_row[..., None] == torch.arange(k, device=weight.device)).to(weight.dtype)
    band = torch.einsum("cyx,iry->icrx", weight[0], one_hot)  # (rows, C, rows, k)
    return band.reshape(rows, channels * rows, width)


def same_conv2d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, padding=k // 2)`` for a (1, C, k, k) kernel with odd k, faster.

    x is (B, C, P, Q), best with P <= Q; returns (B, 1, P, Q), contiguous.
    """
    k = weight.shape[-1]
    if weight.shape[0] != 1 or weight.shape[-2] != k or k % 2 == 0:
        raise ValueError(
            f"same_conv2d takes a (1, C, k, k) kernel with odd k, got {tuple(weight.shape)}"
        )
    b, channels, rows, length = x.shape
    if length <= k:
        out = F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, padding=k // 2)
        return out.contiguous()  # (B, 1, ...): a no-op unless the input had a strided view
    band = row_band_kernel(weight, rows)
    out = F.conv1d(x.reshape(b, channels * rows, length), band, padding=k // 2)
    return out.view(b, 1, rows, length)


def gate_from_pooled(gate: nn.Module, pooled: torch.Tensor) -> torch.Tensor:
    """``sigmoid(bn(conv(pooled)))`` of a gate with ``conv`` (2 -> 1, k x k) and ``bn`` for an
    already Z-pooled (B, 2, P, Q) map. A tall map (P > Q) goes through conv, BN and sigmoid
    transposed, with the transposed kernel (BN's one channel has the same statistics either
    way): the convolution and BatchNorm's CPU kernel are several times faster with the longer
    axis last."""
    if on_accelerator(pooled):  # on a GPU: the gate's own convolution, as cuDNN likes it
        return torch.sigmoid(gate.bn(gate.conv(pooled)))
    weight = gate.conv.weight
    tall = pooled.shape[-2] > pooled.shape[-1]
    if tall:
        pooled, weight = pooled.transpose(-2, -1), weight.transpose(-2, -1)
    out = torch.sigmoid(gate.bn(same_conv2d(pooled, weight)))
    return out.transpose(-2, -1) if tall else out


def on_accelerator(x: torch.Tensor) -> bool:
    """``x`` lives on a GPU (or another accelerator), where the CPU forms do not pay."""
    return x.device.type != "cpu"


def cpu_forms(x: torch.Tensor) -> bool:
    """Whether the CPU forms pay for ``x``: on a CPU, in eager mode (not on CUDA, where they add
    kernel launches, and not inside ``torch.compile``, which cannot fuse through them)."""
    return not on_accelerator(x) and not torch.compiler.is_compiling()


def three_axis_zpool(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Z-pools of :class:`ThreeAxisZPool` as plain operations, for ``torch.compile``: the
    compiler fuses them itself (and does not fuse through a hand-written autograd node)."""
    return tuple(torch.stack([x.amax(dim), x.mean(dim)], dim=1) for dim in (2, 3, 1))


def triplet_gates(module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Triplet Attention's gates in ``x``'s layout, from Z-pools read straight off ``x``."""
    if cpu_forms(x):
        over_h, over_w, over_c = ThreeAxisZPool.apply(
            x, getattr(module, "compiled_backward", False)
        )
    else:
        over_h, over_w, over_c = three_axis_zpool(x)
    # (B, 1, C, W) in the rotated layout (B, H, C, W): permute(0, 2, 1, 3) back
    gates = {"cw": gate_from_pooled(module.cw, over_h).permute(0, 2, 1, 3)}
    # the (H, C) plane as after permute(0, 3, 2, 1); the gate (B, 1, H, C) permuted back
    gates["hc"] = gate_from_pooled(module.hc, over_w.transpose(2, 3)).permute(0, 3, 2, 1)
    if module.hw is not None:
        gates["hw"] = gate_from_pooled(module.hw, over_c)
    return gates


def triplet_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Eq. 2 as ``x * (g_cw + g_hc + g_hw) / 3`` with broadcast gates: no rotated copies."""
    gates = list(triplet_gates(module, x).values())
    if not cpu_forms(x):
        return x * (sum(gates) / len(gates))
    return MeanGateProduct.apply(x, *gates)


def spatial_gate(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """CBAM's spatial gate (B, 1, H, W): Triplet Attention's H-W gate, from a channel Z-pool."""
    return gate_from_pooled(module, torch.stack([x.amax(dim=1), x.mean(dim=1)], dim=1))
