"""The names the command line offers, without importing torch.

``python -m course_lib --help`` (and any argument error) must answer at once, so the parser
lists models, attention modules, compile modes and profiles from here instead of importing the
registries (which import torch, torchvision and every module). ``tests/test_cli.py`` checks
that these lists equal the registries, so a newly registered name cannot be forgotten here.
The names themselves are checked against the registries after parsing, before any data is
loaded.
"""

from __future__ import annotations

MODEL_NAMES = (
    "alexnet", "cifar_resnet", "epsanet101", "epsanet50", "moganet", "moganet_b",
    "moganet_base", "moganet_l", "moganet_large", "moganet_s", "moganet_small", "moganet_t",
    "moganet_tiny", "moganet_xl", "moganet_xlarge", "moganet_xt", "moganet_xtiny", "resnet50",
    "vgg16", "vgg16_attention",
)  # fmt: skip
ATTENTION_NAMES = (
    "batchnorm", "cbam", "none", "psa", "psa_fixed", "psa_shortcut", "se", "se_from_identity",
    "self_attention", "simam", "triplet", "triplet_static",
)  # fmt: skip
COMPILE_MODES = ("model", "attention")
PRECISIONS = ("auto", "bf16", "fp32", "fp16")
CHAPTERS_WITH_VARIANTS = ("05", "06", "07")  # what ``train-chapter`` trains
