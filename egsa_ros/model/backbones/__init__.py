"""Encoders of the EGSA network, all implementing :class:`Backbone`."""

from __future__ import annotations

from ..encoder_init import RANDOM, EncoderInit
from .base import Backbone
from .efficientnet import EfficientNetLite0
from .tiny import TinyBackbone

VIT_VARIANTS = ("vit_b16", "dinov2_vits14", "dinov2_vitb14")


def build_backbone(config, init: EncoderInit = RANDOM) -> Backbone:
    """Build the encoder a :class:`~egsa_ros.model.config.ModelConfig` names, with ``init``'s
    starting weights (default: random)."""
    if config.backbone == "efficientnet_lite0":
        return EfficientNetLite0(pretrained=init.pretrained)
    if config.backbone == "tiny":
        return TinyBackbone()
    if config.backbone in VIT_VARIANTS:
        from .vit_reassemble import ViTBackbone  # noqa: PLC0415 - lazy: the ViT code is large and rarely used

        if init.pretrained and not init.checkpoint:
            raise ValueError(
                f"{config.backbone} has no bundled weights: give the official checkpoint file "
                "(EncoderInit(pretrained=True, checkpoint=PATH); egsa-train: model.encoder_checkpoint=PATH), "
                "or train it from a random encoder"
            )
        return ViTBackbone(
            variant=config.backbone,
            img_size=tuple(config.input_size),
            readout=config.vit_readout,
            checkpoint=init.checkpoint if init.pretrained else None,
        )
    raise ValueError(f"unknown backbone {config.backbone!r}")


__all__ = ["Backbone", "EfficientNetLite0", "EncoderInit", "TinyBackbone", "build_backbone", "VIT_VARIANTS"]
