"""Sanity check for saliency maps: cascading model randomisation (Adebayo et al., NeurIPS 2018,
"Sanity Checks for Saliency Maps", Sec. 3.1).

A map that explains the *model* must change when the model's learned weights are destroyed.
Starting from the output, the layers are re-initialised one after another (cascading: the
classifier's last layer, then the one below it, ... down to the first convolution), and after
each step the maps of the randomised model are compared with the trained model's maps by the
Spearman rank correlation over pixels (their Fig. 2 and 4). A correlation that stays near 1 while
the weights are random means the method shows the input (edges, the centre) rather than what the
model learned; a trustworthy method's correlation falls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from .cam import compute_cam
from .target_layers import target_layer


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two arrays of the same size (ties share their mean rank);
    NaN when either is constant."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"arrays of different sizes: {a.shape} and {b.shape}")
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def spearman_per_image(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Spearman correlation of ``maps_a[i]`` and ``maps_b[i]`` for every image: length N."""
    if len(maps_a) != len(maps_b):
        raise ValueError(f"{len(maps_a)} and {len(maps_b)} maps")
    return np.array([spearman(a, b) for a, b in zip(maps_a, maps_b)])


def alexnet_cascade(model: nn.Module) -> list[tuple[str, list[str]]]:
    """The randomisation steps for the course's AlexNet, from the output down: ``fc3``, ``fc2``,
    ``fc1``, then ``conv5`` (with its attention module, if any) ... ``conv1``; each step names the
    modules it re-initialises."""
    names = dict(model.named_modules())
    linears = [n for n, m in model.classifier.named_children() if isinstance(m, nn.Linear)]
    steps = [(f"fc{i}", [f"classifier.{n}"]) for i, n in enumerate(linears, start=1)][::-1]
    for i in range(5, 0, -1):
        modules = [f"features.{k}{i}" for k in ("conv", "attn") if f"features.{k}{i}" in names]
        steps.append((f"conv{i}", modules))
    return steps


def randomise_layers(model: nn.Module, names: Sequence[str], seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose modules called ``names`` (and their submodules) are
    re-initialised with their own ``reset_parameters``; every other weight is kept, and the
    original model is not touched."""
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(f"no module(s) {missing} in the model")
    torch.manual_seed(seed)
    for name in names:
        for module in modules[name].modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return randomised


def gradcam_explainer(
    method: str = "gradcam", layer: str | None = None
) -> Callable[[nn.Module, torch.Tensor, Sequence[int]], np.ndarray]:
    """``explain(model, inputs, classes) -> maps`` with :func:`compute_cam` at the layer called
    ``layer`` (default: :func:`target_layer`), looked up in whichever model is passed."""

    def explain(model: nn.Module, inputs: torch.Tensor, classes: Sequence[int]) -> np.ndarray:
        module = dict(model.named_modules())[layer] if layer else target_layer(model)
        return compute_cam(model, inputs, method, classes, layer=module)

    return explain


def cascading_randomisation(
    model: nn.Module,
    inputs: torch.Tensor,
    classes: Sequence[int],
    explain: Callable[[nn.Module, torch.Tensor, Sequence[int]], np.ndarray] | None = None,
    steps: Sequence[tuple[str, Sequence[str]]] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-image Spearman correlation between the trained model's maps and the maps after each
    cascading step (``{"fc3": array of N, "fc2": ..., ...}``; each step keeps the earlier steps'
    randomisation). ``explain`` defaults to GradCAM at the target layer, ``steps`` to
    :func:`alexnet_cascade`."""
    explain = explain or gradcam_explainer()
    steps = list(steps or alexnet_cascade(model))
    reference = explain(model, inputs, classes)
    correlations, randomised = {}, []
    for i, (step, names) in enumerate(steps):
        randomised += list(names)
        broken = randomise_layers(model, randomised, seed=seed + i)
        correlations[step] = spearman_per_image(reference, explain(broken, inputs, classes))
    return correlations
