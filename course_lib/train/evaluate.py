"""Evaluation: accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import torch
from torch import nn

from ..data import EvalTransform, ImageDataset
from ..runtime.device import autocast, memory_format, pick_device


@torch.no_grad()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    transform: EvalTransform,
    batch_size: int = 500,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> torch.Tensor:
    """Logits (float32, on the CPU) for uint8 images, in batches."""
    device = pick_device(device)
    fmt = memory_format(device)
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = transform(images[start : start + batch_size].to(device, non_blocking=True))
        with autocast(device, precision):
            outputs.append(model(x.contiguous(memory_format=fmt)).float().cpu())
    return torch.cat(outputs)


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows: true class; columns: predicted class."""
    index = labels.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes**2).view(num_classes, num_classes)


def evaluate(
    model: nn.Module,
    data: ImageDataset,
    image_size: int,
    batch_size: int = 500,
    device: str | torch.device | None = None,
    precision: str = "auto",
    label_smoothing: float = 0.0,
    split: str = "test",
) -> dict:
    """Loss, accuracy, per-class accuracy and confusion matrix on one split of ``data``."""
    transform = EvalTransform(image_size, data.mean, data.std)
    images, labels = data.split(split)
    logits = predict(model, images, transform, batch_size, device, precision)
    loss = nn.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    preds = logits.argmax(dim=1)
    cm = confusion_matrix(labels, preds, data.num_classes)
    per_class = (cm.diag().float() / cm.sum(dim=1).clamp(min=1).float()).tolist()
    return {
        "loss": float(loss),
        "accuracy": float((preds == labels).float().mean()),
        "per_class_accuracy": dict(zip(data.classes, per_class, strict=True)),
        "confusion_matrix": cm.tolist(),
    }
