"""CIFAR-10 from wherever it is: torchvision's files, an image-folder tree or a .tar.gz of one.

Where :func:`load_cifar10` looks, in order:

1. ``source`` (argument) or ``COURSE_DATA`` (environment), if given: a torchvision
   ``cifar-10-batches-py`` folder (or its parent), an image-folder tree, or a ``.tar.gz`` of one;
2. torchvision's standard files under ``data/`` (``data/cifar-10-batches-py``);
3. an archive or folder in ``data/`` (``cifar10-jpeg.tar.gz``, ``cifar10/``), then the course's
   offline copy ``../shared/data/cifar10-jpeg.tar.gz`` beside the repository;
4. a download by torchvision into ``data/`` (163 MB), unless ``download=False`` or
   ``COURSE_DOWNLOAD=0`` forbids it (CI and the tests do).

Decoded images are cached under ``data/cache``; the next load takes about a second.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..runtime.paths import data_dir, repo_root
from .cache import cache_path, load_cache, save_cache
from .dataset import ImageDataset
from .image_folder import DatasetError, read_image_folder
from .subset import balanced_subset, hold_out_validation

DATA_ENV = "COURSE_DATA"
DOWNLOAD_ENV = "COURSE_DOWNLOAD"
TORCHVISION_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def _is_torchvision_root(path: Path) -> bool:
    return (path / TORCHVISION_FOLDER / "batches.meta").exists()


def _load_torchvision(root: Path, download: bool) -> ImageDataset:
    from torchvision.datasets import CIFAR10

    def split(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        ds = CIFAR10(str(root), train=train, download=download)
        x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return x, torch.tensor(ds.targets, dtype=torch.int64)

    train_x, train_y = split(True)
    test_x, test_y = split(False)
    source = f"torchvision CIFAR-10 ({root / TORCHVISION_FOLDER})"
    return ImageDataset(train_x, train_y, test_x, test_y, list(CIFAR10_CLASSES), source)


def _candidates(source: str | Path | None) -> list[Path]:
    explicit = source or os.environ.get(DATA_ENV)
    if explicit:  # absolute, so that messages show which file was meant
        return [Path(os.path.abspath(Path(explicit).expanduser()))]
    root = data_dir()
    return [
        root,
        root / "cifar10-jpeg.tar.gz",
        root / "cifar10",
        repo_root().parent / "shared" / "data" / "cifar10-jpeg.tar.gz",
    ]


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() not in {"0", "false", "no"}


def _load_path(path: Path, use_cache: bool) -> ImageDataset:
    if path.name == TORCHVISION_FOLDER:
        path = path.parent
    if _is_torchvision_root(path):
        return _load_torchvision(path, download=False)
    cache = cache_path(path) if use_cache else None
    dataset = load_cache(cache) if cache else None
    if dataset is None:
        dataset = read_image_folder(path)
        if cache:
            save_cache(dataset, cache)
    return dataset


def _download(root: Path) -> ImageDataset:
    try:
        return _load_torchvision(root, download=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad checksum a RuntimeError
        (root / "cifar-10-python.tar.gz").unlink(missing_ok=True)  # a partial download
        reason = getattr(err, "reason", None) or err
        raise DatasetError(
            f"could not download CIFAR-10 into {root}: the network is unreachable ({reason}); "
            f"use a local copy: point {DATA_ENV} at cifar10-jpeg.tar.gz or a cifar-10-batches-py "
            f"folder, or copy one into {root}"
        ) from err


def locate_cifar10(source: str | Path | None = None, download: bool | None = None) -> Path | None:
    """Where :func:`load_cifar10` would load from: a path, or None for a download.

    Raises:
        DatasetError: nothing usable was found; the message lists every place tried.
    """
    tried = []
    for path in _candidates(source):
        if path.exists() and (path.is_file() or _is_torchvision_root(path) or path != data_dir()):
            return path
        tried.append(str(path))
    if not source and not os.environ.get(DATA_ENV):
        if _download_allowed(download):
            return None
        tried.append(
            f"download into {data_dir()} (not allowed: {DOWNLOAD_ENV}=0 or download=False)"
        )
    places = "\n  - ".join(tried)
    raise DatasetError(
        "CIFAR-10 was not found. Tried:\n  - " + places + "\nFix it with one of:\n"
        f"  * point {DATA_ENV} (or source=...) at cifar10-jpeg.tar.gz, an image-folder tree "
        "(train/<class>/*.jpg, test/<class>/*.jpg) or a cifar-10-batches-py folder;\n"
        f"  * copy such an archive to {data_dir() / 'cifar10-jpeg.tar.gz'};\n"
        f"  * allow a download (163 MB): unset {DOWNLOAD_ENV} or load_cifar10(download=True)."
    )


def load_cifar10(
    source: str | Path | None = None,
    *,
    download: bool | None = None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
    use_cache: bool = True,
    val_size: int | None = None,
) -> ImageDataset:
    """CIFAR-10 as uint8 tensors, with labels, class names and training-set statistics.

    Args:
        source: a path to load from (see the module docstring); default: search.
        download: allow torchvision to download into ``data/`` when nothing is found
            (default: yes, unless ``COURSE_DOWNLOAD=0``; never in tests or CI).
        train_subset, test_subset: keep this many images per split, class-balanced.
        seed: seed of the subsets.
        use_cache: read and write the decoded cache under ``data/cache``.
        val_size: hold this many class-balanced training images out as a validation split
            (always the same images: the split's seed is fixed); ``train_subset`` is then
            drawn from the rest.

    Raises:
        DatasetError: nothing usable was found (the message lists every place tried), or the
            download failed.
    """
    path = locate_cifar10(source, download)
    dataset = _load_path(path, use_cache) if path else _download(data_dir())
    if val_size:
        dataset = hold_out_validation(dataset, val_size)
    if train_subset is not None or test_subset is not None:
        dataset = balanced_subset(dataset, train_subset, test_subset, seed)
    return dataset


def load_course_data(profile, source: str | Path | None = None) -> ImageDataset:
    """CIFAR-10 as a profile asks for it (validation hold-out, class-balanced subsets): the one
    loader behind the notebooks, ``python -m course_lib train`` and the sweep."""
    return load_cifar10(
        source,
        train_subset=profile.train_subset,
        test_subset=profile.test_subset,
        seed=profile.seed,
        val_size=profile.val_size,
    )


def load_image_folder(
    path: str | Path,
    *,
    size: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    use_cache: bool = True,
) -> ImageDataset:
    """Your own dataset: a folder (or .tar.gz) of ``[train|test/]<class>/<image>``.

    Images of different sizes need ``size`` (each is resized to ``size`` x ``size``). A tree
    without a train/test split is split per class, ``test_fraction`` held out.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    if not path.exists():
        raise DatasetError(
            f"{path} does not exist; give a folder of <class>/<image> files or a .tar.gz of one"
        )
    options = dict(size=size, test_fraction=test_fraction, seed=seed)
    cache = cache_path(path, **options) if use_cache else None
    dataset = load_cache(cache) if cache else None
    if dataset is None:
        dataset = read_image_folder(path, size=size, test_fraction=test_fraction, seed=seed)
        if cache:
            save_cache(dataset, cache)
    return dataset
