"""Total EGSA training loss over every decoder iteration and output scale.

``total = depth_weight * sum_{i,s} depth_loss(depth_all[i, s], ...)
        + seg_weight   * sum_{i,s} CE(seg_all[i, s], labels)
        + deal_weight  * sum_{i,s} DEAL(seg_all[i, s], depth_all[i, s])      (DEAL off by default)
        + transparent_depth_weight * sum_{i,s} depth_loss(depth_all[i, s], ...) on transparent
          pixels only``                                                        (off by default)

The transparent-pixel term is the same depth loss with ``valid`` narrowed to the pixels labelled
``transparent_class``; it is a per-image mean over those pixels, so a glass that covers 5 % of
the image weighs as much in it as one that covers half. It up-weights depth on glass, where a
depth camera fails and the all-pixel mean is dominated by table and wall.

The sums run over iterations and scales (they are not averaged), as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .deal import deal_loss, image_level_labels
from .depth import modest_depth_loss

__all__ = ["DepthLossFn", "segmentation_ce", "egsa_total_loss", "MultiScaleLoss"]

DepthLossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
"""Common depth-loss signature ``(pred, target, valid, K) -> scalar`` (all in :mod:`egsa_ros.losses`)."""

Stack = torch.Tensor | Sequence[Sequence[torch.Tensor]]


def segmentation_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int = 255,
    class_weights: torch.Tensor | None = None,
    pixel_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixel-wise cross-entropy averaged over non-ignored pixels of the batch.

    Unlike :func:`torch.nn.functional.cross_entropy` with ``reduction="mean"``, an all-ignored
    batch gives 0 (with a gradient path) instead of NaN. With ``class_weights`` the mean is the
    weighted mean (sum of weighted losses / sum of weights), as in PyTorch.

    Args:
        logits: (B, K, H, W).
        labels: (B, H, W) int64, ``ignore_index`` for unlabelled pixels.
        ignore_index: label to ignore.
        class_weights: optional (K,) float.
        pixel_weights: optional (B, H, W) float >= 0, multiplying each pixel's (class-weighted)
            loss and its share of the mean's denominator (e.g. hard negatives weighted up).

    Returns:
        Scalar tensor (nats).
    """
    labels = labels.long()
    if pixel_weights is not None:
        return _pixel_weighted_ce(logits, labels, ignore_index, class_weights, pixel_weights)
    total = F.cross_entropy(logits, labels, weight=class_weights, ignore_index=ignore_index, reduction="sum")
    keep = labels != ignore_index
    if class_weights is None:
        denom = keep.sum().to(total.dtype)
    else:
        safe = torch.where(keep, labels, torch.zeros_like(labels))
        denom = torch.where(
            keep, class_weights.to(total.dtype)[safe], torch.zeros((), dtype=total.dtype, device=total.device)
        ).sum()
    return torch.where(denom > 0, total / denom.clamp(min=1e-12), total * 0.0)


def _pixel_weighted_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int,
    class_weights: torch.Tensor | None,
    pixel_weights: torch.Tensor,
) -> torch.Tensor:
    """:func:`segmentation_ce` with per-pixel weights: sum(w_pixel w_class ce) / sum(w_pixel w_class)."""
    if pixel_weights.shape != labels.shape:
        raise ValueError(f"pixel_weights {tuple(pixel_weights.shape)} and labels {tuple(labels.shape)} differ")
    each = F.cross_entropy(logits, labels, weight=class_weights, ignore_index=ignore_index, reduction="none")
    keep = labels != ignore_index
    weight = torch.where(keep, pixel_weights.to(each.dtype), torch.zeros((), dtype=each.dtype, device=each.device))
    if class_weights is not None:
        safe = torch.where(keep, labels, torch.zeros_like(labels))
        weight = weight * class_weights.to(each.dtype)[safe]
    total = (each * pixel_weights.to(each.dtype)).sum()
    denom = weight.sum()
    return torch.where(denom > 0, total / denom.clamp(min=1e-12), total * 0.0)


def _at(stack: Stack, i: int, s: int) -> torch.Tensor:
    return stack[i][s]


def _shape_is(stack: Stack) -> tuple[int, int]:
    if isinstance(stack, torch.Tensor):
        if stack.dim() != 6:
            raise ValueError(f"expected a (I, S, B, C, H, W) tensor, got shape {tuple(stack.shape)}")
        return int(stack.shape[0]), int(stack.shape[1])
    n_i = len(stack)
    n_s = len(stack[0]) if n_i else 0
    return n_i, n_s


def egsa_total_loss(
    depth_all: Stack,
    seg_all: Stack,
    target_depth: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    K: torch.Tensor | None,
    depth_weight: float = 1.0,
    seg_weight: float = 0.1,
    depth_loss: DepthLossFn = modest_depth_loss,
    ignore_index: int = 255,
    deal_weight: float = 0.0,
    deal_mu: float = 2.5,
    class_weights: torch.Tensor | None = None,
    transparent_depth_weight: float = 0.0,
    transparent_class: int = 2,
    pixel_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Multi-iteration, multi-scale EGSA loss.

    Args:
        depth_all: (I, S, B, 1, H, W) depth predictions in metres (or a nested I x S sequence of
            (B, 1, H, W) tensors), already at the target resolution.
        seg_all: (I, S, B, K, H, W) segmentation logits (or nested sequence of (B, K, H, W)).
        target_depth: (B, 1, H, W) metres (NaN allowed where invalid).
        labels: (B, H, W) int64 segmentation labels, ``ignore_index`` where unlabelled.
        valid: (B, 1, H, W) bool valid-depth mask.
        K: (B, 3, 3) intrinsics in pixels (passed to ``depth_loss``; may be None if it ignores it).
        depth_weight, seg_weight: weights of the summed depth and CE terms (defaults 1.0, 0.1).
        depth_loss: callable ``(pred, target, valid, K) -> scalar``, e.g.
            :func:`~egsa_ros.losses.depth.modest_depth_loss` (default),
            :func:`~egsa_ros.losses.weighted.weighted_depth_loss`,
            :func:`~egsa_ros.losses.ot.mse_ot_loss` (use :func:`functools.partial` for options).
        ignore_index: label value ignored by CE and by the DEAL image-level labels.
        deal_weight: weight of the summed DEAL term (0 disables it; DEAL is then not computed).
            DEAL aligns the edges of ``seg_all[i, s]`` with those of the *predicted* depth
            ``depth_all[i, s]`` over all pixels (the prediction is dense, so holes in the target,
            common on transparent objects, do not remove pixels); image-level labels come from
            ``labels``. Gradients flow into both predictions.
        deal_mu: ``mu`` of :func:`~egsa_ros.losses.deal.deal_loss`.
        class_weights: optional (K,) CE class weights.
        transparent_depth_weight: weight of the summed depth loss over transparent pixels only
            (0 disables it; it is then not computed). Images without a valid transparent pixel add
            nothing to it (see :func:`~egsa_ros.losses.depth.masked_image_mean`).
        transparent_class: label of the transparent class in ``labels``.
        pixel_weights: optional (B, H, W) per-pixel weights of the CE term (see
            :func:`segmentation_ce`).

    Returns:
        ``(total, parts)``: ``total`` a scalar tensor with gradient; ``parts`` a dict of detached
        scalar tensors: ``"total"``, ``"depth"`` and ``"seg"`` (unweighted sums over i, s),
        ``"deal"`` and ``"glassdepth"`` when enabled, and per-prediction ``"depth_i{i}_s{s}"`` /
        ``"seg_i{i}_s{s}"`` (and ``"deal_i{i}_s{s}"``, ``"glassdepth_i{i}_s{s}"``).
    """
    n_i, n_s = _shape_is(depth_all)
    if _shape_is(seg_all) != (n_i, n_s):
        raise ValueError(f"depth_all has {n_i}x{n_s} predictions but seg_all has {_shape_is(seg_all)}")
    if n_i == 0 or n_s == 0:
        raise ValueError("egsa_total_loss needs at least one iteration and one scale")
    parts: dict[str, torch.Tensor] = {}
    depth_sum = None
    seg_sum = None
    deal_sum = None
    glass_sum = None
    y = None
    glass_valid = None
    if transparent_depth_weight:
        glass_valid = valid.to(torch.bool) & (labels == transparent_class).unsqueeze(1)
    if deal_weight:
        y = image_level_labels(labels, int(_at(seg_all, 0, 0).shape[1]), ignore_index)
    for i in range(n_i):
        for s in range(n_s):
            d = _at(depth_all, i, s)
            g = _at(seg_all, i, s)
            ld = depth_loss(d, target_depth, valid, K)
            ls = segmentation_ce(g, labels, ignore_index, class_weights, pixel_weights)
            parts[f"depth_i{i}_s{s}"] = ld.detach()
            parts[f"seg_i{i}_s{s}"] = ls.detach()
            depth_sum = ld if depth_sum is None else depth_sum + ld
            seg_sum = ls if seg_sum is None else seg_sum + ls
            if deal_weight:
                lq = deal_loss(g, d, y, mu=deal_mu)  # predicted depth is dense: no mask
                parts[f"deal_i{i}_s{s}"] = lq.detach()
                deal_sum = lq if deal_sum is None else deal_sum + lq
            if glass_valid is not None:
                lg = depth_loss(d, target_depth, glass_valid, K)
                parts[f"glassdepth_i{i}_s{s}"] = lg.detach()
                glass_sum = lg if glass_sum is None else glass_sum + lg
    total = depth_weight * depth_sum + seg_weight * seg_sum
    if deal_sum is not None:
        total = total + deal_weight * deal_sum
        parts["deal"] = deal_sum.detach()
    if glass_sum is not None:
        total = total + transparent_depth_weight * glass_sum
        parts["glassdepth"] = glass_sum.detach()
    parts["depth"] = depth_sum.detach()
    parts["seg"] = seg_sum.detach()
    parts["total"] = total.detach()
    return total, parts


class MultiScaleLoss(nn.Module):
    """:func:`egsa_total_loss` with its weights and depth loss fixed at construction.

    ``forward(depth_all, seg_all, target_depth, labels, valid, K) -> (total, parts)``; see
    :func:`egsa_total_loss` for shapes and units.
    """

    def __init__(
        self,
        depth_weight: float = 1.0,
        seg_weight: float = 0.1,
        depth_loss: DepthLossFn = modest_depth_loss,
        ignore_index: int = 255,
        deal_weight: float = 0.0,
        deal_mu: float = 2.5,
        class_weights: torch.Tensor | None = None,
        transparent_depth_weight: float = 0.0,
        transparent_class: int = 2,
    ) -> None:
        super().__init__()
        self.transparent_depth_weight = float(transparent_depth_weight)
        self.transparent_class = int(transparent_class)
        self.depth_weight = float(depth_weight)
        self.seg_weight = float(seg_weight)
        self.depth_loss = depth_loss
        self.ignore_index = int(ignore_index)
        self.deal_weight = float(deal_weight)
        self.deal_mu = float(deal_mu)
        if class_weights is not None:
            self.register_buffer("class_weights", torch.as_tensor(class_weights, dtype=torch.float32))
        else:
            self.class_weights = None

    def forward(
        self,
        depth_all: Stack,
        seg_all: Stack,
        target_depth: torch.Tensor,
        labels: torch.Tensor,
        valid: torch.Tensor,
        K: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return egsa_total_loss(
            depth_all,
            seg_all,
            target_depth,
            labels,
            valid,
            K,
            depth_weight=self.depth_weight,
            seg_weight=self.seg_weight,
            depth_loss=self.depth_loss,
            ignore_index=self.ignore_index,
            deal_weight=self.deal_weight,
            deal_mu=self.deal_mu,
            class_weights=self.class_weights,
            transparent_depth_weight=self.transparent_depth_weight,
            transparent_class=self.transparent_class,
        )
