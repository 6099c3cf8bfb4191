"""How much a self-attention map depends on its query.

A non-local / SAGAN block computes, for every query position i, a distribution β_i over key
positions. If the distributions of different queries are nearly the same, the block computes one
global context for the whole image and adds it everywhere: what GCNet (Cao et al., "GCNet:
Non-local Networks Meet Squeeze-Excitation Networks and Beyond", ICCV-W 2019, Sec. 3.2) found for
trained non-local blocks, measuring the cosine distance between the attention maps of different
query positions.

:func:`query_dependence` reports, over all pairs of query positions of each image, the mean
cosine distance of their maps (GCNet's measure) and the mean total-variation distance
½‖β_i − β_j‖₁ (the share of attention weight that would have to move to turn one map into the
other: 0 for identical maps, 1 for maps with disjoint support). Maps that are all uniform have
both at 0. An untrained block's maps already vary with the query (random projections of the
features), so a trained block is judged against its own untrained state, not against zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class QueryDependence:
    """Mean over images and query pairs of the cosine and total-variation distances between
    attention maps, and the mean largest weight as a multiple of the uniform 1/N."""

    cosine_distance: float
    total_variation: float
    peak_over_uniform: float


def query_dependence(maps: torch.Tensor) -> QueryDependence:
    """``maps``: attention weights (B, N, N), row i the distribution of query i over the N keys
    (rows sum to 1)."""
    if maps.dim() != 3 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"expected attention maps of shape (B, N, N), got {tuple(maps.shape)}")
    maps = maps.detach().double()
    n = maps.shape[-1]
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=maps.device)
    unit = maps / maps.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cosine = 1 - unit @ unit.transpose(1, 2)  # (B, N, N): distance of query i's map to query j's
    tv = 0.5 * (maps[:, :, None, :] - maps[:, None, :, :]).abs().sum(-1)
    return QueryDependence(
        cosine_distance=float(cosine[:, off_diagonal].mean()),
        total_variation=float(tv[:, off_diagonal].mean()),
        peak_over_uniform=float(maps.amax(dim=-1).mean() * n),
    )
