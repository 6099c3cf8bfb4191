"""The in-memory dataset every chapter trains on: uint8 images, labels and class names."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ImageDataset:
    """Train, test and (optionally) validation images held as uint8 tensors of shape (N, 3, H, W).

    The validation split is held out of the training set (:func:`hold_out_validation`): the
    epoch to keep is chosen on it, so the test split is looked at once, at the end.

    Keeping the decoded images as one uint8 tensor (150 MB for CIFAR-10's training set) lets
    augmentation run on whole batches on the training device instead of image by image.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]
    source: str
    mean: tuple[float, ...] | None = None  # per channel, in [0, 1]; computed when not given
    std: tuple[float, ...] | None = None
    val_images: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if (self.val_images is None) != (self.val_labels is None):
            raise ValueError("val_images and val_labels go together: give both or neither")
        for name in ("train_images", "test_images", "val_images"):
            images = getattr(self, name)
            if images is None:
                continue
            if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(
                    f"{name} must be uint8 (N, 3, H, W); got {images.dtype} {tuple(images.shape)}"
                )
        if len(self.train_images) != len(self.train_labels) or len(self.test_images) != len(
            self.test_labels
        ):
            raise ValueError("every image needs exactly one label")
        if self.val_images is not None and len(self.val_images) != len(self.val_labels):
            raise ValueError("every validation image needs exactly one label")
        if self.mean is None or self.std is None:
            self.mean, self.std = channel_stats(self.train_images)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def has_val(self) -> bool:
        return self.val_labels is not None and len(self.val_labels) > 0

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; use 'train', 'val' or 'test'")
        if name == "val" and not self.has_val:
            raise ValueError("this dataset has no validation split; load it with val_size=N")
        return getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def __repr__(self) -> str:
        mean = ", ".join(f"{m:.4f}" for m in self.mean)
        std = ", ".join(f"{s:.4f}" for s in self.std)
        val = len(self.val_labels) if self.has_val else 0
        return (
            f"ImageDataset(train={len(self.train_labels)}, val={val}, "
            f"test={len(self.test_labels)}, "
            f"classes={self.num_classes}, image={self.image_shape}, source={self.source!r}, "
            f"mean=({mean}), std=({std}))"
        )


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple, tuple]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units."""
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    # a constant channel (a single-colour dataset) would divide by zero when normalising
    std = (total_sq / count - mean * mean).sqrt().clamp_min(1 / 255)
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())
