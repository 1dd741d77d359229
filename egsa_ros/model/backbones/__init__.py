"""Encoders of the EGSA network, all implementing :class:`Backbone`."""
from __future__ import annotations

from .base import Backbone
from .efficientnet import EfficientNetLite0
from .tiny import TinyBackbone

VIT_VARIANTS = ("vit_b16", "dinov2_vits14", "dinov2_vitb14")


def build_backbone(config) -> Backbone:
    """Build the encoder a :class:`~egsa_ros.model.config.ModelConfig` names."""
    if config.backbone == "efficientnet_lite0":
        return EfficientNetLite0(pretrained=config.pretrained)
    if config.backbone == "tiny":
        return TinyBackbone()
    if config.backbone in VIT_VARIANTS:
        from .vit_reassemble import ViTBackbone  # noqa: PLC0415 - lazy: the ViT code is large and rarely used

        if config.pretrained and not config.backbone_checkpoint:
            raise ValueError(
                f"{config.backbone} has no bundled weights: pass backbone_checkpoint=PATH to the "
                "official checkpoint file, or set pretrained=False for a random encoder")
        return ViTBackbone(
            variant=config.backbone, img_size=tuple(config.input_size), readout=config.vit_readout,
            checkpoint=config.backbone_checkpoint if config.pretrained else None)
    raise ValueError(f"unknown backbone {config.backbone!r}")


__all__ = ["Backbone", "EfficientNetLite0", "TinyBackbone", "build_backbone", "VIT_VARIANTS"]
