"""Per-image map quality, baseline maps, the randomisation sanity check, region agreement and
LIME with superpixels: exact properties, no trained model needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.explain import (
    SOURCE_002,
    alexnet_cascade,
    blob_maps,
    cascading_randomisation,
    centre_blob,
    compute_cam,
    grid_segments,
    lime_explanation,
    random_maps,
    randomise_layers,
    region_agreement,
    region_means,
    road_scores,
    spearman,
    spearman_per_image,
    superpixel_segments,
)
from course_lib.models import build_model


@pytest.mark.parametrize("size", [7, 8, 64])
def test_centre_blob_is_centred_and_normalised(size):
    blob = centre_blob(size)
    assert blob.shape == (size, size)
    assert blob.min() == pytest.approx(0.0) and blob.max() == pytest.approx(1.0)
    np.testing.assert_allclose(blob, blob[::-1, :], atol=1e-7)  # symmetric about the centre
    np.testing.assert_allclose(blob, blob.T, atol=1e-7)
    centre = np.unravel_index(np.argmax(blob), blob.shape)
    assert all(abs(c - (size - 1) / 2) <= 0.5 for c in centre)
    assert blob_maps(3, size).shape == (3, size, size)


def test_random_maps_are_reproducible_and_in_unit_range():
    a, b, c = random_maps(4, 32, seed=1), random_maps(4, 32, seed=1), random_maps(4, 32, seed=2)
    assert a.shape == (4, 32, 32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.allclose(a.reshape(4, -1).min(1), 0) and np.allclose(a.reshape(4, -1).max(1), 1)


def test_road_scores_have_one_value_per_image_and_are_reproducible():
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    x = torch.randn(3, 3, 64, 64)
    classes = [1, 2, 3]
    cams = compute_cam(model, x, "gradcam", classes)
    first = road_scores(model, x, cams, classes, percentiles=(50,), batch_size=2)
    again = road_scores(model, x, cams, classes, percentiles=(50,), batch_size=1)
    for key in ("road_combined", "confidence_change"):
        assert first[key].shape == (3,)
        assert np.all(np.abs(first[key]) <= 1)
    np.testing.assert_allclose(first["confidence_change"], again["confidence_change"], atol=1e-6)
    with pytest.raises(ValueError):
        road_scores(model, x, cams[:2], classes)  # one map short


def test_spearman_of_a_map_with_itself_and_its_monotone_transform_is_one():
    rng = np.random.default_rng(0)
    m = rng.random((16, 16))
    assert spearman(m, m) == pytest.approx(1.0)
    assert spearman(m, np.exp(3 * m)) == pytest.approx(1.0)
    assert spearman(m, -m) == pytest.approx(-1.0)
    assert np.isnan(spearman(m, np.ones_like(m)))
    maps = rng.random((3, 8, 8))
    np.testing.assert_allclose(spearman_per_image(maps, maps**2), 1.0)


def test_region_agreement_is_one_for_monotone_transforms():
    rng = np.random.default_rng(1)
    segments = grid_segments(32, 4).numpy()
    m = rng.random((32, 32))
    assert region_agreement(m, 2.5 * m + 1.0, segments) == pytest.approx(1.0)  # affine: exact
    piecewise = rng.random(16)[segments]  # constant per region, as LIME's weights
    assert region_agreement(piecewise, np.log1p(piecewise) ** 3, segments) == pytest.approx(1.0)
    means = region_means(piecewise, segments)
    assert means.shape == (16,)
    np.testing.assert_allclose(means, piecewise.reshape(4, 8, 4, 8).mean(axis=(1, 3)).ravel())


def test_randomise_layers_changes_exactly_those_layers():
    torch.manual_seed(0)
    model = build_model("alexnet", attention="se", image_size=64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = ["classifier.7", "features.conv5", "features.attn5"]
    broken = randomise_layers(model, names, seed=3)
    for key, value in broken.state_dict().items():
        changed = not torch.equal(value, before[key])
        inside = any(key.startswith(n + ".") for n in names)
        assert changed == inside, key
    for key, value in model.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[key])
    with pytest.raises(KeyError):
        randomise_layers(model, ["features.conv9"])


def test_alexnet_cascade_goes_from_the_output_down():
    model = build_model("alexnet", attention="cbam", image_size=64)
    steps = alexnet_cascade(model)
    assert [s for s, _ in steps] == ["fc3", "fc2", "fc1", "conv5", "conv4", "conv3", "conv2",
                                     "conv1"]  # fmt: skip
    assert steps[0][1] == ["classifier.7"]
    assert steps[3][1] == ["features.conv5", "features.attn5"]


def test_cascading_randomisation_gives_per_image_correlations():
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    x = torch.randn(3, 3, 64, 64)
    out = cascading_randomisation(model, x, [0, 1, 2], steps=alexnet_cascade(model)[:2])
    assert list(out) == ["fc3", "fc2"]
    assert all(v.shape == (3,) for v in out.values())
    same = cascading_randomisation(model, x, [0, 1, 2], steps=[("nothing", [])])
    finite = same["nothing"][np.isfinite(same["nothing"])]  # NaN: a constant (all-zero) map
    assert len(finite) >= 1
    np.testing.assert_allclose(finite, 1.0)  # no layer randomised: identical maps


class OneRegion(nn.Module):
    """A classifier whose class-3 score is the mean of the top-left quadrant, nothing else."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = torch.zeros(len(x), 10)
        scores[:, 3] = x[:, :, :16, :16].mean(dim=(1, 2, 3))
        return scores

    def parameters(self, recurse: bool = True):
        yield torch.zeros(1)


@pytest.mark.parametrize("linear_model", ["ridge", "lasso"])
def test_lime_ranks_the_only_region_the_model_looks_at_first(linear_model):
    weights = lime_explanation(OneRegion(), torch.ones(3, 32, 32), target=3, cells=2,
                               samples=60, linear_model=linear_model)  # fmt: skip
    regions = region_means(weights.numpy(), grid_segments(32, 2).numpy())
    assert int(np.argmax(regions)) == 0
    assert regions[0] > 0


def test_superpixels_cover_the_image_with_consecutive_ids():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    image = torch.stack([xx * 8, yy * 8, (xx + yy) * 4]).clamp(0, 255).to(torch.uint8)
    image[:, 8:24, 8:24] = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None, None]
    for method in ("slic", "quickshift"):
        segments = superpixel_segments(image, size=64, method=method, n_segments=20)
        assert segments.shape == (64, 64) and segments.dtype == torch.long
        ids = segments.unique()
        assert torch.equal(ids, torch.arange(len(ids))) and len(ids) >= 2
    with pytest.raises(ValueError):
        superpixel_segments(image, method="watershed")
    assert SOURCE_002 == {"segmentation": "quickshift", "samples": 10_000}


def test_lime_on_superpixels_is_constant_per_superpixel():
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    image = (torch.rand(3, 32, 32) * 255).to(torch.uint8)
    image[:, :16] = 30
    segments = superpixel_segments(image, size=64, method="quickshift")
    weights = lime_explanation(model, torch.randn(3, 64, 64), 1, segments=segments, samples=30)
    for s in segments.unique():
        assert weights[segments == s].unique().numel() == 1


def test_road_scores_are_cached_by_everything_that_determines_them(tmp_path, monkeypatch):
    import course_lib.explain.quality as quality

    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64, attention="batchnorm")  # with running stats
    x = torch.randn(2, 3, 64, 64)
    classes = [1, 2]
    cams = compute_cam(model, x, "gradcam", classes)
    first = road_scores(model, x, cams, classes, percentiles=(50,), cache_dir=tmp_path)
    assert len(list((tmp_path / "road").glob("*.npz"))) == 1

    class Refuse:
        def __init__(self, *args, **kwargs):
            raise AssertionError("computed again although cached")

    monkeypatch.setattr(quality, "ROADCombined", Refuse)
    again = road_scores(model, x, cams, classes, percentiles=(50,), cache_dir=tmp_path)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    monkeypatch.undo()
    # other maps, other classes or other weights are new keys, never the cached scores
    road_scores(
        model, x, random_maps(2, 64, seed=5), classes, percentiles=(50,), cache_dir=tmp_path
    )
    road_scores(model, x, cams, [3, 4], percentiles=(50,), cache_dir=tmp_path)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    road_scores(model, x, cams, classes, percentiles=(50,), cache_dir=tmp_path)
    assert len(list((tmp_path / "road").glob("*.npz"))) == 4
    assert not list((tmp_path / "road").glob(".*tmp*")), "no temporary file left"
