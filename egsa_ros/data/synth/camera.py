"""Pinhole camera maths in the OpenCV optical convention (x right, y down, z forward).

World frame: metres, z up, table top at z = 0. Mitsuba's camera frame is x left, y up,
z forward, so its ``to_world`` is the OpenCV camera-to-world times diag(-1, -1, 1, 1).
"""

from __future__ import annotations

import numpy as np

OPENCV_TO_MITSUBA = np.diag([-1.0, -1.0, 1.0, 1.0])
"""Right-multiply an OpenCV camera-to-world by this to get Mitsuba's camera-to-world."""


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """3x3 K in pixels for square pixels and a centred principal point.

    Pixel (u, v) = (column, row) indices name pixel centres, as in OpenCV, so
    cx = (width - 1) / 2 and fx = (width / 2) / tan(hfov / 2).
    """
    fx = 0.5 * width / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[fx, 0.0, (width - 1) / 2.0], [0.0, fx, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye, target, up=(0.0, 0.0, 1.0), roll_deg: float = 0.0) -> np.ndarray:
    """4x4 camera-to-world (OpenCV axes) at ``eye`` looking at ``target``; roll about the view axis."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("view direction is parallel to the up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    x, y = c * x + s * y, -s * x + c * y
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = x, y, z, eye
    return c2w


def pitch_down_deg(c2w: np.ndarray) -> float:
    """Angle of the optical axis below the horizontal, degrees (positive = looking down)."""
    return float(np.degrees(np.arcsin(-np.asarray(c2w)[2, 2])))


def project(K: np.ndarray, c2w: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) -> pixel coordinates (N, 2) and camera z (N,), metres."""
    w2c = np.linalg.inv(c2w)
    pc = (w2c[:3, :3] @ np.asarray(points, np.float64).T).T + w2c[:3, 3]
    uv = (K @ pc.T).T
    return uv[:, :2] / uv[:, 2:3], pc[:, 2]
