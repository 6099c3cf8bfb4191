"""The k x k convolution inside Triplet Attention's and CBAM's gates, computed fast on a CPU.

Both modules convolve a small pooled map (B, 2, P, Q) (max and mean) to (B, 1, P, Q) with a
k x k kernel, stride 1 and "same" zero padding. As a plain ``F.conv2d`` that is a convolution with
2 input channels and 1 output channel, a shape oneDNN runs at a few GFLOP/s on a CPU: in
AlexNet-TA it was the largest part of the attention's cost. :func:`same_conv2d` gives the same
numbers (up to float rounding) by computing it with **rows as channels**: a map with R rows is
a 1-D convolution along the rows' length whose 2R input channels are the (channel, row) pairs
and whose R output channels are the output rows. Output row i reads input row r through kernel
row r - i + k // 2, and through zeros when |r - i| > k // 2 (which is also the zero padding above
and below the map). The 1-D kernel (R, 2R, k) is built from the k x k one by contracting it with
a fixed 0/1 tensor, so the gradient reaches the k x k weight.

The banded kernel does up to R / k times the multiply-adds, but as one convolution with many
channels it runs 2-3.5x faster on the CPU for AlexNet's maps (forward + backward at batch 128:
(16, 48) 3.9 -> 1.9 ms, (7, 128) 3.8 -> 2.0 ms, (16, 16) 1.6 -> 0.6 ms). It is fastest with the
longer axis last (few rows, long rows); Triplet Attention's gates transpose their tall maps
first. Maps no longer than the kernel (3 x 3, 7 x 7) stay with ``F.conv2d``, which is faster
there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["plain_convolutions", "pooled_map_conv", "row_band_kernel", "same_conv2d"]

_use_band = True


@contextlib.contextmanager
def plain_convolutions() -> Iterator[None]:
    """Inside this block :func:`same_conv2d` runs the plain ``F.conv2d`` (same values).

    ``measure.count_flops`` uses it so that FLOP counts are the k x k convolution's, as the
    papers count them, and not the banded form's, which also multiplies the band's zeros.
    """
    global _use_band
    previous, _use_band = _use_band, False
    try:
        yield
    finally:
        _use_band = previous


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
    if length <= k or not _use_band:
        out = F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, padding=k // 2)
        return out.contiguous()  # (B, 1, ...): a no-op unless the input had a strided view
    band = row_band_kernel(weight, rows)
    out = F.conv1d(x.reshape(b, channels * rows, length), band, padding=k // 2)
    return out.view(b, 1, rows, length)


def pooled_map_conv(kernel_size: int) -> nn.Conv2d:
    """The gates' bias-free 2 -> 1 k x k convolution with "same" padding (odd k only)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be a positive odd number so that the gate keeps the map's size, "
            f"got {kernel_size} (the papers use 7)"
        )
    return nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
