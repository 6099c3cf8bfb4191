"""LIME for one prediction (Ribeiro et al., KDD 2016, Sec. 3), with captum.

LIME explains one prediction by switching groups of pixels ("superpixels", the interpretable
features) on and off, querying the model on each perturbed image and fitting a weighted linear
model whose coefficients say how much each group pushes the class score (their Eq. 1-2: samples
weighted by an exponential kernel of their distance to the image).

Two ways to make the groups:

* **superpixels** (:func:`superpixel_segments`), as LIME's authors and source 002 do: scikit-image's
  quickshift (``kernel_size=4, max_dist=200, ratio=0.2``: the lime package's defaults, which
  source 002's InterpretDL ``LIMECVInterpreter`` uses, with ``num_samples=10000``) or SLIC.
  Regions follow the image's edges, so a region is a part of the object or of the background.
* **a regular grid** (:func:`grid_segments`): no segmentation, the cheap option; cells cut
  through objects.

``SOURCE_002`` holds source 002's settings; chapter 08 uses fewer samples on a CPU and says so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from captum._utils.models.linear_model import SkLearnLasso, SkLearnRidge
from captum.attr import Lime
from torch import nn

# source 002: InterpretDL's LIMECVInterpreter (quickshift superpixels), 10,000 samples
SOURCE_002 = {"segmentation": "quickshift", "samples": 10_000}
QUICKSHIFT = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}  # the lime package's defaults


def grid_segments(size: int, cells: int) -> torch.Tensor:
    """A (size, size) map of segment ids: a ``cells`` x ``cells`` grid."""
    index = torch.arange(size) * cells // size
    return index[:, None] * cells + index[None, :]


def superpixel_segments(
    image: torch.Tensor,
    size: int | None = None,
    method: str = "slic",
    n_segments: int = 50,
    compactness: float = 10.0,
    seed: int = 0,
) -> torch.Tensor:
    """Superpixels of a uint8 image (3, H, W), resized to ``size`` first (bilinear): a (size,
    size) long tensor of region ids 0..K-1.

    ``method="slic"`` (Achanta et al., TPAMI 2012): about ``n_segments`` compact regions;
    ``method="quickshift"`` (Vedaldi & Soatto, ECCV 2008) with the lime package's settings,
    which decide the number of regions themselves.
    """
    from skimage.segmentation import quickshift, slic

    x = image.float()[None] / 255.0
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    rgb = x[0].permute(1, 2, 0).clamp(0, 1).numpy().astype(np.float64)
    if method == "slic":
        labels = slic(rgb, n_segments=n_segments, compactness=compactness, start_label=0)
    elif method == "quickshift":
        labels = quickshift(rgb, **QUICKSHIFT, rng=seed)
    else:
        raise ValueError(f"unknown superpixel method {method!r}; use 'slic' or 'quickshift'")
    _, labels = np.unique(labels, return_inverse=True)  # ids 0..K-1
    return torch.as_tensor(labels.reshape(rgb.shape[:2]), dtype=torch.long)


def lime_explanation(
    model: nn.Module,
    image: torch.Tensor,
    target: int,
    cells: int = 8,
    samples: int = 300,
    seed: int = 0,
    segments: torch.Tensor | None = None,
    linear_model: str = "ridge",
) -> torch.Tensor:
    """Per-pixel LIME weights (H, W) for ``target`` on one normalised image (3, H, W).

    The features are the regions of ``segments`` (H, W ids, e.g. :func:`superpixel_segments`),
    or the cells of a ``cells`` x ``cells`` grid when none are given. Switched-off regions are set
    to 0, the mean image after normalisation. ``linear_model``: ``"ridge"`` (the lime package's
    choice, every region gets a weight) or ``"lasso"`` (captum's default, sparse).
    """
    model.eval()
    device = next(model.parameters()).device
    x = image.unsqueeze(0).to(device)
    if segments is None:
        segments = grid_segments(x.shape[-1], cells)
    if tuple(segments.shape) != tuple(x.shape[-2:]):
        raise ValueError(f"segments {tuple(segments.shape)} do not match the image {x.shape}")
    mask = segments.to(device)[None, None].expand_as(x)
    interpretable = {"ridge": lambda: SkLearnRidge(alpha=1.0),
                     "lasso": lambda: SkLearnLasso(alpha=0.01)}[linear_model]()  # fmt: skip
    torch.manual_seed(seed)
    lime = Lime(model, interpretable_model=interpretable)
    weights = lime.attribute(
        x, target=int(target), feature_mask=mask, n_samples=samples, baselines=0.0,
        perturbations_per_eval=50,
    )  # fmt: skip
    return weights[0, 0].detach().cpu()
