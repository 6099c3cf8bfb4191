"""Attention modules, one file per paper; each fits AlexNet's ``attention`` slot by name."""

from .registry import ATTENTION, create_attention, list_attention, register_attention

__all__ = ["ATTENTION", "create_attention", "list_attention", "register_attention"]
