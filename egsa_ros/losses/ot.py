"""Optimal-transport depth loss (OTDL) and ``MSE + lam * OTDL``.

Each depth map's valid pixels are treated as an empirical 1-D distribution of depth values
(each pixel a Dirac of mass 1/n). In 1-D the optimal coupling for a cost ``|x - y|^p`` with
p >= 1 is the monotone one (quantile matching), so with equal sample counts the exact
Wasserstein distance is obtained by sorting:

    W_p^p = (1/n) * sum_i |sort(pred)_i - sort(target)_i|^p.

Prediction and target share the valid mask, so their counts are equal. The loss uses ``p = 2``
by default, i.e. it returns ``W2^2`` in m^2 (no binning, no entropic smoothing: exact and
differentiable almost everywhere through :func:`torch.sort`). It is computed for the whole
batch at once: invalid entries are pushed to the end of each row by sorting them as ``+inf``,
and only the first ``n_b`` sorted positions of image b are used.
"""

from __future__ import annotations

import torch

from .depth import depth_mse, sanitize

__all__ = ["ot_depth_loss", "mse_ot_loss"]


def ot_depth_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, K: torch.Tensor | None = None, p: float = 2.0
) -> torch.Tensor:
    """Exact 1-D Wasserstein loss ``W_p^p`` between the depth-value distributions of pred and target.

    Args:
        pred: (B, 1, H, W) predicted depth, metres.
        target: (B, 1, H, W) target depth, metres (NaN allowed where invalid).
        valid: (B, 1, H, W) bool.
        K: ignored (accepted for the common loss signature).
        p: cost exponent (2 gives W2^2 in m^2; 1 gives W1 in metres).

    Returns:
        Scalar tensor: per-image ``W_p^p`` over the image's valid pixels, averaged over images
        with at least one valid pixel (0 with a gradient path if none). Invariant to any
        permutation of pixels, so it does not penalise misplacing depths, only the histogram.
    """
    b = pred.shape[0]
    t, v = sanitize(target, valid)
    v = v.reshape(b, -1)
    inf = torch.full_like(t.reshape(b, -1), float("inf"))
    sp, _ = torch.sort(torch.where(v, pred.reshape(b, -1), inf.to(pred.dtype)), dim=1)
    st, _ = torch.sort(torch.where(v, t.reshape(b, -1), inf), dim=1)
    n = v.sum(dim=1)  # (B,)
    pos = torch.arange(sp.shape[1], device=sp.device).unsqueeze(0)
    used = pos < n.unsqueeze(1)
    zero = torch.zeros_like(sp)
    diff = torch.where(used, sp, zero) - torch.where(used, st.to(sp.dtype), zero)
    if p == 2.0:
        cost = diff * diff
    else:
        cost = diff.abs().pow(p)
    per_image = cost.sum(dim=1) / n.clamp(min=1).to(cost.dtype)
    has = (n > 0).to(cost.dtype)
    return (per_image * has).sum() / has.sum().clamp(min=1.0)


def mse_ot_loss(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, K: torch.Tensor | None = None, lam: float = 0.1
) -> torch.Tensor:
    """``depth_mse + lam * ot_depth_loss`` (both m^2).

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        K: ignored.
        lam: weight of the OT term (default 0.1).

    Returns:
        Scalar tensor.
    """
    return depth_mse(pred, target, valid) + lam * ot_depth_loss(pred, target, valid)
