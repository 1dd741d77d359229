"""A tiny random CNN encoder for tests: four stride-2 stages after a stride-2 stem."""

from __future__ import annotations

import torch
from torch import nn

from .base import Backbone


class TinyBackbone(Backbone):
    """Random 4-scale CNN (strides 4, 8, 16, 32; channels 8, 12, 16, 24). Tests only."""

    def __init__(self, channels=(8, 12, 16, 24)) -> None:
        super().__init__()
        self.out_channels = tuple(channels)
        self.size_divisor = 32
        self.pixel_mean = (127.5, 127.5, 127.5)
        self.pixel_std = (127.5, 127.5, 127.5)
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1), nn.BatchNorm2d(channels[0]), nn.ReLU())
        stages = []
        cin = channels[0]
        for cout in channels:
            stages.append(nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, 3, H, W) -> 4 maps at H/4, H/8, H/16, H/32."""
        h = self.stem(x)
        out = []
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out
