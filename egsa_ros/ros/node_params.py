"""The node's parameters: one table of names, defaults, descriptions, ranges and checks (ROS-free).

``launch/egsa.params.yaml`` must list exactly these names (a test checks both ways).
``dynamic`` parameters can be changed at any time (``ros2 param set``); the others are read
at ``configure`` and can be changed only while the node is unconfigured.

Values arrive with whatever type the user wrote (``-p max_rate_hz:=10`` is an integer, a params
file may say ``threads: two``): the node declares every parameter with dynamic typing and
:func:`convert` turns each value into the parameter's type or explains, in one line, why not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..runtime.frame_geometry import PLANE_SOURCE_CHOICES

BACKEND_CHOICES = ("auto", "onnxruntime", "torch", "tensorrt")
RELIABILITY_CHOICES = ("reliable", "best_effort")
POSE_SOURCE_CHOICES = ("fixed", "topic")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter. ``low``/``high`` bound numbers (also published as the descriptor's range);
    ``check`` adds a rule for strings (returns an error text or None)."""

    name: str
    default: Any
    description: str
    dynamic: bool = False
    check: Callable[[Any], str | None] | None = None
    low: float | None = None  # numbers: both bounds or neither
    high: float | None = None


def _choice(options):
    return lambda v: None if v in options else f"must be one of {list(options)}, got {v!r}"


def _size_error(value: str) -> str | None:
    if value == "":
        return None
    parts = value.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 3 for p in parts):
        return f"must be HEIGHTxWIDTH like 480x640 (or empty), got {value!r}"
    return None


def parse_frame_size(value: str):
    """``"480x640"`` -> (480, 640); ``""`` -> None."""
    return tuple(int(p) for p in value.lower().split("x")) if value else None


PARAMS = [
    ParamSpec("model", "", "checkpoint directory, camera-frame .onnx, or preset name; empty = the bundled model"),
    ParamSpec("engine", "", "TensorRT engine file (used with backend tensorrt or auto); empty = none"),
    ParamSpec(
        "onnx",
        "",
        "with backend tensorrt: the camera-frame .onnx the engine was built from; an engine that "
        "does not match this GPU/TensorRT is rebuilt from it at configure; empty = refuse a mismatched engine",
    ),
    ParamSpec(
        "trt_cache_dir",
        "",
        "engine cache directory for ONNX Runtime's TensorRT provider (backend onnxruntime "
        "on a GPU); empty = $ROS_HOME/egsa_ros/ort_trt_cache (~/.ros/...)",
    ),
    ParamSpec(
        "backend", "auto", "inference backend: auto, onnxruntime, torch or tensorrt", check=_choice(BACKEND_CHOICES)
    ),
    ParamSpec("threads", 2, "CPU threads for inference (ONNX Runtime intra-op / torch)", low=1, high=256),
    ParamSpec(
        "inference_nice",
        0,
        "niceness of the inference threads (Linux, 0-19): above 0 the node's message threads, "
        "camera drivers and controllers preempt the network at once; 0 = the process's own priority",
        low=0,
        high=19,
    ),
    ParamSpec(
        "expected_frame_size",
        "480x640",
        "HxW of the camera frames: the graph for it is built at start-up "
        "(other sizes are built on their first frame, a few seconds); empty = none",
        check=_size_error,
    ),
    ParamSpec(
        "flip_average",
        False,
        "also run the mirrored frame and average depth and class scores: ~+0.01 glass "
        "IoU for the bundled model at ~2x the network's time; false keeps the model's own setting (an "
        ".onnx or engine must be exported with --flip-average for true)",
    ),
    ParamSpec(
        "mask_input_size",
        "",
        "HxW of a second network pass the mask comes from, e.g. 384x512 for 480x640 "
        "frames (finer glass outlines, ~4x the network's time); empty = the model's own setting",
        check=_size_error,
    ),
    ParamSpec(
        "canonical_view",
        True,
        "for a model with a trained focal range (the bundled one: 40-90 deg lenses): frames from a lens "
        "outside it take the depth scale of a second look at the frame as a lens at the nearest end of "
        "the range would see it (up to 2x the network's time on those frames, none on others); "
        "false = skip it",
    ),
    ParamSpec(
        "canonical_view_period",
        10,
        "run that second look on every n-th frame of the same camera and reuse its scale in between "
        "(1 = every frame, ~2.2x the time per frame; 10 adds ~1/10 of a network pass)",
        low=1,
        high=1000,
    ),
    ParamSpec(
        "compressed_input", False, "subscribe to image/compressed (sensor_msgs/CompressedImage) instead of image"
    ),
    ParamSpec("use_sensor_depth", False, "subscribe to sensor_depth (16UC1 mm or 32FC1 m) and publish depth_completed"),
    ParamSpec(
        "sync_tolerance_ms",
        20.0,
        "largest stamp difference between image and sensor depth to pair them, ms",
        dynamic=True,
        low=0.0,
        high=10000.0,
    ),
    ParamSpec(
        "max_rate_hz",
        0.0,
        "process at most this many frames per second; 0 = as fast as frames come",
        dynamic=True,
        low=0.0,
        high=1000.0,
    ),
    ParamSpec(
        "fresh_frame_wait_ms",
        5.0,
        "lower latency for a little throughput: when the inference worker is free and the newest "
        "frame has waited longer than the time until the next frame is due (from the measured input "
        "rate), and that time is at most this many ms, process the next frame instead; 0 = off",
        dynamic=True,
        low=0.0,
        high=100.0,
    ),
    ParamSpec("publish_depth", True, "publish depth (32FC1 metres)", dynamic=True),
    ParamSpec("publish_mask", True, "publish mask (mono8, 255 = transparent)", dynamic=True),
    ParamSpec("publish_depth_completed", True, "publish depth_completed (needs use_sensor_depth)", dynamic=True),
    ParamSpec("publish_points", True, "publish transparent_points (needs camera_info)", dynamic=True),
    ParamSpec(
        "publish_objects",
        True,
        "publish transparent_objects (visualization_msgs/MarkerArray; needs camera_info and glass_geometry)",
        dynamic=True,
    ),
    ParamSpec(
        "points_stride",
        2,
        "keep every n-th row and column of transparent pixels in the cloud",
        dynamic=True,
        low=1,
        high=64,
    ),
    ParamSpec(
        "completion_ring_px",
        8,
        "ring around each transparent object used to align predicted to sensor depth, px",
        dynamic=True,
        low=1,
        high=200,
    ),
    ParamSpec(
        "scale_from_table",
        False,
        "rescale depth so the table lies at the camera's known height below it "
        "(needs camera_info; the camera's pose from camera_pose_source)",
        dynamic=True,
    ),
    ParamSpec(
        "camera_pose_source",
        "fixed",
        "where scale_from_table and the glass geometry get the camera's pose: fixed (camera_height_m, "
        "camera_pitch_deg, camera_roll_deg) or topic (camera_pose, geometry_msgs/PoseStamped: the camera's "
        "optical frame, x right y down z forward, in a frame whose z = 0 plane is the table top, z up; "
        "paired with each image by stamp)",
        check=_choice(POSE_SOURCE_CHOICES),
    ),
    ParamSpec(
        "pose_tolerance_ms",
        50.0,
        "largest stamp difference between an image and its camera_pose, ms",
        dynamic=True,
        low=0.0,
        high=10000.0,
    ),
    ParamSpec(
        "camera_height_m",
        0.0,
        "height of the camera above the table top, m (for scale_from_table and the glass geometry's "
        "plane; 0 = unknown)",
        dynamic=True,
        low=0.0,
        high=100.0,
    ),
    ParamSpec(
        "camera_pitch_deg",
        45.0,
        "how far the optical axis points below horizontal, degrees (90 = straight down; for "
        "scale_from_table and the glass geometry)",
        dynamic=True,
        low=-90.0,
        high=90.0,
    ),
    ParamSpec(
        "camera_roll_deg",
        0.0,
        "camera roll about its optical axis, degrees (positive: world up leans to the "
        "image's left; for scale_from_table and the glass geometry)",
        dynamic=True,
        low=-180.0,
        high=180.0,
    ),
    ParamSpec(
        "glass_geometry",
        True,
        "glass geometry (support plane, transparent object instances, their 3-D size and position, "
        "depth on glass) on frames where an output uses it (transparent_objects, transparent_points' "
        "instance ids, depth_completed, depth with refine_depth_on_glass); false = never",
        dynamic=True,
    ),
    ParamSpec(
        "plane_source",
        "auto",
        "where the glass geometry gets the table plane: auto (sensor depth, else the camera pose or "
        "camera_height_m, else the network's depth), sensor, pose, network, or none (no 3-D objects)",
        dynamic=True,
        check=_choice(PLANE_SOURCE_CHOICES),
    ),
    ParamSpec(
        "geometry_sensor_veto",
        True,
        "with sensor depth, the glass geometry refuses an object (solid_by_sensor) when the depth "
        "camera reads half its pixels or more as a solid surface over 2 cm above the table, no "
        "farther than the network's depth (an opaque object taken for glass); false = never (for "
        "a depth camera that reads the glass surface itself)",
        dynamic=True,
    ),
    ParamSpec(
        "refine_depth_on_glass",
        True,
        "replace depth (and the points made from it) on measured glass objects with the glass "
        "geometry's depth when the plane comes from the camera's pose or camera_height_m",
        dynamic=True,
    ),
    ParamSpec(
        "input_reliability",
        "best_effort",
        "QoS reliability of the input subscriptions",
        check=_choice(RELIABILITY_CHOICES),
    ),
    ParamSpec(
        "output_reliability", "reliable", "QoS reliability of the output publishers", check=_choice(RELIABILITY_CHOICES)
    ),
    ParamSpec("qos_depth", 1, "QoS history depth of inputs and outputs", low=1, high=1000),
    ParamSpec("diagnostics_period_s", 1.0, "period of /diagnostics messages, s", low=0.1, high=60.0),
    ParamSpec(
        "diagnostics_window_s",
        5.0,
        "the diagnostics' rates and counts cover this many recent seconds",
        dynamic=True,
        low=0.5,
        high=600.0,
    ),
    ParamSpec(
        "stale_timeout_s",
        3.0,
        "diagnostics say STALE when no image arrived for this long while active, s",
        dynamic=True,
        low=0.1,
        high=600.0,
    ),
    ParamSpec(
        "min_input_rate_hz",
        0.0,
        "diagnostics WARN when images arrive slower than this; 0 = not checked",
        dynamic=True,
        low=0.0,
        high=1000.0,
    ),
    ParamSpec(
        "min_output_rate_hz",
        0.0,
        "diagnostics WARN when frames are processed slower than this (while someone listens); 0 = not checked",
        dynamic=True,
        low=0.0,
        high=1000.0,
    ),
    ParamSpec("hardware_id", "", "diagnostics hardware_id; empty = the frame_id of the input images (the camera)"),
    ParamSpec(
        "autostart",
        True,
        "configure and activate at start-up; false: wait for lifecycle transitions "
        "(configure, activate) from a lifecycle manager",
    ),
    ParamSpec(
        "allow_random_weights",
        False,
        "run a randomly initialised network when no trained model is found (tests only); false: refuse to start",
    ),
    ParamSpec(
        "engine_fallback",
        False,
        "when the requested TensorRT engine cannot be used, fall back to the bundled "
        "model with a warning (shown in diagnostics); false: refuse to start",
    ),
]
SPECS: dict[str, ParamSpec] = {p.name: p for p in PARAMS}


def _type_name(kind: type) -> str:
    return {bool: "a bool (true/false)", int: "an integer", float: "a float (a number)", str: "a string"}[kind]


def convert(name: str, value: Any) -> tuple[Any, str | None]:
    """(``value`` as parameter ``name``'s type, None) or (None, why it is not acceptable).

    Integers are accepted for floats and integral floats for integers; nothing else changes type.
    """
    spec = SPECS.get(name)
    if spec is None:
        return None, f"unknown parameter {name!r}"
    kind = type(spec.default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif kind is int and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if type(value) is not kind:
        return None, f"must be {_type_name(kind)}, got {type(value).__name__} {value!r}"
    if kind is float and not math.isfinite(value):
        return None, f"must be a finite number, got {value!r}"
    if spec.low is not None and not spec.low <= value <= spec.high:
        return None, f"must be in [{spec.low}, {spec.high}], got {value!r}"
    error = spec.check(value) if spec.check else None
    return (None, error) if error else (value, None)


def check_value(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name`` (None if it is)."""
    return convert(name, value)[1]
