"""The contact footprint: where an object's lowest pixels meet the support plane.

For each azimuth (about one pixel wide), the object's lowest-elevation pixel is taken; its ray,
lowered by half a pixel (pixel centres lie up to a pixel inside the true outline), is
intersected with the plane. For an object standing on the plane this is the visible front edge
of its base. Refused (no numbers) when those rays point above the horizon (the footprint would
be behind the camera) or nearly along the plane (its distance is then ill-determined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .object_view import ObjectView
from .plane import Plane


@dataclass(frozen=True)
class Footprint:
    """Contact footprint of one object.

    Attributes:
        points: (M, 3) float64 contact points in the optical frame, metres.
        distance: (M,) horizontal distance of each from the camera's foot on the plane, metres.
        azimuth: (M,) relative azimuth of each (see :class:`ObjectView`), radians.
        pixels: (M, 2) (u, v) of the lowest pixel each comes from.
        nearest: index of the point nearest the camera (the base point).
    """

    points: np.ndarray
    distance: np.ndarray
    azimuth: np.ndarray
    pixels: np.ndarray
    nearest: int

    @property
    def base_point(self) -> np.ndarray:
        """(3,) the footprint point nearest the camera, metres."""
        return self.points[self.nearest]


def contact_footprint(
    view: ObjectView, plane: Plane, min_base_angle_deg: float = 2.0, candidates: np.ndarray | None = None
) -> Footprint | tuple[str, str]:
    """The :class:`Footprint` of an object, or ``(code, reason)`` when refused.

    Args:
        view: the object's pixel angles.
        plane: the support plane.
        min_base_angle_deg: base rays must point at least this far below the horizon, degrees.
        candidates: optional (N,) bool: only these of the view's pixels may be lowest (e.g. the
            outline pixels with nothing of the object below them).
    """
    step = max(view.azimuth_step, 1e-9)
    pool = np.arange(len(view.azimuth)) if candidates is None else np.flatnonzero(candidates)
    if len(pool) == 0:
        return "footprint_behind_camera", "no lowest pixels"  # pragma: no cover - outlines always have some
    column = np.floor((view.azimuth[pool] - view.azimuth.min()) / step).astype(np.int64)
    order = np.lexsort((view.elevation[pool], column))
    first = np.ones(len(order), bool)
    first[1:] = column[order][1:] != column[order][:-1]
    lowest = pool[order[first]]
    elevation = view.elevation[lowest] - 0.5 * view.elevation_step
    if np.any(elevation >= 0):
        return (
            "footprint_behind_camera",
            "the object's lowest pixels look above the horizon: its base would be behind the camera",
        )
    if np.any(elevation > -np.radians(min_base_angle_deg)):
        return (
            "base_ray_parallel",
            f"base rays within {min_base_angle_deg} deg of the plane: contact distance ill-determined",
        )
    distance = plane.offset / np.tan(-elevation)
    azimuth = view.azimuth[lowest]
    points = plane.camera_foot + distance[:, None] * view.horizontal(azimuth)
    pixels = np.stack([view.u[lowest], view.v[lowest]], axis=1)
    return Footprint(points, distance, azimuth, pixels, int(np.argmin(distance)))
