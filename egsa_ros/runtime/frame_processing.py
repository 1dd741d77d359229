"""What egsa_node does with one camera frame, ROS-free: checks, pairing, scale, glass geometry,
completion, points.

The node hands over arrays and plain values and gets back the outputs plus, for each output it
could not make, a :class:`Skip` (a counter name and one line saying why). It never sees a
message here; this module never sees ROS.

Input checks (cheap, run in the subscription callback before a message may enter the
latest-frame slot): :func:`image_problem`, :func:`compressed_problem`, :func:`depth_image_problem`
and :func:`camera_model` (CameraInfo: finite, positive focal lengths, a sane size).

Output invariants (REP 118): depth is float32 metres, finite and > 0 or NaN, never inf or
negative; the mask is 0/1 (the node publishes 0/255); points are finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.image_encodings import COLOR_ENCODINGS, DEPTH_ENCODINGS, YUV422_ENCODINGS
from .depth_completion import CompletionConfig, complete_depth
from .frame_geometry import GlassObjects, ObjectBox, completed_on_glass, glass_objects, object_boxes, refined_depth
from .point_cloud import masked_pixels, masked_points
from .support_plane_scale import pose_matrix, pose_up_and_height, support_plane_scale, up_from_pitch_roll

MIN_IMAGE_SIDE = 3  # pixels: the pipeline needs at least 3x3
MAX_IMAGE_SIDE = 16384  # pixels: anything larger is taken as a corrupt header
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"  # EOI marker (encoders may pad a few bytes after it)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC


@dataclass(frozen=True)
class Skip:
    """An output that was not made: ``key`` is the counter, ``reason`` one line for the log."""

    key: str
    reason: str


def _bytes_per_pixel(encoding: str) -> int | None:
    if encoding in COLOR_ENCODINGS:
        return COLOR_ENCODINGS[encoding][0]
    if encoding in YUV422_ENCODINGS:
        return 2
    return None


def _size_problem(height: int, width: int, step: int, data_len: int, bytes_per_pixel: int, what: str) -> str | None:
    if height < MIN_IMAGE_SIDE or width < MIN_IMAGE_SIDE:
        return f"{what} {width}x{height} is smaller than {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
    if height > MAX_IMAGE_SIDE or width > MAX_IMAGE_SIDE:
        return f"{what} {width}x{height} is larger than {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}"
    if step < width * bytes_per_pixel:
        return f"{what} step {step} < width {width} x {bytes_per_pixel} bytes per pixel"
    if data_len < step * height:
        return f"truncated {what}: {data_len} bytes, need step {step} x height {height} = {step * height}"
    return None


def image_problem(encoding: str, height: int, width: int, step: int, data_len: int) -> str | None:
    """Why a colour Image with these fields cannot be used (None if it can)."""
    bpp = _bytes_per_pixel(encoding)
    if bpp is None:
        supported = sorted(list(COLOR_ENCODINGS) + list(YUV422_ENCODINGS))
        return f"unsupported image encoding {encoding!r}; supported: {supported}"
    if encoding in YUV422_ENCODINGS and width % 2:
        return f"YUV 4:2:2 image needs an even width, got {width}"
    return _size_problem(height, width, step, data_len, bpp, "image")


def depth_image_problem(encoding: str, height: int, width: int, step: int, data_len: int) -> str | None:
    """Why a depth Image (16UC1 mm / 32FC1 m) with these fields cannot be used (None if it can)."""
    if encoding not in DEPTH_ENCODINGS:
        return f"unsupported depth encoding {encoding!r}; supported: {sorted(DEPTH_ENCODINGS)}"
    return _size_problem(height, width, step, data_len, np.dtype(DEPTH_ENCODINGS[encoding][0]).itemsize, "depth image")


def compressed_problem(fmt: str, data_len: int, head: bytes, tail: bytes) -> str | None:
    """Why a CompressedImage payload cannot be a whole JPEG or PNG (None if it can: it starts and
    ends like one). ``head`` / ``tail``: its first and last (up to 16) bytes."""
    if data_len == 0:
        return f"empty compressed image (format {fmt!r})"
    if head.startswith(JPEG_MAGIC):
        return None if JPEG_END in tail else f"truncated JPEG: no end marker ({data_len} bytes, format {fmt!r})"
    if head.startswith(PNG_MAGIC):
        return None if tail.endswith(PNG_END) else f"truncated PNG: no IEND chunk ({data_len} bytes, format {fmt!r})"
    return f"compressed image is neither JPEG nor PNG (format {fmt!r}, starts {bytes(head[:4]).hex(' ')})"


@dataclass(frozen=True)
class CameraModel:
    """A validated pinhole camera: ``K`` (3, 3) float64 for images of ``height`` x ``width``
    pixels; ``distorted``: the camera reports non-zero lens distortion (points ignore it)."""

    K: np.ndarray
    height: int
    width: int
    distorted: bool


def camera_model(k: Sequence[float], d: Sequence[float], height: int, width: int) -> CameraModel:
    """CameraInfo fields -> :class:`CameraModel`; raises ValueError naming the problem.

    Args:
        k: the 9 row-major intrinsics; fx = k[0], fy = k[4], cx = k[2], cy = k[5] (pixels).
        d: distortion coefficients (any model; only "all zero or not" is used).
        height, width: image size the calibration is for, pixels.
    """
    k = [float(v) for v in k]
    if len(k) != 9:
        raise ValueError(f"camera_info k has {len(k)} values, need 9")
    fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)):
        raise ValueError(f"camera_info intrinsics not finite (fx={fx}, fy={fy}, cx={cx}, cy={cy})")
    if fx <= 0 or fy <= 0:
        raise ValueError(f"camera_info focal lengths must be > 0 (fx={fx}, fy={fy})")
    if not (MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE):
        raise ValueError(f"camera_info size {width}x{height} is not a usable image size")
    if not all(math.isfinite(float(v)) for v in d):
        raise ValueError("camera_info distortion coefficients not finite")
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return CameraModel(K, int(height), int(width), any(float(v) != 0.0 for v in d))


def nearest_by_stamp(items: Iterable[tuple[int, Any]], stamp_ns: int, tolerance_ns: float) -> Any | None:
    """The item of ``(stamp ns, item)`` pairs whose stamp is nearest ``stamp_ns``, or None if none
    lies within ``tolerance_ns``."""
    best = min(list(items), key=lambda pair: abs(pair[0] - stamp_ns), default=None)
    if best is None or abs(best[0] - stamp_ns) > tolerance_ns:
        return None
    return best[1]


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 metres with every value that is not finite and > 0 set to NaN (in place
    when the array is writeable float32)."""
    depth = np.asarray(depth, dtype=np.float32)
    bad = ~(np.isfinite(depth) & (depth > 0))
    if bad.any():
        if not depth.flags.writeable:
            depth = depth.copy()
        depth[bad] = np.nan
    return depth


@dataclass(frozen=True)
class FrameSettings:
    """What to make for a frame (from the node's parameters and who listens).

    Distances in metres, angles in degrees, tolerances in milliseconds, strides in pixels.
    ``glass_geometry``: ``"auto"`` runs the glass geometry on frames where an output uses it
    (objects, points' instance ids, ``completed``, or ``depth`` when ``refine_depth_on_glass``
    and the camera's pose is configured), ``"off"`` never; ``plane_source``: see
    :data:`~egsa_ros.runtime.frame_geometry.PLANE_SOURCE_CHOICES`; ``sensor_veto``: refuse objects
    the depth camera reads as a solid surface above the table. A fixed camera's pose is known when
    ``camera_height_m`` > 0.
    """

    want_completed: bool = False
    want_points: bool = False
    want_camera_info: bool = False
    scale_from_table: bool = False
    camera_pose_source: str = "fixed"
    camera_height_m: float = 0.0
    camera_pitch_deg: float = 45.0
    camera_roll_deg: float = 0.0
    pose_tolerance_ms: float = 50.0
    sync_tolerance_ms: float = 20.0
    completion_ring_px: int = 8
    points_stride: int = 2
    glass_geometry: str = "off"
    plane_source: str = "auto"
    sensor_veto: bool = True
    refine_depth_on_glass: bool = True
    want_objects: bool = False
    want_depth: bool = True


@dataclass
class FrameResult:
    """Everything made from one frame. ``completed``/``points``/``camera`` are None when not
    wanted or skipped (see ``skips``); ``camera`` is the camera model matching the frame's size
    (for republishing camera_info); ``table_scale`` the factor applied, if any.

    Glass geometry (None / empty when it did not run): ``objects`` the frame's
    :class:`~egsa_ros.runtime.frame_geometry.GlassObjects`; ``instances`` (H, W) int32 instance
    ids (0 = none); ``boxes`` the accepted objects as upright cylinders (when objects are
    wanted); ``point_instances`` (N,) uint32 instance id of each point (0 = none, all 0 without
    geometry); ``geometry_counts`` choices and refusals, keys ``glass_geometry.*``, for the
    diagnostics (e.g. ``glass_geometry.plane_source_camera_pose``,
    ``glass_geometry.plane_refused_sensor_depth_too_few_pixels``, ``glass_geometry.objects_ok``,
    ``glass_geometry.objects_refused_base_unseen``, ``glass_geometry.depth_refined``)."""

    depth: np.ndarray
    mask: np.ndarray
    inference_ms: float
    completed: np.ndarray | None = None
    points: np.ndarray | None = None
    camera: CameraModel | None = None
    table_scale: float | None = None
    skips: list[Skip] = field(default_factory=list)
    objects: GlassObjects | None = None
    instances: np.ndarray | None = None
    boxes: list[ObjectBox] | None = None
    point_instances: np.ndarray | None = None
    geometry_counts: dict[str, int] = field(default_factory=dict)


def process_frame(
    pipeline: Callable,
    rgb: np.ndarray,
    stamp_ns: int,
    settings: FrameSettings,
    *,
    camera: CameraModel | None = None,
    sensor_depths: Sequence[tuple[int, Any]] = (),
    decode_depth: Callable[[Any], np.ndarray] | None = None,
    poses: Sequence[tuple[int, tuple[Sequence[float], Sequence[float]]]] = (),
) -> FrameResult:
    """Run the pipeline on ``rgb`` ((H, W, 3) uint8) and make the outputs ``settings`` ask for.

    Args:
        pipeline: called as ``pipeline(rgb, fx=...)`` (fx in pixels, None without a camera model of
            the frame's size), returns a Prediction (depth (H, W) float32 m, mask (H, W)); a
            camera-aware one (``pipeline.camera_aware``) scales its depth by fx.
        stamp_ns: the frame's stamp, for pairing.
        camera: the newest valid camera model (None: none received).
        sensor_depths: recent (stamp ns, sensor depth message or bytes) pairs.
        decode_depth: turns the paired sensor depth item into (H, W) float32 metres (raises
            ValueError for a bad one).
        poses: recent (stamp ns, (position xyz m, quaternion xyzw)) camera poses in the table frame.
    """
    shape = tuple(rgb.shape[:2])
    camera_skip = None
    if camera is None:
        camera_skip = Skip("no_camera_info", "no valid camera_info received yet")
    elif (camera.height, camera.width) != shape:
        camera_skip = Skip(
            "camera_info_size_mismatch",
            f"camera_info is {camera.width}x{camera.height}, image is {shape[1]}x{shape[0]}",
        )
    pred = pipeline(rgb, fx=None if camera_skip is not None else float(camera.K[0, 0]))
    depth, mask = valid_depth(pred.depth), pred.mask
    result = FrameResult(depth=depth, mask=mask, inference_ms=float(pred.timings.get("total", float("nan"))))
    if camera_skip is None:
        result.camera = camera
    if settings.scale_from_table:
        _scale_from_table(result, stamp_ns, settings, camera_skip, poses)
    geometry = _geometry_wanted(settings)
    needs_camera = [
        name
        for name, wanted in (
            ("camera-aware depth scale", getattr(pipeline, "camera_aware", False)),
            ("camera_info", settings.want_camera_info),
            ("transparent_points", settings.want_points),
            ("glass geometry", geometry),
        )
        if wanted
    ]
    if camera_skip is not None and needs_camera:  # counted once per frame, whatever needed it
        result.skips.append(Skip(camera_skip.key, f"{camera_skip.reason}: {' and '.join(needs_camera)} skipped"))
    geometry = geometry and camera_skip is None
    sensor = None
    if settings.want_completed or geometry:
        sensor, sensor_skip = _paired_sensor(stamp_ns, settings, sensor_depths, decode_depth, result.depth.shape)
        if sensor_skip is not None and (settings.want_completed or sensor_skip.key != "no_paired_sensor_depth"):
            result.skips.append(sensor_skip)
    if geometry:
        _glass_geometry(result, rgb, stamp_ns, settings, sensor, poses)
    if settings.want_completed and sensor is not None:
        _complete(result, sensor, settings)
    if settings.want_points and camera_skip is None:
        _points(result, camera.K, settings.points_stride)
    return result


def _points(result: FrameResult, K: np.ndarray, stride: int) -> None:
    """``result.points`` (N, 3) float32 and ``result.point_instances`` (N,) uint32 from the
    transparent pixels of ``result.depth`` (every ``stride``-th row and column)."""
    xyz = masked_points(result.depth, result.mask, K, stride=stride)
    finite = np.isfinite(xyz).all(axis=1)
    result.points = xyz[finite]
    if result.instances is None:
        result.point_instances = np.zeros(len(result.points), np.uint32)
    else:
        rows, cols = masked_pixels(result.depth, result.mask, stride=stride)
        result.point_instances = result.instances[rows, cols][finite].astype(np.uint32)


def _geometry_wanted(settings: FrameSettings) -> bool:
    """Whether the glass geometry runs on this frame (before checking the camera)."""
    if settings.glass_geometry == "off":
        return False
    pose_known = settings.camera_pose_source == "topic" or settings.camera_height_m > 0
    refine = settings.want_depth and settings.refine_depth_on_glass and pose_known
    return settings.want_objects or settings.want_points or settings.want_completed or refine


def _geometry_pose(settings: FrameSettings, stamp_ns: int, poses) -> tuple[dict, str | None]:
    """(the camera-pose arguments of :func:`glass_objects`, a count key when a pose from the
    topic is missing or unusable)."""
    if settings.camera_pose_source == "fixed":
        if settings.camera_height_m <= 0:  # 0 = unknown
            return {}, None
        return {
            "camera_height_m": settings.camera_height_m,
            "pitch_down_deg": settings.camera_pitch_deg,
            "roll_deg": settings.camera_roll_deg,
        }, None
    pose = nearest_by_stamp(poses, stamp_ns, settings.pose_tolerance_ms * 1e6)
    if pose is None:
        return {}, "no_pose"
    try:
        return {"camera_pose": pose_matrix(*pose)}, None
    except ValueError:
        return {}, "bad_pose"


def _glass_geometry(result: FrameResult, rgb: np.ndarray, stamp_ns: int, settings: FrameSettings, sensor, poses):
    """Glass objects of the frame into ``result`` (objects, instances, boxes, counts); refines
    ``result.depth`` on accepted glass when the plane came from the pose and that is asked for.
    A failure is a Skip (``glass_geometry_failed``): the frame's other outputs are still made."""
    pose_kwargs, pose_problem = _geometry_pose(settings, stamp_ns, poses)
    try:
        objects = glass_objects(
            result,
            result.camera.K,
            sensor_depth=sensor,
            rgb=rgb,
            plane_source=settings.plane_source,
            sensor_veto=settings.sensor_veto,
            **pose_kwargs,
        )
    except Exception as exc:  # the depth, mask and points do not depend on it
        result.skips.append(Skip("glass_geometry_failed", f"glass geometry failed ({type(exc).__name__}: {exc})"))
        return
    result.objects, result.instances = objects, objects.instances
    counts = {key: n for key, n in objects.counts.items() if n}
    counts["frames"] = 1
    if pose_problem:
        counts[pose_problem] = 1
    refined = refined_depth(objects) if settings.refine_depth_on_glass else None
    if refined is not None:
        result.depth = valid_depth(refined)
        counts["depth_refined"] = 1
    if settings.want_objects:
        result.boxes = object_boxes(objects)
    result.geometry_counts = {f"glass_geometry.{key}": n for key, n in counts.items()}


def _scale_from_table(
    result: FrameResult, stamp_ns: int, settings: FrameSettings, camera_skip: Skip | None, poses
) -> None:
    """Rescale ``result.depth`` so the table lies at the camera's height below it, or add a Skip."""
    if camera_skip is not None:
        result.skips.append(
            Skip(
                "table_scale_skipped",
                f"scale_from_table needs camera_info of the image's size ({camera_skip.reason}): depth left unscaled",
            )
        )
        return
    if settings.camera_pose_source == "fixed":
        up, height = up_from_pitch_roll(settings.camera_pitch_deg, settings.camera_roll_deg), settings.camera_height_m
    else:
        pose = nearest_by_stamp(poses, stamp_ns, settings.pose_tolerance_ms * 1e6)
        if pose is None:
            result.skips.append(
                Skip(
                    "table_scale_no_pose",
                    "scale_from_table: no camera_pose within pose_tolerance_ms of the image: depth left unscaled",
                )
            )
            return
        try:
            up, height = pose_up_and_height(pose_matrix(*pose))
        except ValueError as exc:
            result.skips.append(
                Skip("bad_camera_pose", f"scale_from_table: bad camera_pose ({exc}): depth left unscaled")
            )
            return
    estimate = support_plane_scale(result.depth, result.camera.K, up, height, exclude=result.mask > 0)
    if not estimate.ok:
        result.skips.append(
            Skip("table_scale_refused", f"scale_from_table refused: {estimate.reason}; depth left unscaled")
        )
        return
    result.depth = valid_depth(result.depth * np.float32(estimate.scale))
    result.table_scale = float(estimate.scale)


def _paired_sensor(
    stamp_ns: int, settings: FrameSettings, sensor_depths, decode_depth, shape
) -> tuple[np.ndarray | None, Skip | None]:
    """(the sensor depth paired with the frame, (H, W) float32 metres, None), or (None, why not)."""
    paired = nearest_by_stamp(sensor_depths, stamp_ns, settings.sync_tolerance_ms * 1e6)
    if paired is None or decode_depth is None:
        return None, Skip(
            "no_paired_sensor_depth", "no sensor_depth within sync_tolerance_ms of the image: depth_completed skipped"
        )
    try:
        sensor = decode_depth(paired)
    except ValueError as exc:
        return None, Skip("bad_sensor_depth", f"dropped a bad sensor_depth message: {exc}")
    if sensor.shape != shape:
        return None, Skip(
            "sensor_depth_size_mismatch",
            f"sensor_depth is {sensor.shape[1]}x{sensor.shape[0]}, image is {shape[1]}x{shape[0]}: "
            "register depth to colour first; depth_completed and the glass geometry's sensor plane skipped",
        )
    return sensor, None


def _complete(result: FrameResult, sensor: np.ndarray, settings: FrameSettings) -> None:
    """``result.completed``: the sensor depth with the network's depth, aligned to it, on glass;
    the glass geometry's depth on accepted objects when its plane is metric."""
    completed = complete_depth(sensor, result.depth, result.mask, CompletionConfig(ring_px=settings.completion_ring_px))
    if result.objects is not None:
        on_glass = completed_on_glass(completed, result.objects)
        if on_glass is not None:
            completed = on_glass
            result.geometry_counts["glass_geometry.completed_from_geometry"] = 1
    result.completed = valid_depth(completed)
