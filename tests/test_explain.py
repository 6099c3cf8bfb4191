"""Explanations: from-scratch CAMs against pytorch_grad_cam, target layers, quality, LIME."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.explain import (
    ScratchGradCAM,
    ScratchGradCAMPlusPlus,
    compute_cam,
    grid_segments,
    lime_explanation,
    road_scores,
    target_layer,
)
from course_lib.models import build_model, list_models


@pytest.mark.parametrize("attention", [None, "triplet", "cbam"])
@pytest.mark.parametrize(
    "method, scratch", [("gradcam", ScratchGradCAM), ("gradcam++", ScratchGradCAMPlusPlus)]
)
def test_from_scratch_cams_match_the_library(attention, method, scratch):
    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=64)
    x = torch.randn(3, 3, 64, 64)
    classes = [0, 4, 9]
    library = compute_cam(model, x, method, classes)
    ours = scratch(model)(x, classes)
    assert ours.shape == library.shape == (3, 64, 64)
    assert np.abs(library - ours).max() < 1e-4
    assert ours.min() >= 0.0 and ours.max() <= 1.0 + 1e-6


def test_gradcam_weights_are_mean_gradients():
    cam = ScratchGradCAM(build_model("alexnet", image_size=64))
    grads = torch.randn(2, 5, 3, 3)
    assert torch.allclose(cam.channel_weights(torch.rand(2, 5, 3, 3), grads), grads.mean((2, 3)))


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_a_target_layer(name):
    with torch.device("meta"):
        model = build_model(name, num_classes=10)
    layer = target_layer(model)
    assert isinstance(layer, torch.nn.Module)
    assert layer in list(model.modules())
    # never an attention module's internal gate
    assert "gate" not in next(n for n, m in model.named_modules() if m is layer)


def test_target_layer_of_alexnet_is_the_last_block_output():
    model = build_model("alexnet", attention="triplet", image_size=64)
    assert target_layer(model) is model.features.relu5


def test_quality_metrics_return_numbers():
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    x = torch.randn(2, 3, 64, 64)
    cams = compute_cam(model, x, "gradcam", [1, 2])
    q = road_scores(model, x, cams, [1, 2], percentiles=(50,))
    assert set(q) == {"road_combined", "confidence_change"}
    for v in q.values():  # one score per image, each a probability difference
        assert v.shape == (2,) and np.isfinite(v).all() and (np.abs(v) <= 1.0).all()


def test_lime_gives_one_weight_per_grid_cell():
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    weights = lime_explanation(model, torch.randn(3, 64, 64), target=3, cells=4, samples=40)
    assert weights.shape == (64, 64)
    segments = grid_segments(64, 4)
    for s in range(16):  # constant within each segment
        assert weights[segments == s].unique().numel() == 1


def test_gradcam_plus_plus_with_a_relative_eps_follows_its_equation_at_any_gradient_scale():
    """With gradients of order 1e-4 a fixed eps of 1e-6 outweighs g^2 in the denominator and
    the weights leave the equation; a relative eps keeps them on it (eps -> 0 as the reference)."""
    torch.manual_seed(0)
    activations = torch.rand(2, 5, 4, 4)
    grads = torch.randn(2, 5, 4, 4)
    exact = ScratchGradCAMPlusPlus(torch.nn.Identity(), torch.nn.Identity(), eps=0.0)
    relative = ScratchGradCAMPlusPlus(torch.nn.Identity(), torch.nn.Identity(), eps="relative")
    fixed = ScratchGradCAMPlusPlus(torch.nn.Identity(), torch.nn.Identity(), eps=1e-6)
    for scale in (1.0, 1e-4):
        g = grads * scale
        reference = exact.channel_weights(activations, g)
        torch.testing.assert_close(
            relative.channel_weights(activations, g), reference, rtol=1e-3, atol=0
        )
    small = grads * 1e-4
    off = fixed.channel_weights(activations, small) - exact.channel_weights(activations, small)
    assert off.abs().max() > 0.1 * exact.channel_weights(activations, small).abs().max()
