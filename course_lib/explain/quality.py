"""Map quality as numbers, with the metrics pytorch_grad_cam ships.

* **ROAD** (Rong et al., ICML 2022, "A Consistent and Efficient Evaluation Strategy for
  Attribution Methods"): remove the most relevant pixels (MoRF) or the least relevant ones
  (LeRF) by a noisy linear imputation, at several percentiles, and look at the class
  probability. ``ROADCombined = (LeRF drop - MoRF drop) / 2`` averaged over percentiles: higher
  means the map points at pixels the model really needs.
* **Confidence change** (pytorch_grad_cam's ``CamMultImageConfidenceChange``): multiply the image
  by the map and measure the change of the class probability; closer to zero (or positive) means
  the map kept what matters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.metrics.road import ROADCombined
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn


def cam_quality(
    model: nn.Module,
    inputs: torch.Tensor,
    cams: np.ndarray,
    classes: Sequence[int],
    percentiles: Sequence[int] = (20, 40, 60, 80),
    seed: int = 0,
) -> dict[str, float]:
    """Mean ROAD-combined score and mean confidence change of ``cams`` over the images."""
    model.eval()
    device = next(model.parameters()).device
    inputs = inputs.to(device)
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in classes]
    torch.manual_seed(seed)  # ROAD's imputation adds noise
    road = ROADCombined(percentiles=list(percentiles))(inputs, cams, targets, model)
    change = CamMultImageConfidenceChange()(inputs, cams, targets, model)
    return {"road_combined": float(np.mean(road)), "confidence_change": float(np.mean(change))}
