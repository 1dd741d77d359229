"""Back-project masked depth pixels to 3-D points in the camera optical frame."""

from __future__ import annotations

import numpy as np


def masked_points(depth: np.ndarray, mask: np.ndarray, K: np.ndarray, *, stride: int = 1) -> np.ndarray:
    """(N, 3) float32 xyz metres of the pixels where ``mask`` is set and depth is finite.

    Optical frame (REP 103): x right, y down, z forward; ``x = (u - cx) z / fx``, pixel
    centres at integer coordinates as in ``sensor_msgs/CameraInfo``.

    Args:
        depth: (H, W) float32 z-depth in metres.
        mask: (H, W) uint8/bool, non-zero pixels are kept.
        K: (3, 3) intrinsics (CameraInfo ``k``) for the (H, W) image.
        stride: keep every ``stride``-th row and column (thins dense clouds).
    """
    if depth.shape != mask.shape:
        raise ValueError(f"depth {depth.shape} and mask {mask.shape} differ")
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"invalid intrinsics fx={fx}, fy={fy}")
    rows, cols = masked_pixels(depth, mask, stride=stride)
    z = depth[rows, cols].astype(np.float64)
    u, v = cols.astype(np.float64), rows.astype(np.float64)
    return np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1).astype(np.float32)


def masked_pixels(depth: np.ndarray, mask: np.ndarray, *, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols): the (N,) int pixel coordinates :func:`masked_points` turns into points, in
    its order (row-major over every ``stride``-th row and column where ``mask`` is set and
    ``depth`` ((H, W) metres) is finite and > 0)."""
    if depth.shape != mask.shape:
        raise ValueError(f"depth {depth.shape} and mask {mask.shape} differ")
    d = depth[::stride, ::stride]
    with np.errstate(invalid="ignore"):
        keep = mask[::stride, ::stride].astype(bool) & np.isfinite(d) & (d > 0)
    rows, cols = np.nonzero(keep)
    return rows * stride, cols * stride
