"""Decode once, then load the decoded tensors from ``data/cache`` in about a second."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..atomic import atomic_save
from ..paths import data_dir
from .dataset import ImageDataset

CACHE_VERSION = 1
FIELDS = ("train_images", "train_labels", "test_images", "test_labels")


def cache_path(source: Path, **options) -> Path:
    """A cache file named after the source and keyed by its path, size, mtime and options."""
    stat = source.stat()
    key = "|".join(
        map(
            str,
            (
                CACHE_VERSION,
                source.resolve(),
                stat.st_size,
                stat.st_mtime_ns,
                sorted(options.items()),
            ),
        )
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    stem = source.name.split(".")[0] or "dataset"
    return data_dir() / "cache" / f"{stem}-{digest}.pt"


def save_cache(dataset: ImageDataset, path: Path) -> None:
    """Write atomically, so that an interrupted write never leaves a half cache behind."""
    payload = {name: getattr(dataset, name) for name in FIELDS}
    payload.update(classes=dataset.classes, source=dataset.source)
    payload.update(mean=list(dataset.mean), std=list(dataset.std))
    atomic_save(payload, path)


def load_cache(path: Path) -> ImageDataset | None:
    """The cached dataset, or None when there is no usable cache (a broken one is removed)."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, weights_only=True)
        return ImageDataset(
            *(payload[name] for name in FIELDS),
            classes=list(payload["classes"]),
            source=payload["source"],
            mean=tuple(payload["mean"]),
            std=tuple(payload["std"]),
        )
    except Exception:  # a truncated or stale cache is rebuilt from the source
        path.unlink(missing_ok=True)
        return None
