"""Weighted depth loss: ``w_mae * MAE + w_edge * edge L1 + w_ssim * (1 - SSIM) / 2``.

Follows the depth-conventions of :mod:`egsa_ros.losses.depth` (metres, (B, 1, H, W), bool valid
mask, per-image mean then mean over images, NaN-safe at invalid pixels).

SSIM here is a *masked* SSIM: the local Gaussian-weighted means, variances and covariance use
only valid pixels (``mu = conv(w, m*x) / conv(w, m)``), so invalid pixels never leak into the
statistics of their valid neighbours; the SSIM map is then averaged over valid pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .depth import gradient_l1, masked_image_mean, sanitize

__all__ = ["gaussian_window", "masked_ssim_map", "ssim_loss", "weighted_depth_loss"]


def gaussian_window(size: int = 7, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 2-D Gaussian window, (1, 1, size, size), summing to 1."""
    r = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(r * r) / (2.0 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).reshape(1, 1, size, size)


def masked_ssim_map(
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    window_size: int = 7,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Per-pixel SSIM of two single-channel images using only masked pixels in each window.

    ``C1 = (0.01 * L)^2``, ``C2 = (0.03 * L)^2`` with ``L = data_range``.

    Args:
        x, y: (B, 1, H, W) finite values (sanitise before calling).
        mask: (B, 1, H, W) bool; pixels where it is False are left out of every window.
        window_size: odd Gaussian window size in pixels (default 7).
        sigma: Gaussian standard deviation in pixels (default 1.5).
        data_range: L, the dynamic range of the values (1 for inputs normalised to [0, 1]).

    Returns:
        (B, 1, H, W) SSIM map (1 for identical windows); meaningful only where ``mask`` is True.
    """
    w = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    pad = window_size // 2
    m = mask.to(x.dtype)

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(t, (pad, pad, pad, pad), value=0.0), w)

    wsum = filt(m).clamp(min=1e-6)
    xm = torch.where(mask, x, torch.zeros_like(x))
    ym = torch.where(mask, y, torch.zeros_like(y))
    mu_x = filt(xm) / wsum
    mu_y = filt(ym) / wsum
    sxx = filt(xm * xm) / wsum - mu_x * mu_x
    syy = filt(ym * ym) / wsum - mu_y * mu_y
    sxy = filt(xm * ym) / wsum - mu_x * mu_y
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * sxy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2)
    return num / den


def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    max_depth: float = 10.0,
    window_size: int = 7,
    sigma: float = 1.5,
) -> torch.Tensor:
    """SSIM term ``(1 - SSIM) / 2`` on depth divided by ``max_depth`` (range [0, 1] for depth in [0, max_depth]).

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        max_depth: normalisation depth in metres (data range L = 1 after normalisation).
        window_size, sigma: Gaussian window (pixels).

    Returns:
        Scalar tensor in [0, 1]: per-image mean of ``(1 - SSIM)/2`` over valid pixels, then mean
        over images; 0 for identical inputs.
    """
    t, v = sanitize(target, valid)
    s = masked_ssim_map(pred / max_depth, t / max_depth, v, window_size, sigma, data_range=1.0)
    return masked_image_mean((1.0 - s) * 0.5, v)


def weighted_depth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    K: torch.Tensor | None = None,
    w_mae: float = 0.6,
    w_edge: float = 0.2,
    w_ssim: float = 1.0,
    max_depth: float = 10.0,
    window_size: int = 7,
) -> torch.Tensor:
    """Weighted depth loss ``w_mae * MAE + w_edge * EDGE + w_ssim * (1 - SSIM) / 2``.

    - MAE: mean ``|pred - target|`` over valid pixels (metres).
    - EDGE: L1 of the Sobel-gradient difference, ``|gx_p - gx_t| + |gy_p - gy_t|`` in metres per
      pixel over pixels with a fully valid 3x3 neighbourhood (same as
      :func:`egsa_ros.losses.depth.gradient_l1`).
    - SSIM: masked SSIM (7x7 Gaussian window, sigma 1.5, C1 = 0.01^2, C2 = 0.03^2) on
      ``depth / max_depth``; see :func:`ssim_loss`.

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        K: ignored (accepted for the common loss signature ``(pred, target, valid, K)``).
        w_mae, w_edge, w_ssim: term weights (defaults 0.6, 0.2, 1.0).
        max_depth: metres, normalisation of the SSIM term.
        window_size: SSIM Gaussian window size in pixels.

    Returns:
        Scalar tensor.
    """
    t, v = sanitize(target, valid)
    loss = w_mae * masked_image_mean((pred - t).abs(), v)
    if w_edge:
        loss = loss + w_edge * gradient_l1(pred, target, valid)
    if w_ssim:
        loss = loss + w_ssim * ssim_loss(pred, target, valid, max_depth=max_depth, window_size=window_size)
    return loss
