"""How far two explanations agree, measured on the regions one of them works with.

LIME (Ribeiro et al., KDD 2016) gives one weight per superpixel; GradCAM one value per pixel of
a coarse, upsampled map. To compare them fairly, both are reduced to one number per region (the
mean over the region's pixels) and the two vectors are compared by Spearman's rank correlation:
1 when both rank the regions in the same order, 0 when their orders are unrelated, -1 when
reversed. Ranks, not values, because the two methods' scales mean different things.
"""

from __future__ import annotations

import numpy as np
import torch

from .sanity import spearman


def region_means(values: np.ndarray | torch.Tensor, segments: np.ndarray | torch.Tensor):
    """The mean of ``values`` (H, W) over each region of ``segments`` (H, W, integer ids), in
    the order of the sorted ids: one number per region present."""
    values = np.asarray(values, dtype=np.float64)
    segments = np.asarray(segments)
    if values.shape != segments.shape:
        raise ValueError(f"map {values.shape} and segments {segments.shape} differ in shape")
    ids, inverse = np.unique(segments, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values.ravel(), minlength=len(ids))
    counts = np.bincount(inverse.ravel(), minlength=len(ids))
    return sums / counts


def region_agreement(
    map_a: np.ndarray | torch.Tensor,
    map_b: np.ndarray | torch.Tensor,
    segments: np.ndarray | torch.Tensor,
) -> float:
    """Spearman correlation of the two maps averaged per region of ``segments``; NaN when either
    is constant over the regions."""
    return spearman(region_means(map_a, segments), region_means(map_b, segments))
