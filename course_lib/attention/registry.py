"""Attention modules by name, as in timm's ``create_attn``.

Every module takes the channel count as its first argument, even one that ignores it (SimAM,
Triplet Attention), so that any network can take any attention by name::

    create_attention("triplet", 64)  # -> TripletAttention(64)
    create_attention(None, 64)       # -> nn.Identity()
"""

from __future__ import annotations

from torch import nn

from ..registry import Registry
from ..runtime.compile import mark_attention

ATTENTION = Registry("attention module")
register_attention = ATTENTION.register


@register_attention("none")
def _identity(channels: int) -> nn.Module:
    return nn.Identity()


def attention_key(name: str | None) -> str | None:
    """The one spelling of "no attention" is None; any other name is lower-cased."""
    if name is None or name.strip().lower() in ("", "none"):
        return None
    return name.strip().lower()


def create_attention(name: str | None, channels: int, **kwargs) -> nn.Module:
    """The attention module called ``name`` for a feature map of ``channels`` channels."""
    key = attention_key(name) or "none"
    return mark_attention(ATTENTION.get(key)(channels, **kwargs), key)


def list_attention() -> list[str]:
    """Names accepted by :func:`create_attention` (and by models' ``attention`` argument)."""
    return ATTENTION.names()
