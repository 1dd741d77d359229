"""Depth losses of MODEST / EGSA-PT: MSE + Sobel-gradient L1 + surface-normal L1.

Conventions shared by every depth loss of :mod:`egsa_ros.losses`:

- ``pred`` and ``target`` are (B, 1, H, W) float tensors in metres.
- ``valid`` is a (B, 1, H, W) bool tensor, True where the target is usable. It is combined with
  ``isfinite(target)``, so a target holding NaN/inf at a pixel marked valid is ignored there.
  Invalid pixels contribute nothing to the value or to the gradient, even when the target holds
  NaN there: targets are sanitised with :func:`torch.where` before any arithmetic.
- ``K`` is a (B, 3, 3) intrinsic matrix in pixels for the (H, W) of the depth map.
- Every loss is reduced **per image** (mean over that image's usable pixels) and then averaged
  over the images that have at least one usable pixel, so ``loss([a, b]) == (loss(a) + loss(b))/2``
  whenever both images have usable pixels. With no usable pixel anywhere the loss is an exact
  0 that still carries a (zero) gradient path to ``pred``.

The helpers :func:`sanitize`, :func:`masked_image_mean`, :func:`erode_mask` and
:func:`sobel_gradients` are public because the other loss modules reuse them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "sanitize",
    "masked_image_mean",
    "erode_mask",
    "sobel_gradients",
    "depth_mse",
    "gradient_l1",
    "normals_from_depth",
    "normal_l1",
    "modest_depth_loss",
]


def sanitize(target: torch.Tensor, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(target_clean, valid_clean)`` for a depth target.

    Args:
        target: (B, 1, H, W) depth in metres; may hold NaN/inf anywhere.
        valid: (B, 1, H, W) bool (or anything castable to bool), or None for "all pixels".

    Returns:
        ``valid_clean`` (B, 1, H, W) bool = ``valid & isfinite(target)``, and ``target_clean``
        (same shape and dtype as ``target``) equal to ``target`` where ``valid_clean`` and 0
        elsewhere, so that arithmetic on it never creates NaN.
    """
    finite = torch.isfinite(target)
    if valid is None:
        v = finite
    else:
        v = valid.to(torch.bool).expand_as(target) & finite
    return torch.where(v, target, torch.zeros_like(target)), v


def masked_image_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of a per-pixel quantity over masked pixels, per image, then over images.

    Args:
        x: (B, H, W) or (B, 1, H, W) per-pixel values (already reduced over channels). Values at
            masked-out pixels may be anything finite or not: they are selected away with
            :func:`torch.where`, but NaN there would still poison the gradient, so callers pass
            values computed from sanitised inputs.
        mask: bool tensor broadcastable to ``x``.

    Returns:
        Scalar: average over images with at least one masked pixel of (sum of x over the image's
        masked pixels / their count). 0 with a gradient path if no pixel is masked.
    """
    b = x.shape[0]
    m = mask.to(torch.bool).expand_as(x)
    xs = torch.where(m, x, torch.zeros_like(x)).reshape(b, -1).sum(dim=1)
    n = m.reshape(b, -1).sum(dim=1)
    has = (n > 0).to(xs.dtype)
    per_image = xs / n.clamp(min=1).to(xs.dtype)  # 0 for images without masked pixels
    return (per_image * has).sum() / has.sum().clamp(min=1.0)


def erode_mask(valid: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Binary erosion of a mask with a ``size`` x ``size`` square; pixels outside the image count as invalid.

    Args:
        valid: (B, C, H, W) bool.
        size: odd window size in pixels.

    Returns:
        (B, C, H, W) bool, True where every pixel of the window around it is valid.
    """
    r = size // 2
    inv = (~valid.to(torch.bool)).to(torch.float32)
    inv = F.pad(inv, (r, r, r, r), value=1.0)
    return F.max_pool2d(inv, kernel_size=size, stride=1) < 0.5


def sobel_gradients(x: torch.Tensor, padding: str = "replicate") -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives along x (columns) and y (rows), per channel.

    The 3x3 Sobel kernels are divided by 8, so a ramp ``x[..., i, j] = a*j`` gives ``gx = a``
    exactly (units: input units per pixel).

    Args:
        x: (B, C, H, W) float.
        padding: mode for :func:`torch.nn.functional.pad` ("replicate", "reflect", "constant").

    Returns:
        ``(gx, gy)``, each (B, C, H, W). Values on the 1-pixel border depend on the padding;
        depth losses exclude them through :func:`erode_mask`.
    """
    c = x.shape[1]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8.0
    ky = kx.t().contiguous()
    w = torch.stack([kx, ky]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C,1,3,3): [kx, ky] per channel
    xp = F.pad(x, (1, 1, 1, 1), mode=padding)
    g = F.conv2d(xp, w, groups=c)  # (B, 2C, H, W), channel 2i = gx of i, 2i+1 = gy of i
    return g[:, 0::2], g[:, 1::2]


def depth_mse(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, K: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared depth error over valid pixels (m^2).

    Args:
        pred: (B, 1, H, W) predicted depth, metres.
        target: (B, 1, H, W) ground-truth depth, metres (NaN allowed where invalid).
        valid: (B, 1, H, W) bool.
        K: ignored (accepted for the common loss signature).

    Returns:
        Scalar tensor: per-image mean of (pred - target)^2 over valid pixels, averaged over images.
    """
    t, v = sanitize(target, valid)
    return masked_image_mean((pred - t) ** 2, v)


def gradient_l1(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, K: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 distance between the Sobel gradients of prediction and target (metres per pixel).

    Per pixel the term is ``|gx_p - gx_t| + |gy_p - gy_t|`` (Sobel divided by 8, see
    :func:`sobel_gradients`); it is averaged over pixels whose full 3x3 neighbourhood is valid
    (the valid mask eroded by 3x3, image border excluded).

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        K: ignored.

    Returns:
        Scalar tensor.
    """
    t, v = sanitize(target, valid)
    m = erode_mask(v, 3)
    gxp, gyp = sobel_gradients(pred)
    gxt, gyt = sobel_gradients(t)
    per_px = (gxp - gxt).abs() + (gyp - gyt).abs()
    return masked_image_mean(per_px, m)


def normals_from_depth(
    depth: torch.Tensor, K: torch.Tensor, valid: torch.Tensor | None = None, eps: float = 1e-12
) -> torch.Tensor:
    """Unit surface normals from a depth map, in the camera frame (x right, y down, z forward).

    Each pixel (u, v) is back-projected to ``P = depth * K^-1 [u, v, 1]^T`` (metres). The tangents
    are central differences ``Pu = (P[u+1] - P[u-1]) / 2`` and ``Pv = (P[v+1] - P[v-1]) / 2``,
    rescaled by ``fx`` and ``fy`` (a positive rescale that keeps the direction and avoids tiny
    magnitudes), and the normal is ``n = Pv x Pu`` normalised to unit length. With this order
    the normal points **towards the camera**: the plane ``z = c`` gives ``n = (0, 0, -1)``.

    Args:
        depth: (B, 1, H, W) metres.
        K: (B, 3, 3) intrinsics in pixels for this H, W (a (3, 3) matrix is broadcast).
        valid: optional (B, 1, H, W) bool; where given, invalid depth is replaced by 0 before any
            arithmetic and normals are zeroed where the 3x3 neighbourhood is not fully valid.
        eps: added to the squared norm before the square root (keeps gradients finite).

    Returns:
        (B, 3, H, W) normals: unit length where computable, zero on the 1-pixel image border
        (and, with ``valid``, where a neighbour is invalid).
    """
    b, _, h, w = depth.shape
    if valid is not None:
        depth, valid = sanitize(depth, valid)
    if K.dim() == 2:
        K = K.unsqueeze(0).expand(b, 3, 3)
    K = K.to(dtype=depth.dtype, device=depth.device)
    kinv = torch.linalg.inv(K)  # (B,3,3)
    vs, us = torch.meshgrid(
        torch.arange(h, dtype=depth.dtype, device=depth.device),
        torch.arange(w, dtype=depth.dtype, device=depth.device),
        indexing="ij",
    )
    pix = torch.stack([us, vs, torch.ones_like(us)], dim=0).reshape(3, -1)  # (3, HW)
    rays = torch.matmul(kinv, pix).reshape(b, 3, h, w)
    pts = rays * depth  # (B,3,H,W)
    fx = K[:, 0, 0].reshape(b, 1, 1, 1)
    fy = K[:, 1, 1].reshape(b, 1, 1, 1)
    pu = (pts[:, :, 1:-1, 2:] - pts[:, :, 1:-1, :-2]) * (0.5 * fx)
    pv = (pts[:, :, 2:, 1:-1] - pts[:, :, :-2, 1:-1]) * (0.5 * fy)
    n = torch.cross(pv, pu, dim=1)
    n = n / torch.sqrt((n * n).sum(dim=1, keepdim=True) + eps)
    n = F.pad(n, (1, 1, 1, 1), value=0.0)
    if valid is not None:
        n = torch.where(erode_mask(valid, 3), n, torch.zeros_like(n))
    return n


def normal_l1(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """L1 distance between the unit normals of prediction and target (dimensionless).

    Per pixel the term is ``sum_c |n_pred,c - n_target,c|`` (L1 of the normal vectors, range
    [0, 2*sqrt(3)]; not ``1 - cos``), averaged over pixels whose 3x3 neighbourhood is valid.

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        K: (B, 3, 3) intrinsics in pixels.

    Returns:
        Scalar tensor.
    """
    t, v = sanitize(target, valid)
    m = erode_mask(v, 3)
    n_p = normals_from_depth(pred, K)
    n_t = normals_from_depth(t, K)
    per_px = (n_p - n_t).abs().sum(dim=1, keepdim=True)
    return masked_image_mean(per_px, m)


def modest_depth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    K: torch.Tensor,
    w_grad: float = 1.0,
    w_normal: float = 1.0,
) -> torch.Tensor:
    """MODEST / EGSA-PT depth loss: ``depth_mse + w_grad * gradient_l1 + w_normal * normal_l1``.

    Args:
        pred, target: (B, 1, H, W) metres.
        valid: (B, 1, H, W) bool.
        K: (B, 3, 3) intrinsics in pixels (needed for the normal term; may be None if
            ``w_normal == 0``).
        w_grad, w_normal: term weights (paper: 1 and 1).

    Returns:
        Scalar tensor (mixed units: m^2 + m/px + unitless, as in the paper).
    """
    loss = depth_mse(pred, target, valid)
    if w_grad:
        loss = loss + w_grad * gradient_l1(pred, target, valid)
    if w_normal:
        if K is None:
            raise ValueError("modest_depth_loss needs intrinsics K for the normal term (or w_normal=0)")
        loss = loss + w_normal * normal_l1(pred, target, valid, K)
    return loss
