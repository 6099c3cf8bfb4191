"""Read an image-folder tree, or a .tar.gz of one, into uint8 tensors.

Two layouts are understood:

* with a split: ``[prefix/]train/<class>/<image>`` and ``[prefix/]test/<class>/<image>``
  (``val`` is accepted for ``test``), as in ``cifar10-jpeg.tar.gz``;
* without one: ``<class>/<image>``; the images are then split into train and test per class
  with a fixed seed, so that every class keeps its share in both.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .dataset import ImageDataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_NAMES = {"train": "train", "test": "test", "val": "test", "valid": "test"}


class DatasetError(RuntimeError):
    """A dataset is missing, empty or unreadable; the message says how to fix it."""


def _entries_from_dir(root: Path) -> Iterator[tuple[PurePosixPath, object]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield PurePosixPath(path.relative_to(root).as_posix()), path


def _entries_from_tar(archive: Path) -> Iterator[tuple[PurePosixPath, object]]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if member.isfile() and name.suffix.lower() in IMAGE_SUFFIXES:
                    if any(part.startswith(".") for part in name.parts):
                        continue  # macOS resource forks and hidden files
                    yield name, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DatasetError(
            f"{archive} is not a readable .tar.gz ({err}). Download it again or point "
            "COURSE_DATA at another copy."
        ) from err


def _locate(name: PurePosixPath) -> tuple[str | None, str]:
    """(split or None, class name) from a path inside the tree."""
    parts = name.parts
    if len(parts) >= 3 and parts[-3].lower() in SPLIT_NAMES:
        return SPLIT_NAMES[parts[-3].lower()], parts[-2]
    if len(parts) >= 2:
        return None, parts[-2]
    raise DatasetError(f"image {name} is not inside a class folder (<class>/<image>)")


def _decode(data: object, size: int | None, name: PurePosixPath) -> np.ndarray:
    try:
        image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        image = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise DatasetError(f"cannot decode image {name}: {err}. Remove or replace it.") from err
    if size is not None and image.size != (size, size):
        # shorter side to `size`, then a centre crop: keeps the aspect ratio of photos
        scale = size / min(image.size)
        w, h = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((w, h), Image.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8)


def read_image_folder(
    path: str | Path,
    size: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ImageDataset:
    """Decode every image under ``path`` (a folder or a .tar.gz) into an :class:`ImageDataset`.

    Args:
        path: the folder or archive.
        size: resize every image to ``size`` x ``size`` (shorter side, then centre crop).
            ``None`` keeps the original size, which must then be the same for all images.
        test_fraction: share of each class held out for testing when the tree has no split.
        seed: seed of that split.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    entries = _entries_from_dir(path) if path.is_dir() else _entries_from_tar(path)

    images: dict[str | None, list[np.ndarray]] = {}
    labels: dict[str | None, list[str]] = {}
    for name, data in entries:
        split, cls = _locate(name)
        array = _decode(data, size, name)
        images.setdefault(split, []).append(array)
        labels.setdefault(split, []).append(cls)
    if not images:
        raise DatasetError(
            f"no images found in {path}; expected train/<class>/<image> and "
            "test/<class>/<image>, or <class>/<image>"
        )
    shapes = {a.shape for arrays in images.values() for a in arrays}
    if len(shapes) > 1:
        raise DatasetError(
            f"images in {path} have different sizes {sorted(shapes)[:4]}...; pass size=N "
            "to resize them all to N x N"
        )

    classes = sorted({c for names in labels.values() for c in names})
    index = {c: i for i, c in enumerate(classes)}

    def stack(split):
        x = torch.from_numpy(np.stack(images[split])).permute(0, 3, 1, 2).contiguous()
        y = torch.tensor([index[c] for c in labels[split]], dtype=torch.int64)
        return x, y

    if "train" in images and "test" in images:
        train_x, train_y = stack("train")
        test_x, test_y = stack("test")
    else:
        all_x, all_y = stack(next(iter(images)))
        train_idx, test_idx = stratified_split(all_y, test_fraction, seed)
        train_x, train_y = all_x[train_idx], all_y[train_idx]
        test_x, test_y = all_x[test_idx], all_y[test_idx]
    check_classes(classes, train_y, test_y, path)
    return ImageDataset(train_x, train_y, test_x, test_y, classes, source=str(path))


def check_classes(
    classes: list[str], train_labels: torch.Tensor, test_labels: torch.Tensor, source: object
) -> None:
    """Refuse a dataset a classifier cannot be trained and tested on: fewer than two classes,
    or a class without training or test images."""
    if len(classes) < 2:
        raise DatasetError(
            f"{source} has {len(classes)} class folder ({', '.join(classes)}); a classifier "
            "needs at least two: <class>/<image> for each class"
        )
    for split, labels in (("train", train_labels), ("test", test_labels)):
        missing = [c for i, c in enumerate(classes) if not bool((labels == i).any())]
        if missing:
            raise DatasetError(
                f"{source}: class(es) {', '.join(missing)} have no {split} images; add "
                f"{split}/<class>/<image> files for every class, or remove the class"
            )


def stratified_split(
    labels: torch.Tensor, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a train/test split that keeps each class's share (at least one test image)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for cls in labels.unique():
        idx = (labels == cls).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        if len(idx) < 2:
            raise DatasetError(f"class {int(cls)} has {len(idx)} image; need two to split")
        n_test = min(len(idx) - 1, max(1, round(len(idx) * test_fraction)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values
