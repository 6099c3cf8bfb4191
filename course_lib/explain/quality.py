"""Map quality as numbers, per image, with the metrics pytorch_grad_cam ships.

* **ROAD** (Rong et al., ICML 2022, "A Consistent and Efficient Evaluation Strategy for
  Attribution Methods"): remove the most relevant pixels (MoRF) or the least relevant ones
  (LeRF) by a noisy linear imputation, at several percentiles, and look at the class
  probability. ``ROADCombined = (LeRF drop - MoRF drop) / 2`` averaged over percentiles: higher
  means the map points at pixels the model really needs.
* **Confidence change** (pytorch_grad_cam's ``CamMultImageConfidenceChange``): multiply the image
  by the map and measure the change of the class probability; closer to zero (or positive) means
  the map kept what matters.

:func:`road_scores` returns one score per image, so that two methods can be compared paired by
image (``course_lib.experiments.stats.paired_difference`` keyed by the image's index) with an
interval, instead of two means without spread. ROAD costs about a second per image and map on a
CPU; with ``cache_dir`` the scores are kept on disk, keyed by everything that determines them
(the weights, the images, the maps, the classes and the metric's settings), so a chapter
re-executed with its runs cached does not compute them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.metrics.road import ROADCombined
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn

from ..runtime.atomic import atomic_write_npz

PERCENTILES = (20, 40, 60, 80)


def road_scores(
    model: nn.Module,
    inputs: torch.Tensor,
    cams: np.ndarray,
    classes: Sequence[int],
    percentiles: Sequence[int] = PERCENTILES,
    seed: int = 0,
    batch_size: int = 64,
    cache_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Per-image ROAD-combined score and confidence change of ``cams`` (N, H, W) for the
    normalised ``inputs`` (N, 3, H, W) and the explained ``classes``: two arrays of length N.

    ROAD's imputation adds noise: the generator is seeded once with ``seed``, so the same call
    gives the same numbers, and two maps scored with the same seed meet the same noise draws.
    With ``cache_dir`` (a run's folder, say) the scores are read from, or written to,
    ``<cache_dir>/road/<key>.npz``, the key a hash of the model's weights, the inputs, the maps,
    the classes and the settings: any change computes them afresh.
    """
    if len(inputs) != len(cams) or len(inputs) != len(classes):
        raise ValueError(f"{len(inputs)} inputs, {len(cams)} maps, {len(classes)} classes")
    if cache_dir is not None:
        path = (
            Path(cache_dir)
            / "road"
            / f"{_road_key(model, inputs, cams, classes, percentiles, seed, batch_size)}.npz"
        )
        if path.exists():
            with np.load(path) as saved:
                return {key: saved[key] for key in ("road_combined", "confidence_change")}
        scores = road_scores(model, inputs, cams, classes, percentiles, seed, batch_size)
        atomic_write_npz(scores, path)
        return scores
    model.eval()
    device = next(model.parameters()).device
    road_metric = ROADCombined(percentiles=list(percentiles))
    change_metric = CamMultImageConfidenceChange()
    road, change = [], []
    torch.manual_seed(seed)
    for start in range(0, len(inputs), batch_size):
        x = inputs[start : start + batch_size].to(device)
        c = np.asarray(cams[start : start + batch_size], dtype=np.float32)
        targets = [ClassifierOutputSoftmaxTarget(int(k)) for k in classes[start : start + len(x)]]
        road.append(np.asarray(road_metric(x, c, targets, model), dtype=np.float64).reshape(-1))
        change.append(np.asarray(change_metric(x, c, targets, model), dtype=np.float64).reshape(-1))
    return {"road_combined": np.concatenate(road), "confidence_change": np.concatenate(change)}


def _road_key(
    model: nn.Module,
    inputs: torch.Tensor,
    cams: np.ndarray,
    classes: Sequence[int],
    percentiles: Sequence[int],
    seed: int,
    batch_size: int,
) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(
            tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    digest.update(inputs.detach().cpu().float().contiguous().numpy().tobytes())
    digest.update(np.ascontiguousarray(cams, dtype=np.float32).tobytes())
    settings = (list(map(int, classes)), list(percentiles), seed, batch_size, torch.__version__)
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:20]
