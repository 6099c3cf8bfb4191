"""Explanations: GradCAM / GradCAM++ (library and from scratch), map quality per image with
baseline maps, the randomisation sanity check, LIME with superpixels, agreement of maps, and the
statistics of the attention modules' gates."""

from .agreement import region_agreement, region_means
from .baselines import blob_maps, centre_blob, random_maps
from .cam import CAM_METHODS, compute_cam, overlay, plot_cam_grid
from .from_scratch import ScratchCAM, ScratchGradCAM, ScratchGradCAMPlusPlus
from .gates import GateStats, format_gate_table, gate_statistics
from .lime import SOURCE_002, grid_segments, lime_explanation, superpixel_segments
from .quality import road_scores
from .query_dependence import (
    KeyConcentration,
    QueryDependence,
    attention_share,
    key_concentration,
    query_dependence,
    self_attention_maps,
)
from .sanity import (
    alexnet_cascade,
    cascading_randomisation,
    gradcam_explainer,
    randomise_layers,
    spearman,
    spearman_per_image,
)
from .target_layers import target_layer

__all__ = [
    "CAM_METHODS",
    "GateStats",
    "KeyConcentration",
    "QueryDependence",
    "SOURCE_002",
    "ScratchCAM",
    "ScratchGradCAM",
    "ScratchGradCAMPlusPlus",
    "alexnet_cascade",
    "attention_share",
    "blob_maps",
    "cascading_randomisation",
    "centre_blob",
    "compute_cam",
    "format_gate_table",
    "gate_statistics",
    "gradcam_explainer",
    "grid_segments",
    "key_concentration",
    "lime_explanation",
    "overlay",
    "plot_cam_grid",
    "query_dependence",
    "self_attention_maps",
    "random_maps",
    "randomise_layers",
    "region_agreement",
    "region_means",
    "road_scores",
    "spearman",
    "spearman_per_image",
    "superpixel_segments",
    "target_layer",
]
