"""Attention modules, one file per paper; each fits AlexNet's ``attention`` slot by name."""

from .batchnorm import BatchNormControl
from .cbam import CBAM, ChannelAttention, SpatialAttention
from .psa import (
    FixedWeightPSA,
    FixedWeightPSAAttention,
    PSAAttention,
    PSAModule,
    PSAShortcut,
    SEWeight,
)
from .registry import (
    ATTENTION,
    attention_key,
    create_attention,
    list_attention,
    register_attention,
)
from .se import SqueezeExcite
from .self_attention import SelfAttention
from .simam import SimAM
from .triplet import AttentionGate, TripletAttention, ZPool
from .triplet_static import StaticTripletAttention

__all__ = [
    "ATTENTION",
    "BatchNormControl",
    "CBAM",
    "AttentionGate",
    "ChannelAttention",
    "FixedWeightPSA",
    "FixedWeightPSAAttention",
    "PSAAttention",
    "PSAShortcut",
    "PSAModule",
    "SEWeight",
    "SelfAttention",
    "SimAM",
    "SpatialAttention",
    "SqueezeExcite",
    "StaticTripletAttention",
    "TripletAttention",
    "ZPool",
    "attention_key",
    "create_attention",
    "list_attention",
    "register_attention",
]
