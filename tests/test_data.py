"""The data pipeline: sources, cache, errors, your own folders, subsets and augmentation."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data import (
    BatchAugment,
    DatasetError,
    EvalTransform,
    TensorImageDataset,
    balanced_indices,
    balanced_subset,
    calibration_images,
    load_cifar10,
    load_image_folder,
    pil_train_transform,
)
from course_lib.data.cache import cache_path, load_cache

from .conftest import cifar_source


def test_cifar10_from_offline_archive(cifar_full):
    d = cifar_full
    assert d.train_images.shape == (50000, 3, 32, 32) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (10000, 3, 32, 32)
    assert d.classes[:3] == ["airplane", "automobile", "bird"] and d.num_classes == 10
    assert torch.bincount(d.train_labels).tolist() == [5000] * 10
    assert torch.bincount(d.test_labels).tolist() == [1000] * 10
    # the archive's documented statistics (shared/README.md)
    assert d.mean == pytest.approx((0.4913, 0.4821, 0.4465), abs=2e-4)
    assert d.std == pytest.approx((0.2452, 0.2428, 0.2606), abs=2e-4)


def test_cache_holds_the_decoded_tensors(cifar_full):
    from pathlib import Path

    cached = load_cache(cache_path(Path(cifar_source())))
    assert cached is not None, "the first load must write a cache under data/cache"
    assert torch.equal(cached.test_images, cifar_full.test_images)
    assert torch.equal(cached.train_labels, cifar_full.train_labels)


def test_missing_dataset_names_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("course_lib.data.cifar10.repo_root", lambda: tmp_path / "repo")
    with pytest.raises(DatasetError) as err:
        load_cifar10(download=False)
    message = str(err.value)
    assert str(tmp_path / "data" / "cifar10-jpeg.tar.gz") in message
    assert str(tmp_path / "shared" / "data" / "cifar10-jpeg.tar.gz") in message
    assert "COURSE_DOWNLOAD=0" in message and "COURSE_DATA" in message


def test_explicit_missing_source_is_reported(tmp_path):
    with pytest.raises(DatasetError, match="nowhere.tar.gz"):
        load_cifar10(tmp_path / "nowhere.tar.gz", download=False)


def test_corrupt_archive_says_what_to_do(tmp_path):
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(b"this is not a gzip file")
    with pytest.raises(DatasetError, match="not a readable .tar.gz"):
        load_cifar10(bad, download=False, use_cache=False)


def _png(color, size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_own_folder_without_split_is_split_per_class(tmp_path):
    for c, cls in enumerate(["cats", "dogs", "owls"]):
        (tmp_path / cls).mkdir()
        for i in range(10):
            size = (20 + i, 30)  # photos come in different sizes
            (tmp_path / cls / f"{i}.png").write_bytes(_png((80 * c, i, 0), size))
    with pytest.raises(DatasetError, match="size=N"):
        load_image_folder(tmp_path)
    d = load_image_folder(tmp_path, size=16, test_fraction=0.2)
    assert d.classes == ["cats", "dogs", "owls"]
    assert d.train_images.shape[1:] == (3, 16, 16)
    assert torch.bincount(d.test_labels).tolist() == [2, 2, 2]
    assert torch.bincount(d.train_labels).tolist() == [8, 8, 8]


def test_archive_with_split_and_prefix(tmp_path):
    archive = tmp_path / "mini.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split, n in [("train", 4), ("test", 2)]:
            for cls in ["a", "b"]:
                for i in range(n):
                    data = _png((10, 20, 30), (8, 8))
                    info = tarfile.TarInfo(f"mini/{split}/{cls}/{i}.png")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    d = load_cifar10(archive, download=False)
    assert len(d.train_labels) == 8 and len(d.test_labels) == 4
    assert d.train_images[0, :, 0, 0].tolist() == [10, 20, 30]


def test_balanced_subset(cifar_full):
    small = balanced_subset(cifar_full, 250, 30, seed=1)
    assert torch.bincount(small.train_labels).tolist() == [25] * 10
    assert sorted(torch.bincount(small.test_labels).tolist()) == [3] * 10
    assert small.mean == cifar_full.mean  # statistics stay those of the full training set
    with pytest.raises(ValueError, match="at least one image per class"):
        balanced_subset(cifar_full, 5, None)


def test_calibration_images_cover_every_class_where_the_first_images_do_not(cifar_small):
    """A balanced subset is stored class by class: its first images are one class, and BatchNorm
    statistics recomputed on them would be that class's. The calibration sample is balanced."""
    d = cifar_small
    assert torch.bincount(d.train_labels[:100], minlength=10).max() >= 32  # the trap
    chosen = balanced_indices(d.train_labels, 100, seed=0)
    assert torch.bincount(d.train_labels[chosen], minlength=10).tolist() == [10] * 10
    assert torch.equal(calibration_images(d, 100), d.train_images[chosen])
    assert len(calibration_images(d, 10_000)) == len(d.train_labels)  # capped at the split


def test_augment_without_randomness_is_the_eval_transform(cifar_small):
    d = cifar_small
    x = d.train_images[:8]
    still = BatchAugment(32, d.mean, d.std, scale=(1, 1), ratio=(1, 1), flip=0.0, degrees=0.0,
                         brightness=0.0, contrast=0.0, saturation=0.0)  # fmt: skip
    assert torch.allclose(still(x), EvalTransform(32, d.mean, d.std)(x), atol=1e-5)
    flip = BatchAugment(32, d.mean, d.std, scale=(1, 1), ratio=(1, 1), flip=1.0, degrees=0.0,
                        brightness=0.0, contrast=0.0, saturation=0.0)  # fmt: skip
    assert torch.allclose(flip(x), EvalTransform(32, d.mean, d.std)(x).flip(-1), atol=1e-5)


def test_augment_draws_per_image_parameters(cifar_small):
    d = cifar_small
    aug = BatchAugment(64, d.mean, d.std)
    batch = d.train_images[:1].repeat(6, 1, 1, 1)
    out = aug(batch, torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 64, 64) and out.dtype == torch.float32
    differences = [(out[0] - out[i]).abs().mean() for i in range(1, 6)]
    assert min(differences) > 1e-2, "the same image must be augmented differently in a batch"
    again = aug(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out, again), "same generator seed, same batch"


def test_affine_matrices_follow_the_recipe_ranges():
    aug = BatchAugment(64, (0, 0, 0), (1, 1, 1))
    theta = aug.affine_matrices(20000, torch.Generator().manual_seed(0))
    linear = theta[:, :, :2]
    area = linear.det().abs()  # |det| = w * h: the crop's share of the image area
    assert area.min() >= 0.6 * 0.75 - 1e-4  # aspect clamping can shrink it a little
    assert area.max() <= 1.0 + 1e-5
    flips = (linear.det() < 0).float().mean()
    assert abs(float(flips) - 0.5) < 0.02


def test_pil_pipeline_produces_the_same_shapes(cifar_small):
    d = cifar_small
    ds = TensorImageDataset(d.train_images, d.train_labels, pil_train_transform(64, d.mean, d.std))
    x, y = ds[0]
    assert x.shape == (3, 64, 64) and int(y) == int(d.train_labels[0])
    assert np.isfinite(x.numpy()).all()
