"""Decode once, then load the decoded tensors from ``data/cache`` in about a second."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..runtime.atomic import atomic_save
from ..runtime.paths import data_dir
from .dataset import ImageDataset
from .image_folder import IMAGE_SUFFIXES

CACHE_VERSION = 1
FIELDS = ("train_images", "train_labels", "test_images", "test_labels")


def cache_path(source: Path, **options) -> Path:
    """A cache file named after the source and keyed by what it holds: an archive's path, size
    and mtime; a folder's manifest (every image's name, size and mtime), since adding or
    replacing an image changes neither the folder's own size nor, below the top, its mtime."""
    source = source.resolve()
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        content = [(str(p.relative_to(source)), *_size_and_mtime(p)) for p in files]
    else:
        content = _size_and_mtime(source)
    key = json.dumps([CACHE_VERSION, str(source), content, sorted(options.items())])
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    stem = source.name.split(".")[0] or "dataset"
    return data_dir() / "cache" / f"{stem}-{digest}.pt"


def _size_and_mtime(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


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
