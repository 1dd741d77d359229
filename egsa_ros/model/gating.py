"""Gating of a decoder scale by the same scale's features from the previous iteration."""

from __future__ import annotations

import torch
from torch import nn


class IterationGate(nn.Module):
    """``x * (1 + sigmoid(W2 relu(W1 [x, prev])))`` with 1x1 convs W1, W2 (per pixel and channel).

    MODEST gates each scale from iteration 2 on with a sigmoid of 1x1 convolutions of the
    current and previous-iteration features. Ours: the ``1 +`` keeps the current features
    when the gate closes, so stacking iterations cannot shrink the signal to zero.

    Args:
        channels: C of both inputs.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(channels // 2, 4)
        self.gate = nn.Sequential(
            nn.Conv2d(2 * channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """x, prev: (B, C, H, W) -> (B, C, H, W)."""
        return x * (1.0 + self.gate(torch.cat([x, prev], dim=1)))
