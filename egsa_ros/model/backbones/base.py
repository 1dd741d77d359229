"""The interface every encoder of the EGSA network implements.

A backbone turns a normalised image into four feature maps, finest first. The decoder
only relies on this contract, so CNN and ViT encoders are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Backbone(nn.Module):
    """Base class of the encoders.

    Subclasses set these attributes in ``__init__``:

    - ``out_channels``: channels of the four maps returned by :meth:`forward`, finest first.
    - ``size_divisor``: input height and width must be multiples of this (pixels).
    - ``pixel_mean`` / ``pixel_std``: per-channel RGB statistics on the 0..255 scale; the
      network computes ``(rgb - mean) / std`` before calling :meth:`forward`.

    ``forward(x)`` takes ``x`` (B, 3, H, W) float32, already normalised, and returns a list of
    four tensors (B, C_i, H_i, W_i), finest first, each coarser map half the size of the
    previous one (H_0 is H/4 for a stride-4 CNN, 4*H/patch for a ViT).
    """

    out_channels: tuple[int, int, int, int]
    size_divisor: int
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        """Map an RGB image with values 0..255 (B, 3, H, W) to the encoder's input scale."""
        mean = torch.tensor(self.pixel_mean, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
        std = torch.tensor(self.pixel_std, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
        return (rgb - mean) / std


def check_channels(channels: Sequence[int]) -> tuple[int, int, int, int]:
    """Validate a four-scale channel list and return it as a tuple."""
    if len(channels) != 4 or any(int(c) <= 0 for c in channels):
        raise ValueError(f"a backbone must return 4 feature maps with positive channels, got {channels}")
    return tuple(int(c) for c in channels)  # type: ignore[return-value]
