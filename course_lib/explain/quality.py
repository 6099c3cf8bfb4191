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
interval, instead of two means without spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.metrics.road import ROADCombined
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn

PERCENTILES = (20, 40, 60, 80)


def road_scores(
    model: nn.Module,
    inputs: torch.Tensor,
    cams: np.ndarray,
    classes: Sequence[int],
    percentiles: Sequence[int] = PERCENTILES,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Per-image ROAD-combined score and confidence change of ``cams`` (N, H, W) for the
    normalised ``inputs`` (N, 3, H, W) and the explained ``classes``: two arrays of length N.

    ROAD's imputation adds noise: the generator is seeded once with ``seed``, so the same call
    gives the same numbers, and two maps scored with the same seed meet the same noise draws.
    """
    if len(inputs) != len(cams) or len(inputs) != len(classes):
        raise ValueError(f"{len(inputs)} inputs, {len(cams)} maps, {len(classes)} classes")
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
