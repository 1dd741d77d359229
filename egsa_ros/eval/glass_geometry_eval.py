"""Glass depth from every source and per-object 3-D errors, summed over an evaluation's frames.

For each frame, :func:`add_geometry_frame` runs :func:`egsa_ros.geometry.glass_geometry` on the
model's own mask and depth with the support plane from one source at a time (the depth camera;
the camera's pose above the table) and :class:`GlassGeometryAccumulator` scores:

- depth on the ground-truth glass pixels from each source (the network, the geometry with each
  plane, the depth camera, ``depth_completed``): RMSE, MAE, REL and delta over the pixels where
  the source has a value, and separately the fraction of glass pixels that have one (coverage);
- per object (rendered splits only: their ``meta.json`` lists each object's base, height and
  footprint radius in the table frame): each measured object is matched to the ground-truth
  transparent instance its pixels overlap most, then its centroid, footprint-centre, base-point
  and height errors (cm); refused objects are counted by reason.

Camera optical frame throughout (x right, y down, z forward), metres; errors reported in cm.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from ..geometry import GlassConfig, GlassGeometry, glass_geometry
from ..geometry.plane import CAMERA_POSE, SENSOR_DEPTH
from ..metrics import DepthErrorSums, depth_metrics_from_sums

NETWORK = "network"
GEOMETRY_SENSOR_PLANE = "geometry_sensor_plane"
GEOMETRY_POSE_PLANE = "geometry_pose_plane"
SENSOR = "sensor"
DEPTH_COMPLETED = "depth_completed"
FUSED_SUFFIX = "_or_network"
DEPTH_SOURCES = (
    NETWORK,
    GEOMETRY_SENSOR_PLANE,
    GEOMETRY_SENSOR_PLANE + FUSED_SUFFIX,
    GEOMETRY_POSE_PLANE,
    GEOMETRY_POSE_PLANE + FUSED_SUFFIX,
    SENSOR,
    DEPTH_COMPLETED,
)
"""Depth sources scored on glass pixels, in report order. ``<geometry>_or_network``: the
network's depth with the geometry's put in where it has one (what a refined ``depth`` image
would carry: every pixel has a value)."""

GEOMETRY_VARIANTS = {GEOMETRY_SENSOR_PLANE: SENSOR_DEPTH, GEOMETRY_POSE_PLANE: CAMERA_POSE}
"""Geometry variant -> the only support-plane source it may use (no fallback to another)."""

OBJECT_ERRORS = ("centroid_cm", "mass_centroid_cm", "footprint_centre_cm", "base_point_cm", "height_cm")
"""Per-object absolute errors, centimetres. ``centroid_cm`` compares like with like: the point
half the height above the footprint centre, measured and true; ``mass_centroid_cm`` takes the
measured :attr:`~egsa_ros.geometry.ObjectGeometry.centroid` (the modelled solid's centre of
mass, below mid-height for a bowl, above it for a wine glass) against the same true point."""

CM_PER_M = 100.0

LOWEST_ROW_CLASSES = ("lowest_row_right", "lowest_row_below", "lowest_row_above")
"""Where a matched instance's lowest image row lies against its true object's: within
:func:`lowest_row_tolerance_px` (right), lower in the image (below: the mask runs onto the table
in front of the object, or onto something under it) or higher (above: the mask misses the
object's base). The footprint comes from those lowest pixels, so this splits the per-object
errors by their main cause."""


def lowest_row_tolerance_px(true_height_px: int) -> float:
    """Rows an instance's lowest row may lie off its true object's and still count as right:
    2 px, or 5 % of the true object's height in the image when that is more."""
    return max(2.0, 0.05 * float(true_height_px))


def lowest_row_class(predicted: np.ndarray, truth: np.ndarray) -> str:
    """One of :data:`LOWEST_ROW_CLASSES` for two (H, W) bool masks of one object (both non-empty)."""
    own_rows = np.flatnonzero(np.asarray(predicted).any(axis=1))
    true_rows = np.flatnonzero(np.asarray(truth).any(axis=1))
    offset = int(own_rows[-1]) - int(true_rows[-1])
    if abs(offset) <= lowest_row_tolerance_px(int(true_rows[-1] - true_rows[0]) + 1):
        return LOWEST_ROW_CLASSES[0]
    return LOWEST_ROW_CLASSES[1] if offset > 0 else LOWEST_ROW_CLASSES[2]


@dataclass(frozen=True)
class TrueObject:
    """One ground-truth transparent object in the camera optical frame (metres).

    Attributes:
        instance_id: its id in the ground-truth instance image.
        base_centre: (3,) centre of its base.
        centroid: (3,) base centre + half its height along the table's up direction.
        base_point: (3,) point of its footprint circle nearest the camera (seen from above).
        height_m: height above its base.
    """

    instance_id: int
    base_centre: np.ndarray
    centroid: np.ndarray
    base_point: np.ndarray
    height_m: float


def true_objects_in_camera(objects: list[dict], camera_to_world: np.ndarray) -> dict[int, TrueObject]:
    """The transparent objects of a rendered frame's ``meta.json`` in the camera frame.

    Args:
        objects: ``meta.json`` ``objects``: dicts with ``instance_id``, ``category``,
            ``position_m`` (base centre, table frame: z = 0 on the table, z up), ``height_m``,
            ``footprint_radius_m`` and optionally ``base_z_m`` (base height when standing on
            something other than the table).
        camera_to_world: (4, 4) camera optical frame -> table frame.
    Returns:
        {instance_id: :class:`TrueObject`} of the objects whose category is ``"transparent"``.
    """
    pose = np.asarray(camera_to_world, np.float64)
    rotation, camera = pose[:3, :3], pose[:3, 3]
    out = {}
    for obj in objects:
        if obj.get("category") != "transparent":
            continue
        base = np.asarray(obj["position_m"], np.float64).copy()
        base[2] = float(obj.get("base_z_m", base[2]))
        height = float(obj["height_m"])
        towards_camera = np.array([camera[0] - base[0], camera[1] - base[1], 0.0])
        distance = np.linalg.norm(towards_camera)
        nearest = base + (towards_camera / distance * float(obj["footprint_radius_m"]) if distance > 0 else 0.0)
        centroid = base + np.array([0.0, 0.0, 0.5 * height])

        def to_camera(point: np.ndarray) -> np.ndarray:
            return rotation.T @ (point - camera)

        out[int(obj["instance_id"])] = TrueObject(
            int(obj["instance_id"]), to_camera(base), to_camera(centroid), to_camera(nearest), height
        )
    return out


def match_instances(predicted: np.ndarray, truth: np.ndarray, candidates) -> dict[int, int | None]:
    """Each predicted instance -> the candidate ground-truth instance it overlaps most.

    Args:
        predicted: (H, W) int predicted instance ids (0 = none).
        truth: (H, W) int ground-truth instance ids (0 = none).
        candidates: ground-truth ids that may be matched (e.g. the transparent objects).
    Returns:
        {predicted id: ground-truth id, or None when it overlaps no candidate}.
    """
    candidates = np.asarray(sorted(int(c) for c in candidates), np.int64)
    out: dict[int, int | None] = {}
    for ident in np.unique(predicted):
        if ident == 0:
            continue
        under = np.asarray(truth)[np.asarray(predicted) == ident]
        under = under[np.isin(under, candidates)] if candidates.size else under[:0]
        if under.size == 0:
            out[int(ident)] = None
            continue
        ids, counts = np.unique(under, return_counts=True)
        out[int(ident)] = int(ids[np.argmax(counts)])
    return out


def object_errors(geometry, up: np.ndarray, truth: TrueObject) -> dict[str, float]:
    """Absolute errors (cm) of one measured :class:`~egsa_ros.geometry.ObjectGeometry` against
    its ground truth (keys :data:`OBJECT_ERRORS`); ``up`` (3,) is the support plane's unit
    normal (towards the camera), the direction of the measured height."""
    mid_height = np.asarray(geometry.footprint_centre) + 0.5 * float(geometry.height_m) * np.asarray(up)
    return {
        "centroid_cm": CM_PER_M * float(np.linalg.norm(mid_height - truth.centroid)),
        "mass_centroid_cm": CM_PER_M * float(np.linalg.norm(np.asarray(geometry.centroid) - truth.centroid)),
        "footprint_centre_cm": CM_PER_M
        * float(np.linalg.norm(np.asarray(geometry.footprint_centre) - truth.base_centre)),
        "base_point_cm": CM_PER_M * float(np.linalg.norm(np.asarray(geometry.base_point) - truth.base_point)),
        "height_cm": CM_PER_M * abs(float(geometry.height_m) - truth.height_m),
    }


def glass_depth_metrics(sums: DepthErrorSums) -> dict[str, float]:
    """Metrics of one source on glass: ``pixels`` (glass pixels with ground truth), ``coverage``
    (fraction of them where the source has a value) and RMSE, MAE, REL and delta over the
    covered pixels only (a missing value lowers coverage, not accuracy)."""
    covered = int(sums.sums["n_ok"])
    pixels = int(sums.sums["count"])
    metrics = depth_metrics_from_sums(dict(sums.sums, count=covered, invalid_pred=0), sums.thresholds)
    metrics.pop("invalid_pred")
    metrics["count"] = covered
    return dict(metrics, pixels=pixels, coverage=covered / pixels if pixels else float("nan"))


class GlassGeometryAccumulator:
    """Glass depth per source and per-object errors per geometry variant, over all frames."""

    def __init__(self) -> None:
        self.depth = {source: DepthErrorSums() for source in DEPTH_SOURCES}
        self.errors = {variant: {key: [] for key in OBJECT_ERRORS} for variant in GEOMETRY_VARIANTS}
        self.objects = {variant: Counter() for variant in GEOMETRY_VARIANTS}
        self.by_lowest_row = {
            variant: {kind: {key: [] for key in OBJECT_ERRORS} for kind in LOWEST_ROW_CLASSES}
            for variant in GEOMETRY_VARIANTS
        }
        self.geometry_counts = {variant: Counter() for variant in GEOMETRY_VARIANTS}
        self.frames = 0
        self.notes: set[str] = set()

    def add_depths(self, sources: dict[str, np.ndarray | None], gt_depth: np.ndarray, gt_glass: np.ndarray) -> None:
        """One frame's depths on the ground-truth glass pixels.

        Args:
            sources: {source name in :data:`DEPTH_SOURCES`: (H, W) float32 metres, NaN or 0 where
                it has no value; None or absent = not available in this frame (not scored)}.
            gt_depth: (H, W) float32 true depth, metres (NaN/0 = unknown).
            gt_glass: (H, W) bool true glass pixels.
        """
        self.frames += 1
        for name, depth in sources.items():
            if name not in self.depth:
                raise ValueError(f"unknown depth source {name!r} (expected one of {DEPTH_SOURCES})")
            if depth is not None:
                self.depth[name].add(depth, gt_depth, mask=np.asarray(gt_glass, bool))

    def add_objects(
        self, variant: str, geometry: GlassGeometry, gt_instances: np.ndarray, truth: dict[int, TrueObject]
    ) -> None:
        """One frame's measured objects of one geometry variant against the ground truth.

        Args:
            variant: a key of :data:`GEOMETRY_VARIANTS`.
            geometry: the frame's :class:`~egsa_ros.geometry.GlassGeometry`.
            gt_instances: (H, W) int true instance ids.
            truth: {instance id: :class:`TrueObject`} (see :func:`true_objects_in_camera`).
        """
        counts = self.objects[variant]
        self.geometry_counts[variant].update(geometry.counts)
        visible = set(int(i) for i in np.unique(gt_instances)) & set(truth)
        counts["gt_visible"] += len(visible)
        matches = match_instances(geometry.instances.labels, gt_instances, visible)
        found = set()
        for obj in geometry.objects:
            if not obj.ok:
                counts["refused"] += 1
                counts[f"refused_{obj.code}"] += 1
                continue
            gt_id = matches.get(obj.instance_id)
            if gt_id is None:
                counts["unmatched"] += 1
                continue
            counts["matched"] += 1
            counts["height_lower_bound"] += bool(obj.height_is_lower_bound)
            found.add(gt_id)
            kind = lowest_row_class(geometry.instances.labels == obj.instance_id, gt_instances == gt_id)
            for key, value in object_errors(obj, geometry.plane.plane.normal, truth[gt_id]).items():
                self.errors[variant][key].append(value)
                self.by_lowest_row[variant][kind][key].append(value)
        counts["gt_found"] += len(found)

    def note(self, text: str) -> None:
        """Say once in the report why part of the evaluation was skipped."""
        self.notes.add(text)

    def result(self) -> dict:
        """Report keys: ``glass_depth_by_source`` {source: :func:`glass_depth_metrics`},
        ``objects_3d`` {variant: counts, refusals, error percentiles and the same split by
        ``by_lowest_row`` (:data:`LOWEST_ROW_CLASSES`)}, ``glass_geometry_notes``
        [what was skipped and why] (each left out when empty)."""
        out: dict = {}
        depth = {name: glass_depth_metrics(sums) for name, sums in self.depth.items() if sums.added}
        if depth:
            out["glass_depth_by_source"] = depth
        objects = {}
        for variant, counts in self.objects.items():
            if not counts and not self.geometry_counts[variant]:
                continue
            summary = {
                key: int(counts.get(key, 0))
                for key in ("gt_visible", "gt_found", "matched", "unmatched", "refused", "height_lower_bound")
            }
            summary["refusals"] = {
                key[len("refused_") :]: int(n) for key, n in sorted(counts.items()) if key.startswith("refused_")
            }
            geometry_counts = self.geometry_counts[variant]
            prefix = f"plane_refused_{GEOMETRY_VARIANTS[variant]}_"
            summary["plane"] = {
                "frames": int(
                    geometry_counts[f"plane_source_{GEOMETRY_VARIANTS[variant]}"] + geometry_counts["plane_none"]
                ),
                "found": int(geometry_counts[f"plane_source_{GEOMETRY_VARIANTS[variant]}"]),
                "refusals": {
                    key[len(prefix) :]: int(n) for key, n in sorted(geometry_counts.items()) if key.startswith(prefix)
                },
            }
            for key, values in self.errors[variant].items():
                summary[key] = _percentiles(values)
            summary["by_lowest_row"] = {
                kind: {"matched": len(errors["centroid_cm"])}
                | {key: _percentiles(values, keep_values=False) for key, values in errors.items()}
                for kind, errors in self.by_lowest_row[variant].items()
            }
            summary["geometry_counts"] = {key: int(n) for key, n in sorted(self.geometry_counts[variant].items())}
            objects[variant] = summary
        if objects:
            out["objects_3d"] = objects
        if self.notes:
            out["glass_geometry_notes"] = sorted(self.notes)
        return out


def _percentiles(values: list[float], keep_values: bool = True) -> dict:
    arr = np.asarray(values, np.float64)
    arr = arr[np.isfinite(arr)]
    if not arr.size:
        return {"count": 0, "p50": None, "p90": None}
    out = {"count": int(arr.size), "p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90))}
    if keep_values:
        out["values"] = [float(v) for v in arr]
    return out


def add_geometry_frame(
    acc: GlassGeometryAccumulator,
    frame,
    mask: np.ndarray,
    depth: np.ndarray,
    completed: np.ndarray | None,
    config: GlassConfig | None = None,
) -> None:
    """Score one evaluation frame: the geometry variants its inputs allow, every depth source on
    glass, and (rendered splits) the objects.

    Args:
        acc: where the frame's numbers go.
        frame: a :class:`~egsa_ros.eval.bag_frames.BagFrame` (``gt_instances`` / ``gt_objects``
            when it is a :class:`~egsa_ros.eval.split_frames.SplitFrame`).
        mask: (H, W) the model's transparent mask (non-zero = glass).
        depth: (H, W) float32 the network's depth, metres.
        completed: (H, W) float32 ``depth_completed``, or None without sensor depth.
        config: geometry parameters (default: the package's); each variant sets its plane source.
    """
    if frame.gt_depth is None or frame.gt_mask is None:
        acc.note("frames without ground-truth depth and mask are not scored on glass")
        return
    if frame.K is None:
        acc.note("frames without camera intrinsics get no geometry")
    sensor = frame.sensor_depth
    if sensor is not None and sensor.shape != depth.shape:
        acc.note("sensor depth of another size than the image: not used")
        sensor = None
    pose = frame.camera_in_support
    inputs = {
        GEOMETRY_SENSOR_PLANE: None if sensor is None else {"sensor_depth": sensor},
        GEOMETRY_POSE_PLANE: None if pose is None else {"camera_pose": pose},
    }
    if sensor is None:
        acc.note("no sensor depth: no geometry with the plane from the depth camera")
    if pose is None:
        acc.note("no camera pose (bags have none): no geometry with the plane from the pose, no per-object errors")
    geometries: dict[str, GlassGeometry] = {}
    if frame.K is not None:
        for variant, kwargs in inputs.items():
            if kwargs is not None:
                variant_config = replace(config or GlassConfig(), plane_sources=(GEOMETRY_VARIANTS[variant],))
                # The frame's image too, as the node passes it: its edges split touching objects.
                geometries[variant] = glass_geometry(
                    mask > 0, depth, frame.K, rgb=frame.rgb, config=variant_config, **kwargs
                )
    sources = {NETWORK: depth, SENSOR: sensor, DEPTH_COMPLETED: completed}
    for variant, geometry in geometries.items():
        sources[variant] = geometry.depth
        sources[variant + FUSED_SUFFIX] = np.where(np.isfinite(geometry.depth), geometry.depth, depth)
    acc.add_depths(sources, frame.gt_depth, frame.gt_mask)
    gt_instances = getattr(frame, "gt_instances", None)
    gt_objects = getattr(frame, "gt_objects", None)
    if gt_instances is None or gt_objects is None or pose is None:
        if geometries:
            acc.note("no ground-truth objects (instance image and meta.json objects): no per-object errors")
        return
    truth = true_objects_in_camera(gt_objects, pose)
    for variant, geometry in geometries.items():
        acc.add_objects(variant, geometry, gt_instances, truth)
