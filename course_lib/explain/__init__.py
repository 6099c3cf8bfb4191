"""Explanations: GradCAM / GradCAM++ (library and from scratch), map quality, LIME."""

from .cam import CAM_METHODS, compute_cam, overlay, plot_cam_grid
from .from_scratch import ScratchCAM, ScratchGradCAM, ScratchGradCAMPlusPlus
from .lime import grid_segments, lime_explanation
from .quality import cam_quality
from .target_layers import target_layer

__all__ = [
    "CAM_METHODS",
    "ScratchCAM",
    "ScratchGradCAM",
    "ScratchGradCAMPlusPlus",
    "cam_quality",
    "compute_cam",
    "grid_segments",
    "lime_explanation",
    "overlay",
    "plot_cam_grid",
    "target_layer",
]
