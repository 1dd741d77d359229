"""One call from a frame's mask and depth to glass geometry: plane, instances, objects, depth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .camera import checked_intrinsics
from .instances import InstanceConfig, Instances, transparent_instances
from .objects import ObjectConfig, ObjectGeometry, measure_object
from .plane import PLANE_SOURCES
from .plane_choice import PlaneChoice, choose_plane
from .plane_fit import NETWORK_FIT, SENSOR_FIT, PlaneFitConfig
from .sensor_veto import SOLID_BY_SENSOR, SensorVetoConfig, solid_above_plane


@dataclass(frozen=True)
class GlassConfig:
    """Parameters of :func:`glass_geometry`.

    Attributes:
        plane_sources: allowed support-plane sources (see :func:`choose_plane`).
        sensor_fit, network_fit: plane-fit parameters for sensor and network depth.
        instances: instance-splitting parameters (pixel thresholds stated at 192x256, scaled to
            the frame: :mod:`.frame_scale`).
        objects: per-object parameters (surface model, fusion weight, ...; likewise scaled).
        sensor_veto: with sensor depth and a plane, objects the depth camera reads as a solid
            surface above the plane are refused (``solid_by_sensor``, :mod:`.sensor_veto`); None
            switches it off.
    """

    plane_sources: Sequence[str] = PLANE_SOURCES
    sensor_fit: PlaneFitConfig = SENSOR_FIT
    network_fit: PlaneFitConfig = NETWORK_FIT
    instances: InstanceConfig = field(default_factory=InstanceConfig)
    objects: ObjectConfig = field(default_factory=ObjectConfig)
    sensor_veto: SensorVetoConfig | None = field(default_factory=SensorVetoConfig)


@dataclass(frozen=True)
class GlassGeometry:
    """Result of :func:`glass_geometry` (optical frame: x right, y down, z forward, metres).

    Attributes:
        plane: the chosen support plane with every source's refusal.
        instances: the instance image (H, W) int32 (0 = none) and per-instance stats.
        objects: one :class:`ObjectGeometry` per instance, refused ones included.
        depth: (H, W) float32 refined z-depth on glass (geometric model with the network's
            shape fused in), NaN where there is no estimate (not glass, refused objects, no
            plane, dropped specks).
        model_depth: (H, W) float32 front depth of the geometric model alone, NaN elsewhere.
        back_depth: (H, W) float32 depth of the model's back surface, NaN elsewhere.
        counts: choices and refusals for diagnostics, e.g. ``plane_source_sensor_depth``,
            ``plane_refused_sensor_depth_edge_on``, ``instances``, ``instances_dropped_small``,
            ``instances_split``, ``objects_ok``, ``objects_model_revolution``,
            ``objects_refused_base_unseen``, ``objects_refused_solid_by_sensor``, ``objects_cut_by_border``.
    """

    plane: PlaneChoice
    instances: Instances
    objects: tuple[ObjectGeometry, ...]
    depth: np.ndarray
    model_depth: np.ndarray
    back_depth: np.ndarray
    counts: dict[str, int]


def glass_geometry(
    mask: np.ndarray,
    depth: np.ndarray | None,
    K: np.ndarray,
    *,
    sensor_depth: np.ndarray | None = None,
    camera_pose: np.ndarray | None = None,
    camera_height_m: float | None = None,
    pitch_down_deg: float | None = None,
    roll_deg: float = 0.0,
    rgb: np.ndarray | None = None,
    config: GlassConfig | None = None,
    instances: Instances | None = None,
) -> GlassGeometry:
    """Support plane, transparent instances and per-object geometry of one frame.

    Args:
        mask: (H, W) uint8/bool, non-zero on transparent pixels (the network's mask).
        depth: (H, W) float32 network z-depth, metres, or None (no depth-jump splitting, no
            fusion, no network plane).
        K: (3, 3) intrinsics of the (H, W) images.
        sensor_depth: optional (H, W) float32 depth-camera z-depth, metres, NaN where missing,
            registered to the same camera.
        camera_pose: optional 4x4 camera optical frame -> table frame (table z = 0, z up).
        camera_height_m, pitch_down_deg, roll_deg: optional camera height above the table
            (metres) with its pitch below horizontal and roll (degrees).
        rgb: optional (H, W, 3) uint8 RGB image (its edges help split touching objects).
        config: see :class:`GlassConfig`.
        instances: optional instances made elsewhere (:func:`~egsa_ros.geometry.instances.instances_from_labels`)
            used instead of splitting ``mask`` into objects; their labels must be (H, W).
    Returns:
        A :class:`GlassGeometry`.
    """
    config = config or GlassConfig()
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    for name, image in (("depth", depth), ("sensor_depth", sensor_depth)):
        if image is not None and np.shape(image) != mask.shape:
            raise ValueError(f"{name} {np.shape(image)} and mask {mask.shape} differ")
    if rgb is not None and np.shape(rgb)[:2] != mask.shape:
        raise ValueError(f"rgb {np.shape(rgb)} and mask {mask.shape} differ")
    K = checked_intrinsics(K)
    transparent = mask.astype(bool)
    plane = choose_plane(
        K,
        sensor_depth=sensor_depth,
        transparent=transparent,
        camera_pose=camera_pose,
        camera_height_m=camera_height_m,
        pitch_down_deg=pitch_down_deg,
        roll_deg=roll_deg,
        network_depth=depth,
        sources=config.plane_sources,
        sensor_fit=config.sensor_fit,
        network_fit=config.network_fit,
    )
    if instances is None:
        grey = None if rgb is None else cv2.cvtColor(np.asarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
        instances = transparent_instances(transparent, depth, grey, config.instances.at_frame(mask.shape))
    elif instances.labels.shape != mask.shape:
        raise ValueError(f"instance labels {instances.labels.shape} and mask {mask.shape} differ")
    fused, model, back = (np.full(mask.shape, np.nan, np.float32) for _ in range(3))
    objects = []
    object_config = config.objects.at_frame(mask.shape)
    solid_px = None  # per instance id: pixels the depth camera reads as solid
    if config.sensor_veto is not None and sensor_depth is not None and plane.plane is not None:
        solid = solid_above_plane(sensor_depth, K, plane.plane, depth, config.sensor_veto, instances.labels > 0)
        solid_px = np.bincount(instances.labels[solid], minlength=int(instances.labels.max(initial=0)) + 1)
    for stats in instances.stats:
        share = None if solid_px is None else solid_px[stats.instance_id] / max(stats.area_px, 1)
        if share is not None and share >= config.sensor_veto.min_solid_fraction:
            reason = f"the depth camera reads a solid surface above the table on {share:.0%} of its pixels"
            objects.append(ObjectGeometry(stats.instance_id, False, SOLID_BY_SENSOR, reason))
            continue
        geometry, pixels = measure_object(stats, instances.labels, K, plane.plane, depth, object_config)
        objects.append(geometry)
        if pixels is not None:
            fused[pixels.rows, pixels.cols] = pixels.fused
            model[pixels.rows, pixels.cols] = pixels.model
            back[pixels.rows, pixels.cols] = pixels.back
    return GlassGeometry(plane, instances, tuple(objects), fused, model, back, _counts(plane, instances, objects))


def _counts(plane: PlaneChoice, instances: Instances, objects) -> dict[str, int]:
    counts = Counter()
    counts[f"plane_source_{plane.source}" if plane.plane is not None else "plane_none"] += 1
    for estimate in plane.estimates:
        if not estimate.ok:
            counts[f"plane_refused_{estimate.source}_{estimate.code}"] += 1
    counts["instances"] = len(instances.stats)
    counts["instances_dropped_small"] = instances.dropped_small
    counts["instances_split"] = instances.splits
    counts["objects_ok"] = sum(obj.ok for obj in objects)
    for obj in objects:
        counts[f"objects_model_{obj.model}" if obj.ok else f"objects_refused_{obj.code}"] += 1
        counts["objects_cut_by_border"] += bool(obj.cut_sides)
    return dict(counts)
