"""The source notebooks' AlexNet: parameter counts, layer sizes, registry and input errors."""

from __future__ import annotations

import pytest
import torch

from course_lib.experiments.measure import count_params
from course_lib.models import (
    alexnet_feature_sizes,
    alexnet_min_image_size,
    build_model,
    list_models,
)


@pytest.mark.parametrize("size, expected", [(224, 14_601_930), (128, 7_524_042)])
def test_parameter_counts_of_the_seeds(size, expected):
    assert count_params(build_model("alexnet", image_size=size, num_classes=10)) == expected


@pytest.mark.parametrize("size", [224, 128, 64, alexnet_min_image_size()])
def test_feature_sizes_formula_matches_the_model(size):
    model = build_model("alexnet", image_size=size)
    seen = {}
    for name, layer in model.features.named_children():
        if name.startswith(("conv", "pool")):
            layer.register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, o.shape[-1])
            )
    out = model(torch.zeros(1, 3, size, size))
    assert out.shape == (1, 10)
    assert dict(alexnet_feature_sizes(size)) == seen


def test_too_small_images_get_a_clear_error():
    minimum = alexnet_min_image_size()
    assert minimum == 57  # 57 px is the smallest input that survives the three 3/2 max-pools
    with pytest.raises(ValueError, match=f"at least {minimum} px"):
        build_model("alexnet", image_size=minimum - 1)


def test_wrong_input_size_is_explained():
    model = build_model("alexnet", image_size=64)
    with pytest.raises(ValueError, match="built for 64 px"):
        model(torch.zeros(1, 3, 128, 128))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(KeyError, match="Valid names: .*alexnet"):
        build_model("alexnt")
    with pytest.raises(KeyError, match="attention module 'tripplet'"):
        build_model("alexnet", attention="tripplet")
    assert "alexnet" in list_models()


def test_spec_records_the_arguments():
    model = build_model("alexnet", attention=None, image_size=128, num_classes=7)
    assert model.spec == {"name": "alexnet", "attention": None, "image_size": 128, "num_classes": 7}
