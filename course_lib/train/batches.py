"""One epoch of training batches: shuffled, augmented on the device, the same on every device.

The shuffle and every augmentation draw come from CPU generators seeded by (seed, epoch), and
only the drawn parameters move to the device: a run on a GPU sees exactly the images (up to
float rounding in ``grid_sample``) that the same run sees on a CPU, and a resumed run the same
as an uninterrupted one. Under data parallelism every rank draws the whole global batch and
keeps its own share, so the ranks together see the single-process batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..data import BatchAugment, EvalTransform


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle (the augmentation draws use the next integer)."""
    return seed * 1000 + epoch


def train_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    transform: BatchAugment | EvalTransform,
    batch_size: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (images, labels) for every full batch of one epoch (the last partial one is
    dropped, so every step has the same shape); ``images`` are uint8 on the training device."""
    device = images.device
    shuffle = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(len(labels), generator=shuffle).to(device)
    draws = torch.Generator().manual_seed(epoch_seed(seed, epoch) + 1)
    for start in range(0, len(labels) - batch_size + 1, batch_size):
        idx = order[start : start + batch_size]
        mine = idx[rank::world]
        if isinstance(transform, BatchAugment):
            params = transform.sample_params(batch_size, draws)  # the global batch's draws
            params = transform.select(params, slice(rank, None, world))
            params = {k: v.to(device, non_blocking=True) for k, v in params.items()}
            x = transform.apply(images[mine], params)
        else:
            x = transform(images[mine])
        yield x, labels[mine]
