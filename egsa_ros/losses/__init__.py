"""Training losses of the EGSA network.

Depth losses share the signature ``(pred, target, valid, K) -> scalar`` with ``pred``/``target``
(B, 1, H, W) metres, ``valid`` (B, 1, H, W) bool and ``K`` (B, 3, 3) pixels (ignored by the losses
that do not need it), so any of them can be plugged into :func:`egsa_total_loss`.
"""

from .deal import deal_loss, image_level_labels, normalised_edge_map
from .depth import (
    depth_mse,
    erode_mask,
    gradient_l1,
    masked_image_mean,
    modest_depth_loss,
    normal_l1,
    normals_from_depth,
    sanitize,
    sobel_gradients,
)
from .lovasz import lovasz_class_loss, lovasz_jaccard_weights
from .multiscale import DepthLossFn, MultiScaleLoss, egsa_total_loss, segmentation_ce
from .ot import mse_ot_loss, ot_depth_loss
from .weighted import gaussian_window, masked_ssim_map, ssim_loss, weighted_depth_loss

__all__ = [
    "DepthLossFn",
    "MultiScaleLoss",
    "deal_loss",
    "depth_mse",
    "egsa_total_loss",
    "erode_mask",
    "gaussian_window",
    "gradient_l1",
    "image_level_labels",
    "lovasz_class_loss",
    "lovasz_jaccard_weights",
    "masked_image_mean",
    "masked_ssim_map",
    "modest_depth_loss",
    "mse_ot_loss",
    "normal_l1",
    "normalised_edge_map",
    "normals_from_depth",
    "ot_depth_loss",
    "sanitize",
    "segmentation_ce",
    "sobel_gradients",
    "ssim_loss",
    "weighted_depth_loss",
]
