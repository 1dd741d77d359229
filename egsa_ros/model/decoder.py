"""The multi-scale iterative decoder with depth and segmentation streams.

Each iteration runs the four scales from coarse to fine. At every scale a
:class:`DecoderStage` adds the upsampled streams of the coarser scale to the encoder
features, refines both streams, gates them by the previous iteration (from iteration 2 on),
fuses them across tasks (modest | sa | egsa), and optionally refines depth with DGR. Weights
are shared across iterations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .fusion import CrossTaskFusion
from .gating import IterationGate
from .heads import DepthHead, SegmentationHead
from .layers import ResidualConvUnit, UpProject
from .refine import DepthGradientRefinement

Streams = tuple[torch.Tensor, torch.Tensor]  # (depth features, segmentation features)


class DecoderStage(nn.Module):
    """One decoder scale with C channels.

    Args:
        channels: C at this scale.
        coarser_channels: channels of the next coarser scale, or None for the coarsest.
        fusion: ``modest`` | ``sa`` | ``egsa``.
        edge_beta, learn_beta: the EGSA edge gate's beta.
        gated: build the previous-iteration gates (iterations > 1).
        refine: add a DGR block on the depth stream.
        num_classes, d_min, d_max: for the heads.
    """

    def __init__(
        self,
        channels: int,
        coarser_channels: int | None,
        *,
        fusion: str,
        edge_beta: float,
        learn_beta: bool,
        gated: bool,
        refine: bool,
        num_classes: int,
        d_min: float,
        d_max: float,
    ) -> None:
        super().__init__()
        self.rcu_in = ResidualConvUnit(channels)
        self.rcu_depth = ResidualConvUnit(channels)
        self.rcu_seg = ResidualConvUnit(channels)
        self.up_depth = UpProject(coarser_channels, channels) if coarser_channels else None
        self.up_seg = UpProject(coarser_channels, channels) if coarser_channels else None
        self.gate_depth = IterationGate(channels) if gated else None
        self.gate_seg = IterationGate(channels) if gated else None
        self.fusion = CrossTaskFusion(channels, fusion, edge_beta, learn_beta)
        self.refine = DepthGradientRefinement(channels) if refine else None
        self.depth_head = DepthHead(channels, d_min, d_max)
        self.seg_head = SegmentationHead(channels, num_classes)

    def forward(
        self, feat: torch.Tensor, coarser: Streams | None, edges: torch.Tensor | None, prev: Streams | None
    ) -> Streams:
        """feat: (B, C, h, w) encoder features; coarser: the coarser scale's streams;
        edges: (B, 1, h, w) or None; prev: this scale's streams from the previous iteration.
        Returns this scale's (depth, segmentation) features, each (B, C, h, w)."""
        x = self.rcu_in(feat)
        d, s = x, x
        if coarser is not None:
            size = feat.shape[-2:]
            d = d + self.up_depth(coarser[0], size)
            s = s + self.up_seg(coarser[1], size)
        d, s = self.rcu_depth(d), self.rcu_seg(s)
        if prev is not None and self.gate_depth is not None:
            d = self.gate_depth(d, prev[0])
            s = self.gate_seg(s, prev[1])
        d, s = self.fusion(d, s, edges)
        if self.refine is not None:
            d = self.refine(d)
        return d, s


class IterativeDecoder(nn.Module):
    """Four :class:`DecoderStage` s (index 0 = finest) run for several iterations.

    Args:
        channels: decoder channels per scale, finest first.
        **stage_kwargs: passed to every stage (fusion, edge_beta, ...).
        dgr_scales: scales that get a DGR block.
    """

    def __init__(self, channels: Sequence[int], *, dgr_scales: Sequence[int] = (), **stage_kwargs) -> None:
        super().__init__()
        stages = []
        for i, c in enumerate(channels):
            coarser = channels[i + 1] if i + 1 < len(channels) else None
            stages.append(DecoderStage(c, coarser, refine=i in dgr_scales, **stage_kwargs))
        self.stages = nn.ModuleList(stages)

    def iterate(
        self, feats: Sequence[torch.Tensor], edges: Sequence[torch.Tensor] | None, prev: Sequence[Streams] | None
    ) -> list[Streams]:
        """One pass from coarse to fine.

        feats: 4 maps finest first; edges: 4 edge maps (B, 1, h_i, w_i) or None;
        prev: the previous iteration's streams per scale or None. Returns streams per scale.
        """
        out: list[Streams | None] = [None] * len(self.stages)
        coarser: Streams | None = None
        for i in reversed(range(len(self.stages))):
            coarser = self.stages[i](
                feats[i], coarser, None if edges is None else edges[i], None if prev is None else prev[i]
            )
            out[i] = coarser
        return out  # type: ignore[return-value]

    def depth(self, streams: Sequence[Streams], scale: int) -> torch.Tensor:
        """Depth (B, 1, h, w) in metres at one scale from its depth stream."""
        return self.stages[scale].depth_head(streams[scale][0])

    def segmentation(self, streams: Sequence[Streams], scale: int) -> torch.Tensor:
        """Logits (B, K, h, w) at one scale from its segmentation stream."""
        return self.stages[scale].seg_head(self.segmentation_features(streams, scale))

    @staticmethod
    def segmentation_features(streams: Sequence[Streams], scale: int) -> torch.Tensor:
        """The segmentation stream (B, C, h, w) of one scale."""
        return streams[scale][1]
