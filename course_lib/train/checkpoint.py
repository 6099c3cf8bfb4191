"""Checkpoints that are written atomically and loaded with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..runtime.atomic import atomic_save

__all__ = [
    "CheckpointError",
    "cpu_state_dict",
    "load_weights",
    "model_spec",
    "read_checkpoint",
    "save_weights",
]


class CheckpointError(RuntimeError):
    """A checkpoint (or a run's history or metrics) cannot be read, or does not fit the model."""


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
            f"cannot read {path}: the file is truncated or not a course checkpoint "
            f"({type(err).__name__}: {str(err).split('. ')[0]})"  # torch adds a paragraph
        ) from err


def load_weights(model: nn.Module, path_or_checkpoint: str | Path | dict) -> dict:
    """Load a checkpoint's weights into ``model``; a checkpoint of another model is refused."""
    from_file = not isinstance(path_or_checkpoint, dict)
    ckpt = read_checkpoint(path_or_checkpoint) if from_file else path_or_checkpoint
    where = f"{path_or_checkpoint}: " if from_file else ""
    expected, found = model_spec(model), ckpt.get("spec", {})
    if found and expected != found:
        raise CheckpointError(
            f"{where}the checkpoint belongs to another model: it holds {found}, the model is "
            f"{expected}; build the model with the checkpoint's arguments, e.g. "
            "build_model(**spec) with spec = checkpoint['spec'] minus 'name'"
        )
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        detail = " ".join(str(err).split())  # load_state_dict's message spans many lines
        raise CheckpointError(
            f"{where}the checkpoint was trained with another version of the model (the "
            f"library's code changed since), its weights no longer fit: {detail}"
        ) from err
    return ckpt
