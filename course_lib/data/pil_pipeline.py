"""The source notebooks' per-image PIL pipeline (torchvision transforms in a DataLoader), for
comparison.

This is how the source notebooks feed their models: each image is turned into a PIL image,
transformed, converted back to a tensor and collated. It is correct and flexible, but on a 2-core
machine the Python work per image, not the model, sets the pace; :class:`~.augment.BatchAugment`
does the same on whole batches. ``python -m course_lib bench`` compares the two."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset
from torchvision import transforms as T


def pil_train_transform(image_size: int, mean: Sequence[float], std: Sequence[float]):
    """Source 000's training transform (without its Mixup), at ``image_size``."""
    return T.Compose(
        [
            T.ToPILImage(),
            T.Resize((image_size + image_size // 32, image_size + image_size // 32)),
            T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            T.RandomResizedCrop(image_size, scale=(0.6, 1.0)),
            T.RandomHorizontalFlip(0.5),
            T.RandomRotation(20),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


def pil_eval_transform(image_size: int, mean: Sequence[float], std: Sequence[float]):
    return T.Compose(
        [T.ToPILImage(), T.Resize((image_size, image_size)), T.ToTensor(), T.Normalize(mean, std)]
    )


class TensorImageDataset(Dataset):
    """uint8 (N, 3, H, W) images and labels, one transformed image per item."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = self.images[i]
        return (self.transform(image) if self.transform else image), self.labels[i]
