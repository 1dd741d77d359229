"""Depth-gradient refinement (DGR) block, after "Improving Depth Gradient Continuity in
Transformers".

The block appends fixed second- and third-order derivative maps of the features,
recalibrates the stack with channel attention, mixes it with a 3x3 conv, and models
channel interactions with an outer product of pooled descriptors followed by a 1x1 conv;
the result is added to the input (residual); the last conv starts small (std 1e-3) so the
block begins close to the identity while every weight still receives a gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import ChannelAttention


def _derivative_kernels() -> torch.Tensor:
    """(2, 1, 5, 5): Laplacian and the sum of third-order x and y central differences."""
    lap = torch.zeros(5, 5)
    lap[1:4, 1:4] = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    third_1d = torch.tensor([-1.0, 2.0, 0.0, -2.0, 1.0]) / 2.0  # d^3/dx^3, central
    third = torch.zeros(5, 5)
    third[2, :] += third_1d
    third[:, 2] += third_1d
    return torch.stack([lap, third]).unsqueeze(1)


class DepthGradientRefinement(nn.Module):
    """Residual refinement of depth features (B, C, H, W) -> (B, C, H, W).

    Steps: ``h = [x, lap(x), d3(x)]`` (3C, depthwise fixed filters, replicate padding);
    ``h *= CA(h)``; ``y = relu(conv3x3(h))`` (C); outer-product interaction
    ``M = softmax(pool(y) pool(x)^T / sqrt(C))`` (B, C, C), ``z = M @ y``;
    ``out = x + conv1x1(z)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        kernels = _derivative_kernels().repeat(channels, 1, 1, 1)  # (2C, 1, 5, 5)
        self.register_buffer("kernels", kernels, persistent=False)
        self.recalibrate = ChannelAttention(3 * channels, reduction=8)
        self.spatial = nn.Conv2d(3 * channels, channels, 3, padding=1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
        # groups=C: each channel gets its own Laplacian and third-derivative map.
        derivs = F.conv2d(padded, self.kernels, groups=c)  # (B, 2C, H, W)
        stack = torch.cat([x, derivs], dim=1)
        stack = stack * self.recalibrate(stack)
        y = F.relu(self.spatial(stack))
        u = y.mean(dim=(2, 3))  # (B, C)
        v = x.mean(dim=(2, 3))
        interaction = torch.softmax(u.unsqueeze(2) * v.unsqueeze(1) / c**0.5, dim=-1)  # (B, C, C)
        z = torch.matmul(interaction, y.flatten(2)).view(b, c, h, w)
        return x + self.out(z)
