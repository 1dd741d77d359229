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
    d = depth[::stride, ::stride]
    keep = mask[::stride, ::stride].astype(bool) & np.isfinite(d) & (d > 0)
    v, u = np.nonzero(keep)
    u = u.astype(np.float64) * stride
    v = v.astype(np.float64) * stride
    z = d[keep].astype(np.float64)
    return np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1).astype(np.float32)
