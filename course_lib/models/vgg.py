"""VGG16, optionally with attention modules inserted after chosen layers (source 004).

VGG: Karen Simonyan, Andrew Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556. The network is torchvision's ``vgg16`` (configuration
D, no BatchNorm, adaptive 7x7 average pool before the classifier): 138,357,544 parameters at
1000 classes.

``attention_after`` lists indices into torchvision's ``vgg16().features``; an attention module
goes right after each of those layers, its width taken from the last conv at or before it::

    index: 0 conv1_1  1 relu  2 conv1_2  3 relu  4 pool
           5 conv2_1  6 relu  7 conv2_2  8 relu  9 pool
          10 conv3_1 ... 16 pool, 17 conv4_1 ... 23 pool, 24 conv5_1 ... 30 pool

Source 004's first variant puts SAGAN self-attention after conv1_1 and conv2_1 *and their ReLUs*:
``attention_after=(1, 6)`` (64 and 128 channels), the default of ``vgg16_attention``. Its second
variant hooks modules in at ``features`` indices 10, 17, 24 (conv3_1, conv4_1, conv5_1), but
builds all three for 256 channels, which breaks at 17 and 24 (512 channels); here the width is
read from the network. Inserted modules are named ``attn_<index>`` and the original layers keep
their torchvision names, so ``features.0.weight`` etc. still match torchvision checkpoints.

``classifier="compact"`` swaps torchvision's head for one sized for small images. At 32 px the
last feature map is 1x1, and torchvision's adaptive pool copies that one vector 49 times into a
25,088-wide input for a 4096-4096 MLP: 119.6M of the 134.3M parameters (10 classes) learn from
a single 512-vector. The compact head averages the feature map to 512 numbers and applies
512-512-classes with dropout 0.5 (the usual CIFAR VGG16): 15,245,130 parameters at 10 classes.

All ReLUs are made non-in-place: an in-place ReLU after a GradCAM target layer would overwrite
the activation the CAM needs. This changes no weights.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..attention import attention_key, create_attention
from ..data.cifar10 import DOWNLOAD_ENV
from .registry import register_model

VGG16_WEIGHTS_FILE = "vgg16-397923af.pth"  # torchvision's VGG16_Weights.IMAGENET1K_V1
VGG16_BN_WEIGHTS_FILE = "vgg16_bn-6c64b313.pth"  # torchvision's VGG16_BN_Weights.IMAGENET1K_V1
# In vgg16_bn().features every conv is followed by a BatchNorm: conv2_2's ReLU is index 12 (a
# 16x16 map at 32 px) and conv3_3's ReLU index 22 (8x8): where chapter 07 puts self-attention.
VGG16_BN_ATTENTION_AFTER = (12, 22)
VGG16_SOURCE_ATTENTION_AFTER = (1, 6)  # after conv1_1 + ReLU and conv2_1 + ReLU (source 004)
VGG_MIN_IMAGE_SIZE = 32  # five 2x2 max-pools
VGG_CLASSIFIERS = ("imagenet", "compact")


def compact_classifier(num_classes: int, width: int = 512, dropout: float = 0.5) -> nn.Sequential:
    """Global-average-pooled 512 features -> width -> width -> classes, dropout before each."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(512, width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, num_classes),
    )


def vgg16_weights_path(weights_path: str | Path | None = None, batch_norm: bool = False) -> Path:
    """Where ImageNet VGG16 weights are looked for: ``weights_path`` or torch's hub cache."""
    if weights_path is not None:
        return Path(weights_path)
    name = VGG16_BN_WEIGHTS_FILE if batch_norm else VGG16_WEIGHTS_FILE
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _check_weights_file(weights_path: str | Path | None, batch_norm: bool = False) -> Path:
    path = vgg16_weights_path(weights_path, batch_norm)
    if not path.is_file():
        name = VGG16_BN_WEIGHTS_FILE if batch_norm else VGG16_WEIGHTS_FILE
        enum = "VGG16_BN_Weights" if batch_norm else "VGG16_Weights"
        raise FileNotFoundError(
            f"ImageNet VGG16 weights not found at {path}. Nothing is downloaded at run time: "
            f"copy torchvision's {name} ({enum}.IMAGENET1K_V1) to "
            f"{vgg16_weights_path(None, batch_norm)} or pass weights_path=..., or use "
            "pretrained=False."
        )
    return path


def load_vgg16_imagenet(
    model: nn.Module, weights_path: str | Path | None = None, batch_norm: bool = False
) -> None:
    """Load ImageNet weights from disk into a plain torchvision VGG16 (never downloads).

    With a classifier of other than 1000 classes, every layer but the last is loaded; with the
    compact classifier, the convolutions only.
    """
    path = _check_weights_file(weights_path, batch_norm)
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = model.state_dict()
    # layers whose shape differs (last layer, compact head) keep their fresh initialisation
    fresh = {
        k
        for k, v in state.items()
        if k.startswith("classifier.") and (k not in own or own[k].shape != v.shape)
    }
    state = {k: v for k, v in state.items() if k not in fresh}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("classifier.") for k in missing):
        raise RuntimeError(
            f"{path} is not a torchvision VGG16 checkpoint: missing {missing}, "
            f"unexpected {unexpected}"
        )


def insert_after(
    features: nn.Sequential,
    indices: Sequence[int],
    attention: str,
    attention_kwargs: dict | None = None,
) -> nn.Sequential:
    """A copy of ``features`` with an attention module after each ``features[i]``, i in indices.

    Original layers keep their names (``"0"``, ``"1"``, ...); each new one is ``attn_<i>``.
    """
    indices = sorted(set(indices))
    for i in indices:
        if not 0 <= i < len(features):
            raise ValueError(f"attention_after index {i} is outside features[0:{len(features)}]")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = None
    for i, layer in enumerate(features):
        layers[str(i)] = layer
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
        if i in indices:
            if channels is None:
                raise ValueError(f"attention_after index {i} comes before any convolution")
            layers[f"attn_{i}"] = create_attention(attention, channels, **(attention_kwargs or {}))
    return nn.Sequential(layers)


@register_model("vgg16")
def vgg16(
    num_classes: int = 1000,
    attention: str | None = None,
    attention_after: Sequence[int] = (),
    image_size: int = 224,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    attention_kwargs: dict | None = None,
    classifier: str = "imagenet",
    batch_norm: bool = False,
) -> nn.Module:
    """torchvision's VGG16 with ``attention`` inserted after ``features[i]`` for i in
    ``attention_after``.

    Args:
        num_classes: output classes.
        attention: an attention name (see :func:`course_lib.attention.list_attention`) or None.
        attention_after: ``features`` indices to insert it after (needed when ``attention`` is
            given).
        image_size: input side; any size from 32 px works (adaptive pooling), it is only checked.
        pretrained: load ImageNet weights from ``weights_path`` or torch's hub cache
            (``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``); never downloads.
        weights_path: a torchvision VGG16 checkpoint file.
        attention_kwargs: passed to every attention module.
        classifier: ``"imagenet"`` (torchvision's 7x7 pool and 4096-4096 MLP) or ``"compact"``
            (global average pool, 512-512 MLP; for small images, see the module docstring).
        batch_norm: torchvision's ``vgg16_bn`` (a BatchNorm after every conv; the ``features``
            indices change, see :data:`VGG16_BN_ATTENTION_AFTER`).
    """
    if classifier not in VGG_CLASSIFIERS:
        raise ValueError(f"unknown VGG classifier {classifier!r}; choose one of {VGG_CLASSIFIERS}")
    if image_size is not None and image_size < VGG_MIN_IMAGE_SIZE:
        raise ValueError(
            f"VGG16 needs images of at least {VGG_MIN_IMAGE_SIZE} px (five 2x2 max-pools), "
            f"got {image_size}"
        )
    attention = attention_key(attention)
    has_attention = attention is not None
    if has_attention and not attention_after:
        raise ValueError(
            f"attention={attention!r} needs attention_after=[indices into vgg16().features], "
            f"e.g. {list(VGG16_SOURCE_ATTENTION_AFTER)} for after conv1_1 and conv2_1 (source 004)"
        )
    if pretrained:
        _check_weights_file(weights_path, batch_norm)  # fail before building 138M parameters
    build = torchvision.models.vgg16_bn if batch_norm else torchvision.models.vgg16
    model = build(weights=None, num_classes=num_classes)
    if classifier == "compact":
        model.avgpool = nn.AdaptiveAvgPool2d(1)
        model.classifier = compact_classifier(num_classes)
    if pretrained:
        load_vgg16_imagenet(model, weights_path, batch_norm)  # before inserting: names still match
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    if has_attention:
        model.features = insert_after(model.features, attention_after, attention, attention_kwargs)
    model.attention = attention if has_attention else "none"
    model.attention_after = tuple(sorted(set(attention_after))) if has_attention else ()
    return model


@register_model("vgg16_attention")
def vgg16_attention(
    num_classes: int = 1000,
    attention: str | None = "self_attention",
    attention_after: Sequence[int] = VGG16_SOURCE_ATTENTION_AFTER,
    **vgg16_kwargs,
) -> nn.Module:
    """Source 004's VGG16 + self-attention: SAGAN self-attention after conv1_1 and conv2_1 (and
    their ReLUs). ``attention=None`` means the default, ``"self_attention"``; the other
    arguments are :func:`vgg16`'s.
    """
    return vgg16(num_classes, attention or "self_attention", attention_after, **vgg16_kwargs)


def fetch_vgg16_imagenet(batch_norm: bool = False) -> Path | None:
    """The ImageNet VGG16 weights file, downloaded into torch's hub cache only where downloads
    are switched on (``COURSE_DOWNLOAD=1``, as the chapters' Colab cell sets); None where the file
    is missing and may not be fetched (tests, CI, offline machines)."""
    path = vgg16_weights_path(None, batch_norm)
    if path.is_file():
        return path
    if os.environ.get(DOWNLOAD_ENV) != "1":
        return None
    weights = (
        torchvision.models.VGG16_BN_Weights if batch_norm else torchvision.models.VGG16_Weights
    ).IMAGENET1K_V1
    weights.get_state_dict(progress=True)  # torchvision stores it in the hub cache
    return path if path.is_file() else None
