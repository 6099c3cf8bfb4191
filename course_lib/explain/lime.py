"""LIME for one prediction (Ribeiro et al., KDD 2016), with captum, as seed 002 does.

LIME explains one prediction by switching groups of pixels ("superpixels") on and off, querying
the model on each perturbed image and fitting a sparse linear model (Lasso) whose coefficients
say how much each group pushes the class score. Here the groups are the cells of a regular grid,
which needs no segmentation library and suits 32 x 32 images.
"""

from __future__ import annotations

import torch
from captum.attr import Lime
from torch import nn


def grid_segments(size: int, cells: int) -> torch.Tensor:
    """A (size, size) map of segment ids: a ``cells`` x ``cells`` grid."""
    index = torch.arange(size) * cells // size
    return index[:, None] * cells + index[None, :]


def lime_explanation(
    model: nn.Module,
    image: torch.Tensor,
    target: int,
    cells: int = 8,
    samples: int = 300,
    seed: int = 0,
) -> torch.Tensor:
    """Per-pixel LIME weights (H, W) for ``target`` on one normalised image (3, H, W).

    Switched-off segments are set to 0, the mean image after normalisation.
    """
    model.eval()
    device = next(model.parameters()).device
    x = image.unsqueeze(0).to(device)
    mask = grid_segments(x.shape[-1], cells).to(device)[None, None].expand_as(x)
    torch.manual_seed(seed)
    lime = Lime(model)
    weights = lime.attribute(
        x, target=int(target), feature_mask=mask, n_samples=samples, baselines=0.0,
        perturbations_per_eval=50,
    )  # fmt: skip
    return weights[0, 0].detach().cpu()
