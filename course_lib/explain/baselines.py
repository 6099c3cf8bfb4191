"""Maps that know nothing about the model, to judge the maps that do.

A quality score means little on its own: ROAD (Rong et al., ICML 2022) rewards a map whose top
pixels the model needs, and on CIFAR-10 the object usually sits in the middle of the image, so
a map that merely says "the centre" can already score well. Two baselines, scored exactly like
GradCAM:

* :func:`centre_blob`: an isotropic Gaussian centred on the image, ``exp(-r^2 / (2 sigma^2))``
  with ``sigma`` a fraction of the side, scaled to [0, 1]; the prior "objects are centred".
* :func:`random_maps`: uniform noise drawn on a coarse ``cells`` x ``cells`` grid (the CAM
  layer's resolution) and upsampled bilinearly like a CAM, scaled to [0, 1] per map; the
  prior "nothing", with the same smoothness as a CAM. A method that does not beat it explains
  nothing.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def centre_blob(size: int, sigma: float = 0.25) -> np.ndarray:
    """A (size, size) Gaussian centred on the image, ``sigma`` as a fraction of the side,
    scaled to [0, 1] (minimum 0, maximum 1 at the centre)."""
    if size < 1 or sigma <= 0:
        raise ValueError(f"need size >= 1 and sigma > 0, got size={size}, sigma={sigma}")
    centre = (size - 1) / 2
    r = np.arange(size, dtype=np.float64) - centre
    blob = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (sigma * size) ** 2))
    blob = blob - blob.min()
    return (blob / blob.max() if blob.max() > 0 else np.ones_like(blob)).astype(np.float32)


def blob_maps(n: int, size: int, sigma: float = 0.25) -> np.ndarray:
    """The centred blob repeated for ``n`` images: (n, size, size)."""
    return np.repeat(centre_blob(size, sigma)[None], n, axis=0)


def random_maps(n: int, size: int, cells: int = 7, seed: int = 0) -> np.ndarray:
    """(n, size, size) maps of uniform noise on a ``cells`` x ``cells`` grid, upsampled
    bilinearly to ``size`` and scaled to [0, 1] per map; the same ``seed`` gives the same maps."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, cells, cells, generator=generator)
    maps = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    maps = maps - maps.flatten(1).min(dim=1).values[:, None, None]
    return (maps / maps.flatten(1).max(dim=1).values[:, None, None].clamp_min(1e-12)).numpy()
