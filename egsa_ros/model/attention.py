"""Channel and spatial attention maps (CBAM-style) used by the cross-task fusion."""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """Per-channel weights in (0, 1): avg- and max-pooled descriptors through a shared MLP.

    Args:
        channels: C.
        reduction: hidden width is ``max(C // reduction, 4)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> weights (B, C, 1, 1)."""
        avg = x.mean(dim=(2, 3), keepdim=True)
        peak = x.amax(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(avg) + self.mlp(peak))


class SpatialAttention(nn.Module):
    """Per-pixel weights in (0, 1): channel mean and max through a 7x7 conv."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> weights (B, 1, H, W)."""
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(desc))
