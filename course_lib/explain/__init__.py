"""Explanations: GradCAM / GradCAM++ maps, their target layers and overlays."""

from .cam import CAM_METHODS, compute_cam, overlay, plot_cam_grid
from .target_layers import target_layer

__all__ = ["CAM_METHODS", "compute_cam", "overlay", "plot_cam_grid", "target_layer"]
