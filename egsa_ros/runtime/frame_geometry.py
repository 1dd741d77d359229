"""Glass objects from a prediction, ROS-free: the Python API's :func:`glass_objects` and the
pieces egsa_node's per-frame logic takes from it (refined depth, completed depth, markers).

:func:`glass_objects` runs :func:`egsa_ros.geometry.glass_geometry` on a prediction's mask and
depth: the support plane (from the depth camera, the camera's pose or height, or the network's
own depth, whichever is the most trusted one available), the transparent instances and, for
each, its 3-D centroid, height, width, base point and a fused depth on its pixels. Optical frame
throughout (x right, y down, z forward), metres. ~6-12 ms per 480x640 frame on one CPU core.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..geometry import GlassConfig, GlassGeometry, ObjectGeometry, glass_geometry
from ..geometry.plane import CAMERA_HEIGHT, CAMERA_POSE, NETWORK_DEPTH, PLANE_SOURCES, SENSOR_DEPTH

PLANE_SOURCE_CHOICES = ("auto", "sensor", "pose", "network", "none")
"""``plane_source`` values: ``auto`` = every source, most trusted first (sensor depth, pose,
height, network depth); ``pose`` = the camera pose or the fixed height with pitch and roll;
``none`` = no plane (instances only, every object refused with ``no_plane``)."""

_SOURCES = {
    "auto": PLANE_SOURCES,
    "sensor": (SENSOR_DEPTH,),
    "pose": (CAMERA_POSE, CAMERA_HEIGHT),
    "network": (NETWORK_DEPTH,),
    "none": (),
}
METRIC_SOURCES = (SENSOR_DEPTH, CAMERA_POSE, CAMERA_HEIGHT)
"""Plane sources in metres of the real world (the network's plane carries the network's scale)."""
POSE_SOURCES = (CAMERA_POSE, CAMERA_HEIGHT)


def plane_sources(choice: str) -> tuple[str, ...]:
    """The geometry's plane sources for a ``plane_source`` choice (see :data:`PLANE_SOURCE_CHOICES`)."""
    if choice not in _SOURCES:
        raise ValueError(f"plane_source must be one of {list(PLANE_SOURCE_CHOICES)}, got {choice!r}")
    return tuple(_SOURCES[choice])


@dataclass(frozen=True)
class GlassObjects:
    """Result of :func:`glass_objects`; iterating gives the accepted objects.

    Attributes:
        geometry: the full :class:`~egsa_ros.geometry.GlassGeometry` (plane with every source's
            refusal, instances, objects refused ones included, model depths, counts).
        network_depth: (H, W) float32 metres: the prediction's depth the geometry ran on.
    """

    geometry: GlassGeometry
    network_depth: np.ndarray

    @functools.cached_property
    def depth(self) -> np.ndarray:
        """(H, W) float32 metres: the prediction's depth with the geometry's fused depth on the
        pixels of accepted objects (made on first use)."""
        return overlay(self.network_depth, self.geometry.depth)

    @property
    def objects(self) -> tuple[ObjectGeometry, ...]:
        """The accepted objects (``ok``), in instance-id order."""
        return tuple(obj for obj in self.geometry.objects if obj.ok)

    def __iter__(self) -> Iterator[ObjectGeometry]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def instances(self) -> np.ndarray:
        """(H, W) int32 instance id per pixel, 0 = none (ids match ``ObjectGeometry.instance_id``)."""
        return self.geometry.instances.labels

    @property
    def plane_source(self) -> str:
        """The support plane's source (``sensor_depth``, ``camera_pose``, ``camera_height``,
        ``network_depth``), ``""`` when there is none."""
        return self.geometry.plane.source if self.geometry.plane.plane is not None else ""

    @property
    def metric(self) -> bool:
        """True when the plane is in real-world metres (from the depth camera or the pose)."""
        return self.plane_source in METRIC_SOURCES

    @property
    def counts(self) -> dict[str, int]:
        """Choices and refusals (see :class:`~egsa_ros.geometry.GlassGeometry`)."""
        return self.geometry.counts

    @property
    def plane_summary(self) -> str:
        """One short line: the plane's source, or ``none`` with each tried source's refusal code."""
        if self.plane_source:
            return self.plane_source
        refusals = [f"{e.source} {e.code}" for e in self.geometry.plane.estimates if not e.ok]
        return "none" + (f" ({', '.join(refusals)})" if refusals else " (no source given)")


def glass_objects(
    pred,
    K: np.ndarray,
    *,
    sensor_depth: np.ndarray | None = None,
    camera_pose: np.ndarray | None = None,
    camera_height_m: float | None = None,
    pitch_down_deg: float | None = None,
    roll_deg: float = 0.0,
    rgb: np.ndarray | None = None,
    plane_source: str = "auto",
    sensor_veto: bool = True,
    config: GlassConfig | None = None,
) -> GlassObjects:
    """Transparent objects in 3-D from one prediction.

    Args:
        pred: a :class:`~egsa_ros.runtime.prediction.Prediction` (or anything with ``depth``
            (H, W) float32 metres and ``mask`` (H, W), non-zero = transparent).
        K: (3, 3) intrinsics of the (H, W) frame (for ``pipe(rgb, fx=K[0, 0])``, the same K).
        sensor_depth: optional (H, W) float32 depth-camera z-depth registered to the frame,
            metres, NaN where missing.
        camera_pose: optional 4x4 camera optical frame -> table frame (table z = 0, z up), metres.
        camera_height_m, pitch_down_deg, roll_deg: optional camera height above the table
            (metres) with its pitch below horizontal and roll (degrees), for a fixed camera.
        rgb: optional (H, W, 3) uint8 RGB frame (its edges split touching objects).
        plane_source: one of :data:`PLANE_SOURCE_CHOICES`.
        sensor_veto: with ``sensor_depth``, refuse objects the depth camera reads as a solid
            surface above the table (``solid_by_sensor``, :mod:`egsa_ros.geometry.sensor_veto`).
        config: geometry parameters; its ``plane_sources`` are replaced by ``plane_source``'s
            (and its ``sensor_veto`` by None when ``sensor_veto`` is False).
    Returns:
        A :class:`GlassObjects`. Raises ValueError for mismatched shapes, bad intrinsics or an
        unknown ``plane_source``.
    """
    config = replace(config or GlassConfig(), plane_sources=plane_sources(plane_source))
    if not sensor_veto:
        config = replace(config, sensor_veto=None)
    depth = np.asarray(pred.depth, dtype=np.float32)
    geometry = glass_geometry(
        np.asarray(pred.mask),
        depth,
        K,
        sensor_depth=sensor_depth,
        camera_pose=camera_pose,
        camera_height_m=camera_height_m,
        pitch_down_deg=pitch_down_deg,
        roll_deg=roll_deg,
        rgb=rgb,
        config=config,
    )
    return GlassObjects(geometry, depth)


def overlay(base: np.ndarray, glass: np.ndarray) -> np.ndarray:
    """(H, W) float32: ``glass`` where it is finite, ``base`` elsewhere (both (H, W) metres)."""
    return np.where(np.isfinite(glass), glass, base).astype(np.float32, copy=False)


def refined_depth(objects: GlassObjects) -> np.ndarray | None:
    """``objects.depth`` (the network's depth with the geometry's on accepted glass) when the
    plane came from the camera's pose or height (a plane in real metres that the network's depth
    does not already contain); None when it did not (nothing to refine)."""
    if objects.plane_source not in POSE_SOURCES or not len(objects):
        return None
    return objects.depth


def completed_on_glass(completed: np.ndarray, objects: GlassObjects) -> np.ndarray | None:
    """(H, W) float32 completed depth with the geometry's depth on accepted glass when the plane
    is metric (depth camera or pose); None when it is not (keep ``completed`` as it is)."""
    if not objects.metric or not len(objects):
        return None
    return overlay(completed, objects.geometry.depth)


@dataclass(frozen=True)
class ObjectBox:
    """An accepted object as an upright cylinder (for markers), optical frame, metres.

    Attributes:
        instance_id: its id in the instance image.
        centre: (3,) the point on the object's axis at half its height (the cylinder's centre;
            for a cylinder also the solid's centroid).
        orientation_xyzw: (4,) unit quaternion turning the z axis onto the table's "up".
        width_m, height_m: diameter and height.
        width_is_lower_bound, height_is_lower_bound: cut by the image border.
    """

    instance_id: int
    centre: np.ndarray
    orientation_xyzw: np.ndarray
    width_m: float
    height_m: float
    width_is_lower_bound: bool = False
    height_is_lower_bound: bool = False


def object_boxes(objects: GlassObjects) -> list[ObjectBox]:
    """One :class:`ObjectBox` per accepted object with finite numbers (empty without a plane)."""
    plane = objects.geometry.plane.plane
    if plane is None:
        return []
    up = np.asarray(plane.normal, dtype=np.float64)
    rotation = z_to(up)
    boxes = []
    for obj in objects:
        centre = np.asarray(obj.footprint_centre, np.float64) + 0.5 * float(obj.height_m) * up
        sizes = (float(obj.width_m), float(obj.height_m))
        if not (np.isfinite(centre).all() and all(np.isfinite(s) and s > 0 for s in sizes)):
            continue
        boxes.append(
            ObjectBox(obj.instance_id, centre, rotation, *sizes, obj.width_is_lower_bound, obj.height_is_lower_bound)
        )
    return boxes


def z_to(direction: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (x, y, z, w) of the shortest rotation taking (0, 0, 1) onto the (3,)
    ``direction`` (any length > 0); a half turn about x for the opposite direction."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    w = 1.0 + d[2]
    if w < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0])
    q = np.array([-d[1], d[0], 0.0, w])  # (z x d, 1 + z . d)
    return q / np.linalg.norm(q)
