"""The network's training output plugs into every loss, and a few steps overfit one sample."""

from __future__ import annotations

import functools

import pytest
import torch

from egsa_ros.losses import egsa_total_loss, modest_depth_loss, mse_ot_loss, weighted_depth_loss
from egsa_ros.model import build_model, get_preset


def _sample(h=64, w=96):
    """A synthetic sample: table plane receding in depth, a 'glass' box nearer the camera."""
    g = torch.Generator().manual_seed(0)
    rgb = torch.full((1, 3, h, w), 90.0)
    rgb[..., 20:50, 30:60] = 200.0
    rgb += torch.randint(-5, 6, rgb.shape, generator=g)
    rows = torch.linspace(2.0, 1.0, h).view(1, 1, h, 1).expand(1, 1, h, w).clone()
    depth = rows.clone()
    depth[..., 20:50, 30:60] = 0.8
    labels = torch.ones(1, h, w, dtype=torch.long)
    labels[:, :16] = 0
    labels[:, 20:50, 30:60] = 2
    valid = torch.ones(1, 1, h, w, dtype=torch.bool)
    valid[..., 0, :] = False
    depth[~valid] = float("nan")  # invalid target pixels may hold NaN: the losses must cope
    K = torch.tensor([[[80.0, 0.0, w / 2], [0.0, 80.0, h / 2], [0.0, 0.0, 1.0]]])
    return rgb, depth, labels, valid, K


DEPTH_LOSSES = {
    "modest": modest_depth_loss,
    "weighted": functools.partial(weighted_depth_loss, max_depth=3.0),
    "mse_ot": functools.partial(mse_ot_loss, lam=0.1),
}


@pytest.mark.parametrize("loss_name", sorted(DEPTH_LOSSES))
def test_a_few_steps_overfit_one_sample(loss_name):
    torch.manual_seed(0)
    model = build_model(get_preset("tiny", fusion="egsa", edge_source="progressive")).train()
    rgb, depth, labels, valid, K = _sample()
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(25):
        phase = "rgb" if step < 12 else "depth"  # the progressive switch
        out = model(rgb, edge_phase=phase)
        total, parts = egsa_total_loss(
            out.depth_all, out.seg_all, depth, labels, valid, K, depth_loss=DEPTH_LOSSES[loss_name], deal_weight=0.05
        )
        assert torch.isfinite(total), parts
        optim.zero_grad()
        total.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optim.step()
        losses.append(total.item())
    assert losses[-1] < 0.7 * losses[0], f"{loss_name}: loss did not fall: {losses[0]:.4f} -> {losses[-1]:.4f}"
