"""Checkpoints that are written atomically and loaded with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_save, atomic_write_json

__all__ = [
    "CheckpointError",
    "atomic_save",
    "atomic_write_json",
    "cpu_state_dict",
    "load_weights",
    "model_spec",
    "read_checkpoint",
    "save_weights",
]


class CheckpointError(RuntimeError):
    """A checkpoint does not fit the model it is loaded into, or cannot be read."""


def model_spec(model: nn.Module) -> dict:
    """What a checkpoint records of its model: the registry name and arguments, if known."""
    return dict(getattr(model, "spec", {"name": type(model).__name__}))


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights and buffers, detached and on the CPU (as a checkpoint stores them)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def save_weights(model: nn.Module, path: str | Path, **extra) -> None:
    """Write the model's spec and weights (plus ``extra`` entries) atomically to ``path``."""
    atomic_save({"spec": model_spec(model), "model": cpu_state_dict(model), **extra}, path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(err).__name__}: {err}); it may be truncated "
            "or not a course checkpoint: delete it and train again"
        ) from err


def load_weights(model: nn.Module, path_or_checkpoint: str | Path | dict) -> dict:
    """Load a checkpoint's weights into ``model``; a checkpoint of another model is refused."""
    ckpt = (
        path_or_checkpoint
        if isinstance(path_or_checkpoint, dict)
        else read_checkpoint(path_or_checkpoint)
    )
    expected, found = model_spec(model), ckpt.get("spec", {})
    if found and expected != found:
        raise CheckpointError(
            f"this checkpoint belongs to another model:\n  checkpoint: {found}\n  model:      "
            f"{expected}\nbuild the model with the checkpoint's arguments, e.g. "
            f"build_model(**spec) with spec = checkpoint['spec'] minus 'name'"
        )
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise CheckpointError(f"the checkpoint's weights do not fit this model: {err}") from err
    return ckpt
