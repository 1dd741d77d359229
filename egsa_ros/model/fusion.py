"""Cross-task fusion between the depth and segmentation streams of one decoder scale.

Three variants, chosen by ``ModelConfig.fusion``:

- ``modest`` (the MODEST baseline): channel attention then spatial attention, each
  computed on one stream and applied to the other:
  ``s *= CA(d); d *= CA(s); s *= SA(d); d *= SA(s)``.
- ``sa``: spatial attention only (EGSA-PT's ablation without edges).
- ``egsa``: spatial attention gated by the edge map E at this scale,
  ``G(x) = SA(x) * (1 + beta * E)``; ``s *= G(d); d *= G(s)``.

Both directions of each step read the streams as they were before the step (ours: it makes
the update symmetric and independent of the order in which the two lines are written).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import ChannelAttention, SpatialAttention


class CrossTaskFusion(nn.Module):
    """Fuse depth features ``d`` and segmentation features ``s`` (both (B, C, H, W)).

    Args:
        channels: C.
        kind: ``modest``, ``sa`` or ``egsa``.
        edge_beta: beta of the edge gate (``egsa`` only); the initial value if learned.
        learn_beta: make beta a parameter of this scale.
    """

    def __init__(self, channels: int, kind: str, edge_beta: float = 1.0, learn_beta: bool = False) -> None:
        super().__init__()
        if kind not in ("modest", "sa", "egsa"):
            raise ValueError(f"unknown fusion {kind!r}")
        self.kind = kind
        if kind == "modest":
            self.ca_from_depth = ChannelAttention(channels)
            self.ca_from_seg = ChannelAttention(channels)
        self.sa_from_depth = SpatialAttention()
        self.sa_from_seg = SpatialAttention()
        if kind == "egsa":
            beta = torch.tensor(float(edge_beta))
            if learn_beta:
                self.beta = nn.Parameter(beta)
            else:
                self.register_buffer("beta", beta)

    @property
    def uses_edges(self) -> bool:
        return self.kind == "egsa"

    def forward(
        self, d: torch.Tensor, s: torch.Tensor, edges: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """d, s: (B, C, H, W); edges: (B, 1, H, W) in [0, 1] (``egsa`` only).

        Returns the updated ``(d, s)``, same shapes.
        """
        if self.kind == "modest":
            d, s = d * self.ca_from_seg(s), s * self.ca_from_depth(d)
        gate_d = self.sa_from_depth(d)  # computed from depth, applied to segmentation
        gate_s = self.sa_from_seg(s)
        if self.kind == "egsa":
            if edges is None:
                raise ValueError("the egsa fusion needs an edge map")
            boost = 1.0 + self.beta * edges
            gate_d = gate_d * boost
            gate_s = gate_s * boost
        return d * gate_s, s * gate_d
