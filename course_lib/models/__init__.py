"""Models, built by name with :func:`build_model`."""

from .alexnet import AlexNet, alexnet_feature_sizes, alexnet_min_image_size, conv_output_size
from .registry import MODELS, build_model, list_models, register_model

__all__ = [
    "MODELS",
    "AlexNet",
    "alexnet_feature_sizes",
    "alexnet_min_image_size",
    "build_model",
    "conv_output_size",
    "list_models",
    "register_model",
]
