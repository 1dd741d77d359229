"""One configuration dataclass for every EGSA network architecture, plus named presets.

Variants are flags on :class:`ModelConfig`, never copies of the model code. How a trained
network is run at test time is not architecture: see :mod:`egsa_ros.model.inference_options`. The resolved
config is saved with every checkpoint (``to_dict``) and rebuilt with ``from_dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Bumped whenever a change makes old checkpoints incompatible with the model code.
CONFIG_VERSION = 1
#: Fields of older configs that said where encoder weights come from (now :class:`EncoderInit`).
LEGACY_WEIGHT_KEYS = ("pretrained", "backbone_checkpoint")

FUSIONS = ("modest", "sa", "egsa")
EDGE_SOURCES = ("rgb", "depth", "progressive")
BACKBONES = ("efficientnet_lite0", "vit_b16", "dinov2_vits14", "dinov2_vitb14", "tiny")


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of an :class:`~egsa_ros.model.net.EGSANet` (its weights' origin is
    :class:`~egsa_ros.model.encoder_init.EncoderInit`, its test-time options
    :class:`~egsa_ros.model.inference_options.InferenceOptions`).

    Attributes:
        backbone: encoder name, one of ``BACKBONES``.
        input_size: network input (H, W) in pixels; camera frames are resized to it.
        decoder_channels: channels of the four decoder scales, finest first.
        iterations: decoder iterations (shared weights); from the second on, each scale is
            gated by the previous iteration's features.
        fusion: cross-task fusion, ``modest`` (channel + spatial attention), ``sa`` (spatial
            only) or ``egsa`` (spatial attention gated by edges, ``G = S * (1 + beta * E)``).
        edge_source: where the EGSA edge map comes from: ``rgb`` (Canny of the image),
            ``depth`` (iteration 1: RGB edges, iteration k > 1: Canny of iteration k-1's
            detached depth) or ``progressive`` (trained with ``rgb`` until an epoch T, then
            ``depth``; runs as ``depth`` at inference).
        edge_beta: beta of the edge gate (initial value when learned).
        learn_beta: make beta a trained parameter (one per decoder scale).
        num_classes: segmentation classes (Syn-TODD: 3 = background, table, transparent).
        transparent_class: index of the transparent-object class.
        d_min, d_max: metric depth range in metres; the depth head's sigmoid maps into it.
        dgr_scales: decoder scales (0 = finest) that get a depth-gradient refinement block.
        canny_low, canny_high: RGB Canny thresholds (grey levels, OpenCV convention).
        canny_blur: 5x5 Gaussian blur before the RGB Canny, as ``cv2.GaussianBlur``.
        depth_canny_low, depth_canny_high: depth Canny thresholds in metres per pixel.
        hysteresis_rounds: rounds of the in-graph Canny hysteresis (see docs/benchmarks).
        vit_readout: how a ViT's class token is used when reassembling (``project``,
            ``add``, ``ignore``).
        seg_refine: refine the finest-scale segmentation at half the input resolution from the
            image, its edges and the decoder's segmentation stream
            (:class:`~egsa_ros.model.seg_refine.SegRefiner`).
    """

    backbone: str = "efficientnet_lite0"
    input_size: tuple[int, int] = (192, 256)
    decoder_channels: tuple[int, int, int, int] = (16, 24, 32, 48)
    iterations: int = 3
    fusion: str = "egsa"
    edge_source: str = "rgb"
    edge_beta: float = 1.0
    learn_beta: bool = True
    num_classes: int = 3
    transparent_class: int = 2
    d_min: float = 0.0
    d_max: float = 3.0
    dgr_scales: tuple[int, ...] = ()
    canny_low: float = 50.0
    canny_high: float = 150.0
    canny_blur: bool = True
    depth_canny_low: float = 0.02
    depth_canny_high: float = 0.05
    hysteresis_rounds: int = 32
    vit_readout: str = "project"
    seg_refine: bool = False
    version: int = field(default=CONFIG_VERSION)

    def __post_init__(self) -> None:
        # Accept lists (YAML/JSON) but store tuples so the config stays hashable.
        for name in ("input_size", "decoder_channels", "dgr_scales"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        if self.version != CONFIG_VERSION:
            raise ValueError(
                f"model config version {self.version} does not match this egsa_ros "
                f"(expects {CONFIG_VERSION}); re-export or retrain the model"
            )
        _one_of("backbone", self.backbone, BACKBONES)
        _one_of("fusion", self.fusion, FUSIONS)
        _one_of("edge_source", self.edge_source, EDGE_SOURCES)
        _one_of("vit_readout", self.vit_readout, ("project", "add", "ignore"))
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"input_size must be (H, W) > 0, got {self.input_size}")
        if len(self.decoder_channels) != 4 or min(self.decoder_channels) < 4:
            raise ValueError(f"decoder_channels must be 4 ints >= 4, got {self.decoder_channels}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not 0 <= self.transparent_class < self.num_classes:
            raise ValueError(f"transparent_class {self.transparent_class} outside 0..{self.num_classes - 1}")
        if not self.d_max > self.d_min >= 0:
            raise ValueError(f"need 0 <= d_min < d_max, got {self.d_min}, {self.d_max}")
        if any(s not in (0, 1, 2, 3) for s in self.dgr_scales):
            raise ValueError(f"dgr_scales must be decoder scales 0..3, got {self.dgr_scales}")
        if self.hysteresis_rounds < 0:
            raise ValueError("hysteresis_rounds must be >= 0")
        if self.edge_beta < 0:
            raise ValueError("edge_beta must be >= 0")

    @property
    def uses_edges(self) -> bool:
        """True when the network computes Canny edges (only the ``egsa`` fusion does)."""
        return self.fusion == "egsa"

    @property
    def inference_edge_phase(self) -> str:
        """Edge phase used at inference: ``rgb`` or ``depth`` (progressive ends in depth)."""
        return "rgb" if self.edge_source == "rgb" else "depth"

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them. The encoder's
        starting weights (``pretrained``, ``backbone_checkpoint``), which older checkpoints kept
        here, are not architecture and are dropped (see :mod:`egsa_ros.model.encoder_init`)."""
        data = {k: v for k, v in data.items() if k not in LEGACY_WEIGHT_KEYS}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown} (model from another egsa_ros version?)")
        return cls(**data)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {allowed}")


PRESETS: dict[str, ModelConfig] = {
    # MODEST / EGSA-PT as published: ViT-B/16 at 384x384, 3 iterations, 256 channels.
    "paper_vitb": ModelConfig(
        backbone="vit_b16",
        input_size=(384, 384),
        decoder_channels=(256, 256, 256, 256),
        iterations=3,
        fusion="egsa",
        edge_source="progressive",
        hysteresis_rounds=32,
    ),
    # EGSA-PT with a DINOv2 ViT-B/14 encoder (392 = 28 patches, the size nearest 384).
    "paper_dinov2": ModelConfig(
        backbone="dinov2_vitb14",
        input_size=(392, 392),
        decoder_channels=(256, 256, 256, 256),
        iterations=3,
        fusion="egsa",
        edge_source="progressive",
        hysteresis_rounds=32,
    ),
    # The robot default: ImageNet EfficientNet-Lite0 and a light decoder, sized for 30 Hz
    # frame-to-mask on 2 CPU cores through ONNX Runtime. 192x256 keeps the 4:3 aspect of
    # VGA / RealSense frames (an exact 2.5x reduction of 480x640); 2 iterations (the second
    # one can use depth edges) and 16-48 decoder channels leave ~20 % headroom under 33 ms
    # where 3 iterations or 24-64 channels do not (docs/benchmarks.md:
    # `python -m egsa_ros.bench.model_bench --pipeline-only`). 16 hysteresis rounds: mean
    # IoU 0.94 with cv2.Canny at this size (32: 0.98 for ~1-4 ms more); training sees the
    # same in-graph edges, so exact cv2 parity is not needed here.
    "default_small": ModelConfig(
        backbone="efficientnet_lite0",
        input_size=(192, 256),
        decoder_channels=(16, 24, 32, 48),
        iterations=2,
        fusion="egsa",
        edge_source="rgb",
        hysteresis_rounds=16,
    ),
    # Tests: a random 4-stage CNN, tiny decoder, 2 iterations, small frames.
    "tiny": ModelConfig(
        backbone="tiny",
        input_size=(64, 96),
        decoder_channels=(8, 8, 8, 8),
        iterations=2,
        fusion="egsa",
        edge_source="depth",
        hysteresis_rounds=4,
        dgr_scales=(0,),
    ),
}


def get_preset(name: str, **overrides: Any) -> ModelConfig:
    """The preset ``name`` with ``overrides`` applied, e.g. ``get_preset("tiny", fusion="sa")``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
