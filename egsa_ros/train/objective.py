"""A run's training loss: :func:`egsa_ros.losses.egsa_total_loss` with the ``loss`` section of its
config, over the deep-supervision stacks (training) or over the final prediction alone
(the validation loss, smaller than the training loss by construction)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..data.transforms import IGNORE_INDEX
from ..losses import egsa_total_loss, lovasz_class_loss, modest_depth_loss, mse_ot_loss, weighted_depth_loss
from ..model.config import ModelConfig
from .config import LossConfig


def depth_loss_fn(loss: LossConfig, mc: ModelConfig) -> Callable:
    """The depth loss named by ``loss.depth_loss`` (``modest`` | ``weighted`` | ``mse_ot``)."""
    name = loss.depth_loss
    if name == "modest":
        return modest_depth_loss
    if name == "weighted":
        return functools.partial(weighted_depth_loss, max_depth=mc.d_max)
    if name == "mse_ot":
        return functools.partial(mse_ot_loss, lam=loss.ot_lambda)
    raise ValueError(f"unknown depth loss {name!r}")


class TrainingLoss:
    """``loss(depth_all, seg_all, batch) -> (total, parts)`` with a run's loss settings.

    Args:
        loss: the run's ``loss`` config section.
        mc: the model config (depth range, transparent class).
        device: where the class weights live.
    """

    def __init__(self, loss: LossConfig, mc: ModelConfig, device: torch.device) -> None:
        self.config = loss
        self.transparent_class = mc.transparent_class
        self.depth_loss = depth_loss_fn(loss, mc)
        self.class_weights = (
            None if loss.class_weights is None else torch.tensor(loss.class_weights, dtype=torch.float32, device=device)
        )
        self.batches_without_opaque_map = 0
        """Batches ``loss.opaque_weight`` could not weigh (a reader or a mixed batch without the map)."""

    def __call__(
        self, depth_all: torch.Tensor, seg_all: torch.Tensor, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """depth_all (I, S, B, 1, H, W) metres and seg_all (I, S, B, K, H, W) logits against the
        batch's ``depth``, ``labels``, ``valid`` and ``K``; with ``loss.lovasz_weight`` the Lovasz
        IoU surrogate of the glass class on the final prediction (``seg_all[-1, 0]``) is added
        (``parts["lovasz"]``)."""
        c = self.config
        total, parts = egsa_total_loss(
            depth_all.float(),
            seg_all.float(),
            batch["depth"],
            batch["labels"],
            batch["valid"],
            batch["K"],
            depth_weight=c.depth_weight,
            seg_weight=c.seg_weight,
            depth_loss=self.depth_loss,
            ignore_index=IGNORE_INDEX,
            deal_weight=c.deal_weight,
            class_weights=self.class_weights,
            transparent_depth_weight=c.transparent_depth_weight,
            transparent_class=self.transparent_class,
            pixel_weights=self.pixel_weights(batch),
        )
        if c.lovasz_weight:
            lovasz = lovasz_class_loss(seg_all[-1, 0].float(), batch["labels"], self.transparent_class, IGNORE_INDEX)
            total = total + c.lovasz_weight * lovasz
            parts["lovasz"] = lovasz.detach()
            parts["total"] = total.detach()
        return total, parts

    def pixel_weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """(B, H, W) CE weights, the product of :meth:`opaque_weights` and
        :meth:`near_glass_weights`; None when neither applies."""
        parts = [w for w in (self.opaque_weights(batch), self.near_glass_weights(batch)) if w is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else parts[0] * parts[1]

    def near_glass_weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """(B, H, W): ``loss.near_glass_weight`` on labelled non-glass pixels whose chessboard
        distance to a glass pixel is in (inner, outer] of ``loss.near_glass_band_px`` (pixels of
        the training input: where glass casts shadows and caustics on the table), 1 elsewhere;
        None when the weight is 1."""
        weight = float(self.config.near_glass_weight)
        if weight == 1.0:
            return None
        labels = batch["labels"]
        inner, outer = (int(v) for v in self.config.near_glass_band_px)
        glass = (labels == self.transparent_class).to(torch.float32)[:, None]

        def within(r: int) -> torch.Tensor:  # (B, H, W): chessboard distance to glass <= r
            return F.max_pool2d(glass, 2 * r + 1, stride=1, padding=r)[:, 0] > 0

        band = within(outer) & ~within(inner) & (labels != IGNORE_INDEX)
        return 1.0 + (weight - 1.0) * band.to(torch.float32)

    def opaque_weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """(B, H, W): ``loss.opaque_weight`` on opaque-object pixels (the batch's ``opaque``
        map), 1 elsewhere; None when the weight is 1 or the batch has no such map."""
        weight = float(self.config.opaque_weight)
        if weight == 1.0:
            return None
        if "opaque" not in batch:
            if self.batches_without_opaque_map == 0:
                warnings.warn(
                    f"loss.opaque_weight={weight:g} has no effect on batches without an opaque-object map "
                    "(only egsa-synth frames carry one; a batch mixing other samples drops it)",
                    stacklevel=2,
                )
            self.batches_without_opaque_map += 1
            return None
        return 1.0 + (weight - 1.0) * batch["opaque"].to(torch.float32)

    def of_prediction(self, depth: torch.Tensor, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The total loss of one final prediction: depth (B, 1, H, W) metres, logits (B, K, H, W)
        (one iteration, one scale): the validation loss."""
        total, _ = self(depth[None, None], logits[None, None], batch)
        return total
