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
:func:`key_concentration` says where a map's weight goes: how close to one-hot the maps are, how
many distinct positions the queries of one image pick, how many queries share the most popular
one, and whether that one lies on the map's border (with the chance level of a border position).
:func:`self_attention_maps` collects the maps of every self-attention block of a network, and
:func:`attention_share` measures how much each block changes its input, ``‖γ o‖ / ‖x‖``: a
block whose γ has stayed near 0 is still the identity, whatever its maps look like.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..runtime.modes import inspecting


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
    _check_maps(maps)
    maps = maps.detach().double()
    n = maps.shape[-1]
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=maps.device)
    unit = maps / maps.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cosine = 1 - unit @ unit.transpose(1, 2)  # (B, N, N): distance of query i's map to query j's
    # one image at a time: the (N, N, N) differences of a 16x16 map are 134 MB in float64
    tv = torch.stack([0.5 * (m[:, None, :] - m[None, :, :]).abs().sum(-1) for m in maps])
    return QueryDependence(
        cosine_distance=float(cosine[:, off_diagonal].mean()),
        total_variation=float(tv[:, off_diagonal].mean()),
        peak_over_uniform=float(maps.amax(dim=-1).mean() * n),
    )


def _check_maps(maps: torch.Tensor) -> None:
    if maps.dim() != 3 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"expected attention maps of shape (B, N, N), got {tuple(maps.shape)}")


def _self_attention_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The SAGAN self-attention blocks of ``model`` by name; a model without one is refused."""
    from ..attention.self_attention import SelfAttention

    blocks = {n: m for n, m in model.named_modules() if isinstance(m, SelfAttention)}
    if not blocks:
        raise ValueError("the model has no self-attention block (attention='self_attention')")
    return blocks


@torch.no_grad()
def self_attention_maps(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The attention maps β (B, N, N) of every SAGAN self-attention block of ``model`` for
    ``images``, by module name, from one forward pass in evaluation mode (the model's mode is
    restored afterwards)."""
    blocks = _self_attention_blocks(model)
    kept = {n: m.keep_attention for n, m in blocks.items()}
    device = next(model.parameters()).device
    with inspecting(model):
        try:
            for m in blocks.values():
                m.keep_attention = True
            model(images.to(device))
            return {n: m.last_attention.float().cpu() for n, m in blocks.items()}
        finally:
            for n, m in blocks.items():
                m.keep_attention = kept[n]


@torch.no_grad()
def attention_share(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """For every self-attention block, the root mean square of what it adds, ``y − x = γ o``,
    over that of its input ``x``, on ``images`` in evaluation mode: 0 for the untrained block
    (γ = 0), 0.1 when the attention term is a tenth of the features it is added to."""
    shares: dict[str, float] = {}

    def hook(name: str):
        def record(module, inputs, output):
            x = inputs[0].float()
            shares[name] = float((output.float() - x).pow(2).mean().sqrt() / x.pow(2).mean().sqrt())

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in _self_attention_blocks(model).items()]
    device = next(model.parameters()).device
    with inspecting(model, handles):
        model(images.to(device))
    return shares


@dataclass(frozen=True)
class KeyConcentration:
    """Where the attention weight goes, averaged over images: the largest weight of a query's
    map (1: one-hot), the number of distinct keys the queries of an image pick as their largest,
    the share of queries whose largest key is the image's most popular one, the weight a query
    gives itself, and the share of images whose most popular key lies on the border of the map,
    beside the share of border positions (what a key drawn at random would give)."""

    max_weight: float
    distinct_keys: float
    modal_share: float
    self_weight: float
    modal_on_border: float
    border_fraction: float


def key_concentration(maps: torch.Tensor) -> KeyConcentration:
    """``maps``: attention weights (B, N, N) of square feature maps (N = side²)."""
    _check_maps(maps)
    n = maps.shape[-1]
    side = round(n**0.5)
    if side * side != n:
        raise ValueError(f"{n} positions is not a square map")
    top = maps.argmax(-1)  # (B, N): each query's largest key
    modal = torch.mode(top, dim=1).values  # (B,)
    row, col = modal // side, modal % side
    on_border = (row == 0) | (row == side - 1) | (col == 0) | (col == side - 1)
    border = 1.0 if side <= 2 else 1 - (side - 2) ** 2 / n
    return KeyConcentration(
        max_weight=float(maps.amax(-1).mean()),
        distinct_keys=float(sum(len(set(t.tolist())) for t in top) / len(top)),
        modal_share=float((top == modal[:, None]).float().mean()),
        self_weight=float(maps.diagonal(dim1=1, dim2=2).mean()),
        modal_on_border=float(on_border.float().mean()),
        border_fraction=border,
    )
