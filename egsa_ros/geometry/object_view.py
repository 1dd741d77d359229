"""An object's pixels as directions seen from the camera, relative to the support plane.

Each pixel's ray is split into an azimuth (direction on the table, around the point straight
below the camera) and an elevation (angle above the table's plane; negative = looking down).
Vertical lines in the world keep one azimuth, so "the lowest pixel of each image column" is,
for any camera roll or pitch, "the lowest-elevation pixel of each azimuth", and the two edges
of a horizontal circle around a vertical axis share one elevation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import dot3, pixel_rays
from .plane import Plane


@dataclass(frozen=True)
class ObjectView:
    """Angles of one object's pixels.

    Attributes:
        u, v: (N,) float64 pixel columns and rows.
        rays: (N, 3) rays with z = 1 (``t * ray`` has z-depth ``t``).
        azimuth: (N,) radians, relative to ``azimuth_ref``, in (-pi, pi].
        elevation: (N,) radians above the plane (negative: below the horizon).
        azimuth_ref: the object's mean azimuth in the plane frame ``(e1, e2)``, radians.
        azimuth_step, elevation_step: radians per pixel near the object.
        down: (2,) unit image direction (du, dv) in which elevation decreases ("down").
        e1, e2: the plane frame (see :meth:`Plane.frame`).
    """

    u: np.ndarray
    v: np.ndarray
    rays: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    azimuth_ref: float
    azimuth_step: float
    elevation_step: float
    down: np.ndarray
    e1: np.ndarray
    e2: np.ndarray

    def horizontal(self, azimuth_rel: np.ndarray) -> np.ndarray:
        """(N, 3) unit horizontal directions of relative azimuths (N,)."""
        absolute = np.asarray(azimuth_rel, dtype=np.float64) + self.azimuth_ref
        return np.cos(absolute)[:, None] * self.e1 + np.sin(absolute)[:, None] * self.e2


def object_view(u: np.ndarray, v: np.ndarray, K: np.ndarray, plane: Plane) -> ObjectView:
    """:class:`ObjectView` of pixels at columns ``u`` and rows ``v`` ((N,) arrays) for intrinsics
    ``K`` (3, 3) and the support ``plane``."""
    e1, e2 = plane.frame()
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    rays = pixel_rays(u, v, K)
    along1, along2, up = dot3(rays, e1), dot3(rays, e2), dot3(rays, plane.normal)
    ref = float(np.arctan2(along2.mean(), along1.mean()))
    azimuth = _wrap(np.arctan2(along2, along1) - ref)
    elevation = np.arctan2(up, np.hypot(along1, along2))
    # Angle steps per pixel from the rays of a pixel and its right and lower neighbours.
    u0, v0 = float(np.median(u)), float(np.median(v))
    probe = pixel_rays(np.array([u0, u0 + 1, u0]), np.array([v0, v0, v0 + 1]), K)
    p1, p2, pn = probe @ e1, probe @ e2, probe @ plane.normal
    probe_azimuth = np.arctan2(p2, p1)
    probe_elevation = np.arctan2(pn, np.hypot(p1, p2))
    grad_azimuth = _wrap(probe_azimuth[1:] - probe_azimuth[0])
    grad_elevation = probe_elevation[1:] - probe_elevation[0]
    elevation_step = float(np.hypot(*grad_elevation))
    down = -grad_elevation / max(elevation_step, 1e-12)
    return ObjectView(u, v, rays, azimuth, elevation, ref, float(np.hypot(*grad_azimuth)), elevation_step, down, e1, e2)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi
