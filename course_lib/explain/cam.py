"""GradCAM and GradCAM++ maps with pytorch_grad_cam, and their overlays.

GradCAM (Selvaraju et al., ICCV 2017) weights each channel of the target layer's activations A^k
by the spatial mean of the class score's gradient, alpha_k = mean_ij dy^c/dA^k_ij, and keeps the
positive part of the weighted sum, L^c = ReLU(sum_k alpha_k A^k). GradCAM++ (Chattopadhay et al.,
WACV 2018) replaces the plain mean by per-pixel weights built from higher-order derivatives,
which separates several instances of a class better. Chapter 08 derives both in depth.

CAMs need gradients: never compute them under ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from ..plots import to_numpy_image
from .target_layers import target_layer

CAM_METHODS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus}


def compute_cam(
    model: nn.Module,
    inputs: torch.Tensor,
    method: str = "gradcam",
    classes: Sequence[int] | None = None,
    layer: nn.Module | None = None,
) -> np.ndarray:
    """CAMs of shape (N, H, W) in [0, 1] for normalised ``inputs`` (N, 3, H, W).

    ``classes`` picks the explained class per image (default: the predicted one).
    """
    if method not in CAM_METHODS:
        raise KeyError(f"unknown CAM method {method!r}; use one of {sorted(CAM_METHODS)}")
    model.eval()
    device = next(model.parameters()).device
    targets = None if classes is None else [ClassifierOutputTarget(int(c)) for c in classes]
    with CAM_METHODS[method](model=model, target_layers=[layer or target_layer(model)]) as cam:
        return cam(input_tensor=inputs.to(device), targets=targets)


@torch.no_grad()
def cam_layer_side(model: nn.Module, image_size: int, layer: nn.Module | None = None) -> int:
    """The side of the map that ``model``'s CAM layer (:func:`target_layer`) gives for a square
    ``image_size`` input: the CAM's resolution before it is upsampled to the image."""
    found = []
    layer = layer or target_layer(model)
    hook = layer.register_forward_hook(lambda _m, _i, out: found.append(out.shape[-1]))
    was_training = model.training
    try:
        model.eval()
        p = next(model.parameters())
        model(torch.zeros(1, 3, image_size, image_size, device=p.device, dtype=p.dtype))
    finally:
        hook.remove()
        model.train(was_training)
    return int(found[0])


def overlay(image: torch.Tensor, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A CAM drawn over a uint8 (3, H, W) image, resized to the CAM's size; (H, W, 3) uint8."""
    x = image.float().unsqueeze(0) / 255.0
    if x.shape[-2:] != cam.shape:
        x = torch.nn.functional.interpolate(x, size=cam.shape, mode="bilinear", align_corners=False)
    rgb = to_numpy_image(x[0]).astype(np.float32)
    return show_cam_on_image(rgb, cam, use_rgb=True, image_weight=1.0 - alpha)


def plot_cam_grid(
    images: torch.Tensor,
    cams: dict[str, np.ndarray],
    titles: Sequence[str] | None = None,
    cell: float = 1.25,
    predictions: dict[str, Sequence[str]] | None = None,
    correct: dict[str, Sequence[bool]] | None = None,
):
    """One row per entry of ``cams`` (e.g. ``{"AlexNet GradCAM": ..., "TA GradCAM": ...}``), one
    column per image; the first row shows the images with ``titles`` (e.g. the true class).

    ``predictions`` and ``correct`` (keyed like ``cams``) print each row's predicted class under
    its map, with a green (right) or red (wrong) frame. Every map is scaled to [0, 1] per image,
    as ``pytorch_grad_cam`` returns it; the colour bar shows that scale.
    """
    import matplotlib as mpl

    n, rows = len(images), len(cams) + 1
    fig, axes = plt.subplots(rows, n, figsize=(n * cell + 1.6, rows * cell * 1.12), dpi=100,
                             squeeze=False)  # fmt: skip
    for j in range(n):
        axes[0, j].imshow(images[j].permute(1, 2, 0).numpy(), interpolation="nearest")
        if titles is not None:
            axes[0, j].set_title(titles[j], fontsize=8)
        for i, (name, maps) in enumerate(cams.items(), start=1):
            ax = axes[i, j]
            ax.imshow(overlay(images[j], maps[j]))
            if predictions and name in predictions:
                ax.set_xlabel(f"pred {predictions[name][j]}", fontsize=7, labelpad=1)
            if correct and name in correct:
                colour = "tab:green" if correct[name][j] else "tab:red"
                for spine in ax.spines.values():
                    spine.set(color=colour, linewidth=2.5)
    for i, name in enumerate(["image", *cams]):
        axes[i, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.3, rect=(0, 0, 1 - 1.0 / (n * cell + 1.6), 1))
    bar = fig.add_axes((1 - 0.7 / (n * cell + 1.6), 0.1, 0.012, 0.6))
    fig.colorbar(mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap="jet"), cax=bar,
                 label="CAM (scaled to [0, 1] per image)")  # fmt: skip
    bar.yaxis.label.set_size(7)
    bar.tick_params(labelsize=7)
    return fig
