"""Surface-of-revolution model: a vertical axis through the footprint's centre, a radius per
height from the silhouette's width.

Seen from the camera, a vertical circle of radius R whose centre lies D from the camera's foot
(horizontally) spans half an azimuth ``alpha`` with ``sin(alpha) = R / D``, and its two
silhouette points (where rays graze it) lie ``D cos(alpha)`` from the foot, at one elevation.
So:

- the axis azimuth is the median centre of the silhouette's azimuth span per elevation;
- the base's half-span ``alpha0`` (azimuths of the footprint points on the base's arc, see
  :func:`_base_arc`) and each of those footprint points
  (distance rho, azimuth phi from the axis) give ``D = rho (cos phi + sqrt(cos^2 phi -
  cos^2 alpha0)) / cos^2 alpha0`` (the point's circle equation); D is their median;
- each elevation band of the silhouette (about one pixel) gives a profile sample:
  ``R = D sin(alpha)`` at height ``z = h_cam + D cos(alpha) tan(elevation)``;
- the object's top is where the profile meets the top pixel's ray: looking down, the top
  pixel sees the far rim, ``D + R`` from the foot; looking up, the near rim, ``D - R``. Bands
  above it (the outline of the top face) are dropped.

Exact for cylinders (up to pixel quantisation); for tapered profiles (cones, stems) the grazing
points are not exactly at ``D cos(alpha)``, an approximation of a few millimetres.
Depth per pixel: the ray meets the circle of radius R(z) (front: near root; back: far root),
iterated because R depends on the height where it meets it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from .camera import dot3
from .footprint import Footprint
from .object_view import ObjectView
from .plane import Plane
from .surface import close_solid

ITERATIONS = 3


@dataclass(frozen=True)
class RevolutionSurface:
    """A rotationally symmetric object standing on the plane.

    Attributes:
        axis_foot: (3,) where the vertical axis meets the plane, optical frame, metres.
        up: (3,) the plane's unit normal (the axis direction).
        profile_z: (M,) heights above the plane, increasing, metres.
        profile_r: (M,) radius at each height, metres.
        height: top above the plane, metres.
        open_top: the top is cut by the image border: ``height`` is a lower bound and the
            depth is not closed by a top face.
    """

    axis_foot: np.ndarray
    up: np.ndarray
    profile_z: np.ndarray
    profile_r: np.ndarray
    height: float
    open_top: bool = False

    def radius_at(self, z: np.ndarray) -> np.ndarray:
        """Radius (metres) at heights ``z`` (metres), constant beyond the profile's ends."""
        return np.interp(z, self.profile_z, self.profile_r)

    @property
    def width(self) -> float:
        """Largest diameter, metres."""
        return float(2 * self.profile_r.max())

    @property
    def centroid(self) -> np.ndarray:
        """(3,) centre of mass of the solid (uniform density), metres."""
        z = np.linspace(0.0, self.height, 65)
        area = self.radius_at(z) ** 2
        mean_z = float(np.sum(z * area) / max(np.sum(area), 1e-18))  # uniform samples: a Riemann mean
        return self.axis_foot + mean_z * self.up

    def depths(self, rays: np.ndarray, plane: Plane) -> tuple[np.ndarray, np.ndarray]:
        """(front, back) z-depths, metres, of (N, 3) rays (z = 1). Rays that miss the solid take
        the point of their closest horizontal approach to the axis for both."""
        axis = self.axis_foot - plane.camera_foot  # horizontal, from the camera's foot
        along = dot3(rays, plane.normal)
        horizontal = rays - along[:, None] * plane.normal
        square = dot3(horizontal * horizontal, np.ones(3))
        closest = dot3(horizontal, axis) / square
        spare = closest**2 - (axis @ axis) / square
        radius = np.full(len(rays), self.profile_r[0])
        for _ in range(ITERATIONS):
            root = np.sqrt(np.maximum(spare + radius**2 / square, 0.0))
            front = closest - root
            radius = self.radius_at(plane.offset + front * along)
        root = np.sqrt(np.maximum(spare + radius**2 / square, 0.0))
        front = closest - root
        back_radius = self.radius_at(plane.offset + (closest + root) * along)
        back = closest + np.sqrt(np.maximum(spare + back_radius**2 / square, 0.0))
        return close_solid(front, back, rays, plane, np.inf if self.open_top else self.height)


def fit_revolution(view: ObjectView, footprint: Footprint, plane: Plane, top_cut: bool) -> RevolutionSurface | None:
    """Fit :class:`RevolutionSurface` to an object's silhouette, or None when the silhouette gives
    no usable profile.

    Args:
        view: the object's pixel angles.
        footprint: its contact footprint.
        plane: the support plane.
        top_cut: the top is cut by the image border: no rim search; the height is the highest
            profile sample (a lower bound).
    """
    low, high, band_elevation = _bands(view)
    centre = float(np.median(0.5 * (low + high)))
    half_step = 0.5 * view.azimuth_step
    on_base = _base_arc(footprint, centre, half_step)
    off = np.abs(footprint.azimuth[on_base] - centre)
    base_half = float(off.max()) + half_step
    if not 0 < base_half < 0.5 * np.pi:
        return None
    cos2 = np.cos(base_half) ** 2
    reach = footprint.distance[on_base] * (np.cos(off) + np.sqrt(np.maximum(np.cos(off) ** 2 - cos2, 0.0))) / cos2
    distance = float(np.median(reach))
    half = np.minimum(0.5 * (high - low) + half_step, 0.5 * np.pi - 1e-6)
    radius = distance * np.sin(half)
    z = plane.offset + distance * np.cos(half) * np.tan(band_elevation)
    if top_cut:
        keep = z > 0
        height = float(z[keep].max()) if keep.any() else np.nan
    else:
        top = float(view.elevation.max()) + 0.5 * view.elevation_step
        rim_z = plane.offset + (distance + np.sign(-top) * radius) * np.tan(top)
        crossing = np.nonzero(z >= rim_z - 1e-4)[0]
        last = int(crossing[0]) if len(crossing) else len(z) - 1
        height = float(rim_z[last])
        keep = (z > 0) & (np.arange(len(z)) <= last)
    if not keep.any() or not np.isfinite(height) or height <= 0:
        return None
    z, radius = z[keep], radius[keep]
    order = np.argsort(z)
    z, radius = np.minimum(z[order], height), median_filter(radius[order], size=3, mode="nearest")
    profile_z = np.concatenate([[0.0], z, [height]])
    profile_r = np.concatenate([[radius[0]], radius, [radius[-1]]])
    azimuth = view.azimuth_ref + centre
    foot = plane.camera_foot + distance * (np.cos(azimuth) * view.e1 + np.sin(azimuth) * view.e2)
    return RevolutionSurface(foot, plane.normal, profile_z, profile_r, height, top_cut)


def _base_arc(footprint: Footprint, centre: float, half_step: float) -> np.ndarray:
    """(M,) bool: footprint points on the base's visible arc.

    Where an object widens above its base (a tumbler, a wine glass's bowl), the lowest pixels at
    the outer azimuths see its side, not its base, and their rays meet the plane well behind it.
    A circular base's visible arc lies at most about one radius behind its nearest point; the
    radius is bounded by the arc's own half-width, so points farther behind than 1.15 times
    that half-width are dropped (three rounds, the half-width shrinking with them).
    """
    off = footprint.azimuth - centre
    rho = footprint.distance
    behind = rho - rho.min()
    keep = np.ones(len(rho), bool)
    for _ in range(3):
        lateral = rho[keep] * np.sin(off[keep])
        half_width = 0.5 * float(np.ptp(lateral)) + half_step * float(rho.min())
        keep = behind <= 1.15 * half_width
    return keep


def _bands(view: ObjectView):
    """Per elevation band (one pixel tall), the lowest and highest relative azimuth (radians) and
    the mean elevation of the two pixels at those ends; bands ordered by elevation."""
    band = np.floor((view.elevation - view.elevation.min()) / max(view.elevation_step, 1e-12)).astype(np.int64)
    order = np.lexsort((view.azimuth, band))
    sorted_band = band[order]
    starts = np.flatnonzero(np.r_[True, sorted_band[1:] != sorted_band[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    left, right = order[starts], order[ends]
    return view.azimuth[left], view.azimuth[right], 0.5 * (view.elevation[left] + view.elevation[right])
