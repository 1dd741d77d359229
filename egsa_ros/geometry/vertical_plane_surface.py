"""The simplest surface model: the object's visible surface is a vertical plane through its
base point (the contact point nearest the camera), facing the camera.

Its back is a parallel plane one object-width further (a footprint as deep as it is wide; exact
for a cube or a cylinder's extent). The height comes from the object's top pixel: looking down,
the top edge seen is the far one (on the back plane); looking up, the near one. Exact for a
box seen face-on; on round objects the depth away from the base point is too near (by up to
the radius at the silhouette's sides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import dot3
from .footprint import Footprint
from .object_view import ObjectView
from .plane import Plane
from .surface import close_solid


@dataclass(frozen=True)
class VerticalPlaneSurface:
    """A box-like object model.

    Attributes:
        base_point: (3,) contact point nearest the camera, optical frame, metres.
        facing: (3,) unit horizontal normal of the front plane, pointing towards the camera.
        thickness: distance from the front to the back plane, metres (= width).
        width: horizontal extent of the silhouette on the front plane, metres.
        height: top above the support plane, metres.
        footprint_centre: (3,) centre of the footprint rectangle on the plane, metres.
        up: (3,) the plane's unit normal.
        open_top: the top is cut by the image border: ``height`` is a lower bound and the
            depth is not closed by a top face.
    """

    base_point: np.ndarray
    facing: np.ndarray
    thickness: float
    width: float
    height: float
    footprint_centre: np.ndarray
    up: np.ndarray
    open_top: bool = False

    def depths(self, rays: np.ndarray, plane: Plane) -> tuple[np.ndarray, np.ndarray]:
        """(front, back) z-depths, metres, of (N, 3) rays (z = 1)."""
        toward = dot3(rays, self.facing)
        with np.errstate(divide="ignore", invalid="ignore"):
            front = (self.facing @ self.base_point) / toward
            back = (self.facing @ self.base_point - self.thickness) / toward
        return close_solid(front, back, rays, plane, np.inf if self.open_top else self.height)

    @property
    def centroid(self) -> np.ndarray:
        """(3,) centre of the box, metres."""
        return self.footprint_centre + 0.5 * self.height * self.up


def fit_vertical_plane(view: ObjectView, footprint: Footprint, plane: Plane, top_cut: bool) -> VerticalPlaneSurface:
    """Fit :class:`VerticalPlaneSurface` to an object's pixels.

    Args:
        view: the object's pixel angles.
        footprint: its contact footprint.
        plane: the support plane.
        top_cut: the object's top is cut by the image border (the height is then a lower bound,
            from the highest pixel on the front plane).
    """
    base = footprint.base_point
    outward = base - plane.camera_foot
    distance = float(np.linalg.norm(outward))
    facing = -outward / distance
    lateral = np.cross(plane.normal, facing)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_front = (facing @ base) / dot3(view.rays, facing)
    on_front = t_front[:, None] * view.rays
    across = dot3(on_front, lateral)
    width = float(np.ptp(across)) + view.azimuth_step * distance
    top = int(np.argmax(view.elevation))
    if top_cut:
        height = float(np.max(plane.signed_distance(on_front)))
    else:
        elevation = view.elevation[top] + 0.5 * view.elevation_step
        off_axis = np.cos(view.azimuth[top] - footprint.azimuth[footprint.nearest])
        reach = (distance + (width if elevation < 0 else 0.0)) / max(off_axis, 1e-6)
        height = plane.offset + reach * np.tan(elevation)
    centre = base + lateral * (0.5 * (across.min() + across.max()) - lateral @ base) - facing * (0.5 * width)
    return VerticalPlaneSurface(base, facing, width, width, float(height), centre, plane.normal, top_cut)
