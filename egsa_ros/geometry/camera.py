"""Pinhole camera helpers: intrinsics checks and pixel rays in the optical frame.

Optical frame (REP 103): x right, y down, z forward, metres. Pixel centres sit at integer
coordinates, as in ``sensor_msgs/CameraInfo``. A pixel's ray is ``K^-1 [u, v, 1]``: its z
component is 1, so a point ``t * ray`` has z-depth ``t``.
"""

from __future__ import annotations

import numpy as np


def checked_intrinsics(K) -> np.ndarray:
    """(3, 3) float64 copy of ``K``; raises ``ValueError`` naming the problem if it is not a
    usable pinhole matrix (wrong size, non-finite, fx or fy not positive)."""
    K = np.asarray(K, dtype=np.float64)
    if K.size != 9:
        raise ValueError(f"K must have 9 values (3x3), got shape {K.shape}")
    K = K.reshape(3, 3)
    if not np.all(np.isfinite(K)):
        raise ValueError("K has non-finite values")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"invalid intrinsics fx={K[0, 0]}, fy={K[1, 1]}")
    return K


def pixel_rays(u: np.ndarray, v: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) float64 rays ``K^-1 [u, v, 1]`` (z component 1) of pixels at columns ``u`` and
    rows ``v`` ((N,) arrays, pixels; fractional values allowed). Ignores skew."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)


def back_project(depth: np.ndarray, K: np.ndarray, stride: int = 1):
    """Points of a z-depth image, subsampled.

    Args:
        depth: (H, W) z-depth, metres (NaN or <= 0 where unknown).
        K: (3, 3) intrinsics of the (H, W) image.
        stride: use every ``stride``-th row and column.
    Returns:
        ``(points, valid)``: (h, w, 3) float64 xyz metres in the optical frame and the (h, w)
        bool mask of finite, positive depths, where ``h = ceil(H / stride)``.
    """
    step = max(1, int(stride))
    sub = np.asarray(depth, dtype=np.float64)[::step, ::step]
    v, u = np.mgrid[0 : sub.shape[0], 0 : sub.shape[1]]
    rays = pixel_rays(u * step, v * step, K)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(sub) & (sub > 0)
    return rays * np.where(valid, sub, 0.0)[..., None], valid


def dot3(points: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """(...,) dot products of (..., 3) points with one (3,) vector, without BLAS (whose thread
    start-up costs more than this work on small arrays when cores are busy)."""
    return points[..., 0] * vector[0] + points[..., 1] * vector[1] + points[..., 2] * vector[2]
