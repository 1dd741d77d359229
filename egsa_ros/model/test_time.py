"""Run a network with its test-time options (:class:`~egsa_ros.model.inference_options.InferenceOptions`).

The network's own ``forward`` is one plain pass; mirrored averaging and the transparent-class
decision bias are applied here, the same way in validation, calibration and the exported
camera-frame graph.
"""

from __future__ import annotations

import torch
from torch import nn

from .inference_options import InferenceOptions


def predict(
    network: nn.Module,
    rgb: torch.Tensor,
    options: InferenceOptions,
    *,
    edge_phase: str | None = None,
    rgb_edges: torch.Tensor | None = None,
    K: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth and class logits of an eval-mode network under ``options``.

    Args:
        network: an :class:`~egsa_ros.model.net.EGSANet` in eval mode.
        rgb: (B, 3, H, W) float32, values 0..255.
        options: ``flip_average`` runs the mirrored batch too and averages depth and logits;
            ``transparent_logit_bias`` is added to the transparent class's logits
            (``mask_input_size`` concerns the camera-frame graph and is ignored here).
        edge_phase: ``rgb`` | ``depth`` | None (the config's inference phase).
        rgb_edges: optional (B, 1, H, W) {0, 1} edge map computed outside the graph.
        K: optional (B, 3, 3) intrinsics of ``rgb`` (pixels at H x W): a camera-aware network's
            depth is scaled to each frame's focal length (:func:`camera_depth_scale`).

    Returns:
        depth (B, 1, H, W) metres and logits (B, K, H, W).
    """
    if options.flip_average:
        n = rgb.shape[0]
        both = torch.cat([rgb, torch.flip(rgb, dims=[3])])
        edges = None if rgb_edges is None else torch.cat([rgb_edges, torch.flip(rgb_edges, dims=[3])])
        out = network(both, edge_phase=edge_phase, rgb_edges=edges)
        depth = 0.5 * (out.depth[:n] + torch.flip(out.depth[n:], dims=[3]))
        seg = 0.5 * (out.seg_logits[:n] + torch.flip(out.seg_logits[n:], dims=[3]))
    else:
        out = network(rgb, edge_phase=edge_phase, rgb_edges=rgb_edges)
        depth, seg = out.depth, out.seg_logits
    if options.transparent_logit_bias != 0.0:
        config = network.config
        offset = torch.zeros(config.num_classes, dtype=seg.dtype, device=seg.device)
        offset[config.transparent_class] = options.transparent_logit_bias
        seg = seg + offset.view(1, -1, 1, 1)
    if K is not None and options.canonical_focal is not None:
        depth = depth * camera_depth_scale(K, rgb.shape[-1], options).to(depth.dtype)
    return depth, seg


def camera_depth_scale(K: torch.Tensor, width: int, options: InferenceOptions) -> torch.Tensor:
    """(B, 1, 1, 1) factors from a camera-aware network's depth to metres for images of ``width``
    pixels with intrinsics ``K`` (B, 3, 3): ``((fx / width) / options.canonical_focal) **
    options.focal_exponent`` (ones when the network is not camera-aware; the canonical-view pass
    is the runtime pipeline's, not applied here). The torch twin of
    :meth:`~egsa_ros.model.inference_options.InferenceOptions.depth_scale`."""
    fx = K[:, 0, 0].to(torch.float32)
    if options.canonical_focal is None:
        return torch.ones_like(fx).view(-1, 1, 1, 1)
    return ((fx / float(width) / options.canonical_focal) ** options.focal_exponent).view(-1, 1, 1, 1)
