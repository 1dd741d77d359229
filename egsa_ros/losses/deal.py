"""DEAL: depth-edge alignment loss between segmentation probabilities and depth.

For an image with class-probability maps ``a_k = softmax(logits)_k`` and depth ``d``:

1. Edge maps are Sobel gradient magnitudes ``e = sqrt(gx^2 + gy^2 + 1e-12)`` (Sobel / 8, see
   :func:`egsa_ros.losses.depth.sobel_gradients`, replicate padding), one per class and one for
   depth.
2. Each edge map is normalised per image (and per class) to [0, 1) by dividing by its maximum
   over the image (over the usable pixels when a depth ``valid`` mask is given) plus ``tau``:
   ``e_hat = e / (max(e) + tau)``. ``tau`` keeps flat maps (no edges at all) near 0 instead of
   blowing their noise up to 1.
3. ``e_hat`` is clamped to ``[eps, 1 - eps]`` and squashed:
   ``a'_k = tanh(mu + logit(a_hat_k))``, ``d' = tanh(mu + logit(d_hat))`` (mu = 2.5 by
   default). Values are in (-1, 1): positive on edges (normalised edge strength above
   ``sigmoid(-mu)`` ~ 0.076), negative on flat areas.
4. ``L = -1/|P| * sum_{ij in P} (1 / sum_k y_k) * sum_k y_k * a'_kij * d'_ij`` where ``y`` (B, K)
   are the image-level (multi-hot) labels and P the usable pixels (all pixels, or the pixels
   whose 3x3 depth neighbourhood is valid). Agreement (edge/edge or flat/flat) gives +1 per
   pixel, disagreement -1, so L lies in (-1, 1) and its infimum is -1.

Per-image values are averaged over the images with ``sum_k y_k > 0`` and at least one usable
pixel; the others contribute nothing. With no such image the loss is 0 with a gradient path.
"""

from __future__ import annotations

import torch

from .depth import erode_mask, sanitize, sobel_gradients

__all__ = ["image_level_labels", "normalised_edge_map", "deal_loss"]


def image_level_labels(labels: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """Multi-hot image-level labels from dense labels.

    Args:
        labels: (B, H, W) int64 class indices; ``ignore_index`` and any value outside
            ``[0, num_classes)`` are ignored.
        num_classes: K.
        ignore_index: label value to ignore.

    Returns:
        (B, K) float32, 1 where the class occurs at least once in the image, else 0.
    """
    b = labels.shape[0]
    lab = labels.reshape(b, -1).long()
    ok = (lab != ignore_index) & (lab >= 0) & (lab < num_classes)
    lab = torch.where(ok, lab, torch.full_like(lab, num_classes))
    y = torch.zeros(b, num_classes + 1, dtype=torch.float32, device=labels.device)
    y.scatter_(1, lab, 1.0)
    return y[:, :num_classes]


def normalised_edge_map(x: torch.Tensor, region: torch.Tensor | None = None, tau: float = 1e-3) -> torch.Tensor:
    """Sobel edge magnitude of each channel divided by its per-image maximum plus ``tau``.

    Args:
        x: (B, C, H, W) finite values (probabilities or metres).
        region: optional (B, 1, H, W) bool; the maximum is taken over this region only.
        tau: added to the maximum (units of ``x`` per pixel).

    Returns:
        (B, C, H, W) values in [0, 1).
    """
    gx, gy = sobel_gradients(x)
    e = torch.sqrt(gx * gx + gy * gy + 1e-12)
    em = e if region is None else torch.where(region.expand_as(e), e, torch.zeros_like(e))
    mx = em.flatten(2).amax(dim=2)[:, :, None, None]
    return e / (mx + tau)


def deal_loss(
    seg_logits: torch.Tensor,
    depth: torch.Tensor,
    y: torch.Tensor,
    mu: float = 2.5,
    valid: torch.Tensor | None = None,
    eps: float = 1e-4,
    tau: float = 1e-3,
) -> torch.Tensor:
    """Depth-edge alignment loss (see the module docstring for the formula).

    Args:
        seg_logits: (B, K, H, W) segmentation logits.
        depth: (B, 1, H, W) depth in metres (prediction or target; gradients flow into both
            inputs; detach one of them to align only the other).
        y: (B, K) image-level multi-hot labels (see :func:`image_level_labels`).
        mu: shift of the logit before the tanh squashing (default 2.5).
        valid: optional (B, 1, H, W) bool mask of usable depth; pixels whose 3x3 depth
            neighbourhood is not fully valid are left out (NaN depth there is harmless).
        eps: edge values are clamped to ``[eps, 1 - eps]`` before the logit.
        tau: see :func:`normalised_edge_map`.

    Returns:
        Scalar tensor in (-1, 1); lower is better aligned.
    """
    b, k, h, w = seg_logits.shape
    probs = torch.softmax(seg_logits, dim=1)
    if valid is not None:
        depth, v = sanitize(depth, valid)
        region = erode_mask(v, 3)
    else:
        region = torch.ones(b, 1, h, w, dtype=torch.bool, device=depth.device)
    a_hat = normalised_edge_map(probs, None, tau)
    d_hat = normalised_edge_map(depth, None if valid is None else region, tau)
    a_p = torch.tanh(mu + torch.logit(a_hat.clamp(eps, 1.0 - eps)))
    d_p = torch.tanh(mu + torch.logit(d_hat.clamp(eps, 1.0 - eps)))
    y = y.to(a_p.dtype)
    ysum = y.sum(dim=1)  # (B,)
    weights = (y / ysum.clamp(min=1e-12).unsqueeze(1))[:, :, None, None]  # (B,K,1,1)
    per_px = (weights * a_p).sum(dim=1, keepdim=True) * d_p  # (B,1,H,W)
    per_px = torch.where(region, per_px, torch.zeros_like(per_px))
    n = region.reshape(b, -1).sum(dim=1)
    per_image = -per_px.reshape(b, -1).sum(dim=1) / n.clamp(min=1).to(per_px.dtype)
    use = ((ysum > 0) & (n > 0)).to(per_px.dtype)
    return (per_image * use).sum() / use.sum().clamp(min=1.0)
