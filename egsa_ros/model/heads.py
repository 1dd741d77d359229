"""Prediction heads: metric depth and segmentation logits at one decoder scale."""

from __future__ import annotations

import torch
from torch import nn


class DepthHead(nn.Module):
    """Features (B, C, h, w) -> depth (B, 1, h, w) in metres, inside [d_min, d_max].

    The network predicts a normalised depth through a sigmoid, mapped linearly to metres.
    """

    def __init__(self, channels: int, d_min: float, d_max: float) -> None:
        super().__init__()
        hidden = max(channels // 2, 4)
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 1, 1))
        self.d_min = float(d_min)
        self.d_range = float(d_max) - float(d_min)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.d_min + self.d_range * torch.sigmoid(self.net(x))


class SegmentationHead(nn.Module):
    """Features (B, C, h, w) -> class logits (B, K, h, w)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        hidden = max(channels // 2, 4)
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, num_classes, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
