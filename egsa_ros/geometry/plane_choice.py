"""Pick the support plane from the sources a frame has, in order of trust.

Order: sensor depth (a measured plane), camera pose (4x4), camera height with pitch and roll,
the network's own depth (scale and tilt least exact). The first source that is given and not
refused wins; every source tried is kept with its refusal reason for diagnostics. A pose (or
pitch/roll) also gives the depth fits an "up" hint, so a large wall is not taken for the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .plane import CAMERA_HEIGHT, CAMERA_POSE, NETWORK_DEPTH, PLANE_SOURCES, SENSOR_DEPTH, Plane, PlaneEstimate
from .plane_fit import NETWORK_FIT, SENSOR_FIT, PlaneFitConfig, fit_plane_to_depth
from .plane_from_pose import plane_from_camera_pose, plane_from_height, up_from_pitch_roll


@dataclass(frozen=True)
class PlaneChoice:
    """Result of :func:`choose_plane`.

    Attributes:
        plane: the chosen plane, or None when every given source was refused (or none given).
        source: the chosen source ("" when none).
        estimates: every source tried, in the order tried (the chosen one last).
    """

    plane: Plane | None
    source: str
    estimates: tuple[PlaneEstimate, ...]

    @property
    def refusals(self) -> dict[str, str]:
        """{source: reason} for each source that was tried and refused."""
        return {e.source: e.reason for e in self.estimates if not e.ok}

    @property
    def inliers(self) -> int:
        """Inlier pixels of the chosen fit (0 for pose sources or no plane)."""
        return next((e.inliers for e in self.estimates if e.ok), 0)


def choose_plane(
    K: np.ndarray,
    *,
    sensor_depth: np.ndarray | None = None,
    transparent: np.ndarray | None = None,
    camera_pose: np.ndarray | None = None,
    camera_height_m: float | None = None,
    pitch_down_deg: float | None = None,
    roll_deg: float = 0.0,
    network_depth: np.ndarray | None = None,
    sources: Sequence[str] = PLANE_SOURCES,
    sensor_fit: PlaneFitConfig = SENSOR_FIT,
    network_fit: PlaneFitConfig = NETWORK_FIT,
) -> PlaneChoice:
    """The most trusted support plane available.

    Args:
        K: (3, 3) intrinsics of the depth images.
        sensor_depth: (H, W) float32 z-depth from a depth camera, metres, NaN where missing.
        transparent: (H, W) mask, non-zero on transparent pixels (excluded from the depth fits).
        camera_pose: 4x4 camera optical frame -> table frame (table = z = 0, z up), metres.
        camera_height_m: camera height above the table, metres; used with ``pitch_down_deg``
            (camera axis below horizontal, degrees) and ``roll_deg`` (see
            :func:`~egsa_ros.geometry.plane_from_pose.up_from_pitch_roll`).
        network_depth: (H, W) float32 predicted z-depth, metres.
        sources: the sources allowed, any subset of :data:`~egsa_ros.geometry.plane.PLANE_SOURCES`
            (order is always that of trust).
        sensor_fit, network_fit: fit parameters for the two depth sources.
    Returns:
        A :class:`PlaneChoice`.
    """
    unknown = set(sources) - set(PLANE_SOURCES)
    if unknown:
        raise ValueError(f"unknown plane sources {sorted(unknown)}; known: {PLANE_SOURCES}")
    up_hint = _up_hint(camera_pose, pitch_down_deg, roll_deg)
    attempts = {
        SENSOR_DEPTH: None
        if sensor_depth is None
        else lambda: fit_plane_to_depth(
            sensor_depth, K, exclude=transparent, up_hint=up_hint, config=sensor_fit, source=SENSOR_DEPTH
        ),
        CAMERA_POSE: None if camera_pose is None else lambda: plane_from_camera_pose(camera_pose),
        CAMERA_HEIGHT: None
        if camera_height_m is None or pitch_down_deg is None
        else lambda: plane_from_height(camera_height_m, pitch_down_deg, roll_deg),
        NETWORK_DEPTH: None
        if network_depth is None
        else lambda: fit_plane_to_depth(
            network_depth, K, exclude=transparent, up_hint=up_hint, config=network_fit, source=NETWORK_DEPTH
        ),
    }
    tried = []
    for source in PLANE_SOURCES:
        if source not in sources or attempts[source] is None:
            continue
        estimate = attempts[source]()
        tried.append(estimate)
        if estimate.ok:
            return PlaneChoice(estimate.plane, source, tuple(tried))
    return PlaneChoice(None, "", tuple(tried))


def _up_hint(camera_pose, pitch_down_deg, roll_deg) -> np.ndarray | None:
    """(3,) up in the optical frame from a valid pose or a pitch angle, else None."""
    if camera_pose is not None:
        estimate = plane_from_camera_pose(camera_pose)
        if estimate.ok or estimate.code == "camera_below_plane":
            pose = np.asarray(camera_pose, dtype=np.float64)
            return pose[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    if pitch_down_deg is not None and np.isfinite(pitch_down_deg) and np.isfinite(roll_deg):
        return up_from_pitch_roll(pitch_down_deg, roll_deg)
    return None
