"""Models, built by name with :func:`build_model`."""

from .alexnet import (
    ALEXNET_CONVS,
    AlexNet,
    alexnet_feature_sizes,
    alexnet_field_span,
    alexnet_min_image_size,
    alexnet_receptive_fields,
    conv_output_size,
)
from .cifar_resnet import Bottleneck, CifarResNet
from .epsanet import EPSABlock, EPSANet
from .moganet import MogaNet
from .registry import (
    MODELS,
    build_model,
    check_model_request,
    check_models,
    list_models,
    register_model,
)
from .vgg import vgg16, vgg16_attention

__all__ = [
    "ALEXNET_CONVS",
    "MODELS",
    "AlexNet",
    "Bottleneck",
    "CifarResNet",
    "EPSABlock",
    "EPSANet",
    "MogaNet",
    "alexnet_feature_sizes",
    "alexnet_field_span",
    "alexnet_receptive_fields",
    "alexnet_min_image_size",
    "build_model",
    "check_model_request",
    "check_models",
    "conv_output_size",
    "list_models",
    "register_model",
    "vgg16",
    "vgg16_attention",
]
