"""Class-balanced subsets (for the small profiles) and the validation hold-out."""

from __future__ import annotations

import torch

from .dataset import ImageDataset, channel_stats


def balanced_indices(labels: torch.Tensor, total: int, seed: int = 0) -> torch.Tensor:
    """``total`` indices with (as nearly as possible) the same number from every class."""
    classes = labels.unique()
    if total < len(classes):
        raise ValueError(f"a balanced subset needs at least one image per class ({len(classes)})")
    generator = torch.Generator().manual_seed(seed)
    per_class, extra = divmod(total, len(classes))
    chosen = []
    for i, cls in enumerate(classes):
        idx = (labels == cls).nonzero().flatten()
        want = per_class + (1 if i < extra else 0)
        if want > len(idx):
            raise ValueError(f"class {int(cls)} has only {len(idx)} images; asked for {want}")
        chosen.append(idx[torch.randperm(len(idx), generator=generator)[:want]])
    return torch.cat(chosen).sort().values


def calibration_images(data: ImageDataset, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` training images, the same number from every class, a fixed draw: the images on
    which BatchNorm statistics are recomputed. Never the first ``n``: a class-balanced subset is
    stored class by class, so its first 2,000 images are two classes (1,600 airplanes and 400
    automobiles in the quick profile's 16,000), whose statistics are no one's."""
    n = min(n, len(data.train_labels))
    return data.train_images[balanced_indices(data.train_labels, n, seed)]


def balanced_subset(
    data: ImageDataset, train: int | None, test: int | None, seed: int = 0
) -> ImageDataset:
    """A copy of ``data`` with ``train`` / ``test`` images per split (None keeps a split whole).

    The validation split and the normalisation statistics are kept as they are.
    """
    train_x, train_y, test_x, test_y = (
        data.train_images,
        data.train_labels,
        data.test_images,
        data.test_labels,
    )
    if train is not None and train < len(train_y):
        idx = balanced_indices(train_y, train, seed)
        train_x, train_y = train_x[idx], train_y[idx]
    if test is not None and test < len(test_y):
        idx = balanced_indices(test_y, test, seed)
        test_x, test_y = test_x[idx], test_y[idx]
    return ImageDataset(
        train_x, train_y, test_x, test_y, data.classes, data.source, data.mean, data.std,
        data.val_images, data.val_labels,
    )  # fmt: skip


def hold_out_validation(data: ImageDataset, size: int, seed: int = 0) -> ImageDataset:
    """Move ``size`` class-balanced training images into a validation split.

    The split depends on ``seed`` alone (not on a run's seed), so every run of the course is
    selected on the same images; the normalisation statistics are recomputed on what remains
    for training, so nothing of the validation images leaks into the inputs.
    """
    if data.has_val:
        raise ValueError("this dataset has a validation split already")
    if size >= len(data.train_labels):
        raise ValueError(
            f"val_size {size} leaves no training images (the training split has "
            f"{len(data.train_labels)}); choose a smaller val_size"
        )
    val = balanced_indices(data.train_labels, size, seed)
    keep = torch.ones(len(data.train_labels), dtype=torch.bool)
    keep[val] = False
    train_x = data.train_images[keep]
    mean, std = channel_stats(train_x)
    return ImageDataset(
        train_x, data.train_labels[keep], data.test_images, data.test_labels, data.classes,
        data.source, mean, std, data.train_images[val], data.train_labels[val],
    )  # fmt: skip
