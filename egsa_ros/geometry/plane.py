"""The support plane (the table) in the camera's optical frame, and a plane estimate with its
source and refusal reason.

A plane is ``n . X + d = 0`` with ``X`` in the optical frame (x right, y down, z forward,
metres), ``n`` a unit normal pointing from the table towards the camera, so ``d`` is the
camera's height above the plane (metres, > 0 for a usable plane) and ``n`` is "up" as seen
from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import dot3

# Plane sources, in order of trust (see :func:`egsa_ros.geometry.plane_choice.choose_plane`).
SENSOR_DEPTH = "sensor_depth"
CAMERA_POSE = "camera_pose"
CAMERA_HEIGHT = "camera_height"
NETWORK_DEPTH = "network_depth"
PLANE_SOURCES = (SENSOR_DEPTH, CAMERA_POSE, CAMERA_HEIGHT, NETWORK_DEPTH)


@dataclass(frozen=True)
class Plane:
    """``normal . X + offset = 0``.

    Attributes:
        normal: (3,) float64 unit normal in the optical frame, pointing towards the camera.
        offset: camera height above the plane, metres.
    """

    normal: np.ndarray
    offset: float

    @property
    def camera_height(self) -> float:
        """Distance from the camera centre to the plane, metres."""
        return float(self.offset)

    @property
    def camera_foot(self) -> np.ndarray:
        """(3,) the point of the plane straight below the camera, metres."""
        return -self.offset * self.normal

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """(...,) height of (..., 3) points above the plane, metres."""
        return dot3(np.asarray(points, dtype=np.float64), self.normal) + self.offset

    def ray_depth(self, rays: np.ndarray) -> np.ndarray:
        """(N,) z-depth (metres) where (N, 3) rays with z = 1 meet the plane; NaN for rays that
        do not point towards it (parallel, or meeting it behind the camera)."""
        along = dot3(np.asarray(rays, dtype=np.float64), self.normal)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -self.offset / along
        return np.where(along < 0, t, np.nan)

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Two (3,) unit vectors ``(e1, e2)`` spanning the plane; ``(e1, e2, normal)`` is
        right-handed. ``e1`` is the optical axis projected on the plane (the camera's
        "forward" on the table); for a camera looking straight down, the image's x axis."""
        for axis in (np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])):
            flat = axis - (axis @ self.normal) * self.normal
            length = float(np.linalg.norm(flat))
            if length > 1e-3:
                e1 = flat / length
                return e1, np.cross(self.normal, e1)
        raise ValueError("degenerate plane normal")  # pragma: no cover - unit normals always pass

    def angle_to(self, other: Plane) -> float:
        """Angle between the two normals, degrees."""
        return float(np.degrees(np.arccos(np.clip(self.normal @ other.normal, -1.0, 1.0))))


def make_plane(normal, offset: float) -> Plane:
    """A :class:`Plane` from any non-zero (3,) normal and its offset: the normal is scaled to unit
    length and both are flipped if needed so the camera is on the positive side."""
    n = np.asarray(normal, dtype=np.float64).reshape(3)
    length = float(np.linalg.norm(n))
    if not np.isfinite(length) or length == 0:
        raise ValueError(f"plane normal {n} is not a direction")
    n, d = n / length, float(offset) / length
    if d < 0:
        n, d = -n, -d
    return Plane(n, d)


@dataclass(frozen=True)
class PlaneEstimate:
    """One source's answer for the support plane.

    Attributes:
        plane: the plane, or None when refused.
        source: one of :data:`PLANE_SOURCES`.
        inliers: pixels on the fitted plane (after the fit's stride); 0 for pose sources.
        code: short refusal key for counters ("" when accepted), e.g. ``"too_few_pixels"``.
        reason: one human-readable line saying why it was refused ("" when accepted).
    """

    plane: Plane | None
    source: str
    inliers: int = 0
    code: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.plane is not None


def refused(source: str, code: str, reason: str, inliers: int = 0) -> PlaneEstimate:
    """A refused :class:`PlaneEstimate`."""
    return PlaneEstimate(None, source, inliers, code, reason)
