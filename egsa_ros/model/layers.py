"""Small building blocks shared by the decoder modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualConvUnit(nn.Module):
    """``x + conv3x3(relu(conv3x3(relu(x))))`` at constant channels (DPT's RCU)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W)."""
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class UpProject(nn.Module):
    """A 1x1 conv to the finer scale's channels, then a bilinear resize to its size.

    Both steps are linear per pixel and the bilinear weights sum to one, so the order does
    not change the result; projecting first runs the conv on 4x fewer pixels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        """x: (B, C_in, h, w) -> (B, C_out, *size)."""
        return F.interpolate(self.proj(x), size=tuple(size), mode="bilinear", align_corners=False)
