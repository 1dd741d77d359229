"""The node's parameters: one table of names, defaults, descriptions and checks (ROS-free).

``launch/egsa.params.yaml`` must list exactly these names (a test checks both ways).
``dynamic`` parameters can be changed at run time (``ros2 param set``); the others are
read once at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

BACKEND_CHOICES = ("auto", "onnxruntime", "torch", "tensorrt")
RELIABILITY_CHOICES = ("reliable", "best_effort")
POSE_SOURCE_CHOICES = ("fixed", "topic")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    dynamic: bool = False
    check: Optional[Callable[[Any], Optional[str]]] = None  # returns an error text or None


def _choice(options):
    return lambda v: None if v in options else f"must be one of {list(options)}, got {v!r}"


def _at_least(low):
    return lambda v: None if v >= low else f"must be >= {low}, got {v!r}"


def _between(low, high):
    return lambda v: None if low <= v <= high else f"must be in [{low}, {high}], got {v!r}"


def _size_error(value: str) -> Optional[str]:
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
    ParamSpec("backend", "auto", "inference backend: auto, onnxruntime, torch or tensorrt", check=_choice(BACKEND_CHOICES)),
    ParamSpec("threads", 2, "CPU threads for inference (ONNX Runtime intra-op / torch)", check=_at_least(1)),
    ParamSpec("expected_frame_size", "480x640", "HxW of the camera frames: the graph for it is built at start-up "
              "(other sizes are built on their first frame, a few seconds); empty = none", check=lambda v: _size_error(v)),
    ParamSpec("flip_average", False, "also run the mirrored frame and average depth and class scores: ~+0.01 glass "
              "IoU for the bundled model at ~2x the network's time; false keeps the model's own setting (an "
              ".onnx or engine must be exported with --flip-average for true)"),
    ParamSpec("mask_input_size", "", "HxW of a second network pass the mask comes from, e.g. 384x512 for 480x640 "
              "frames (finer glass outlines, ~4x the network's time); empty = the model's own setting",
              check=lambda v: _size_error(v)),
    ParamSpec("compressed_input", False, "subscribe to image/compressed (sensor_msgs/CompressedImage) instead of image"),
    ParamSpec("use_sensor_depth", False, "subscribe to sensor_depth (16UC1 mm or 32FC1 m) and publish depth_completed"),
    ParamSpec("sync_tolerance_ms", 20.0, "largest stamp difference between image and sensor depth to pair them, ms",
              dynamic=True, check=_at_least(0.0)),
    ParamSpec("max_rate_hz", 0.0, "process at most this many frames per second; 0 = as fast as frames come",
              dynamic=True, check=_at_least(0.0)),
    ParamSpec("publish_depth", True, "publish depth (32FC1 metres)", dynamic=True),
    ParamSpec("publish_mask", True, "publish mask (mono8, 255 = transparent)", dynamic=True),
    ParamSpec("publish_depth_completed", True, "publish depth_completed (needs use_sensor_depth)", dynamic=True),
    ParamSpec("publish_points", True, "publish transparent_points (needs camera_info)", dynamic=True),
    ParamSpec("points_stride", 2, "keep every n-th row and column of transparent pixels in the cloud",
              dynamic=True, check=_at_least(1)),
    ParamSpec("completion_ring_px", 8, "ring around each transparent object used to align predicted to sensor depth, px",
              dynamic=True, check=_at_least(1)),
    ParamSpec("scale_from_table", False, "rescale depth so the table lies at the camera's known height below it "
              "(needs camera_info; the camera's pose from camera_pose_source)", dynamic=True),
    ParamSpec("camera_pose_source", "fixed", "where scale_from_table gets the camera's pose: fixed (camera_height_m, "
              "camera_pitch_deg, camera_roll_deg) or topic (camera_pose, geometry_msgs/PoseStamped: the camera's "
              "optical frame, x right y down z forward, in a frame whose z = 0 plane is the table top, z up; "
              "paired with each image by stamp)", check=_choice(POSE_SOURCE_CHOICES)),
    ParamSpec("pose_tolerance_ms", 50.0, "largest stamp difference between an image and its camera_pose, ms",
              dynamic=True, check=_at_least(0.0)),
    ParamSpec("camera_height_m", 0.0, "height of the camera above the table top, m (for scale_from_table)",
              dynamic=True, check=_at_least(0.0)),
    ParamSpec("camera_pitch_deg", 45.0, "how far the optical axis points below horizontal, degrees (90 = straight "
              "down; for scale_from_table)", dynamic=True, check=_between(-90.0, 90.0)),
    ParamSpec("camera_roll_deg", 0.0, "camera roll about its optical axis, degrees (positive: world up leans to the "
              "image's left; for scale_from_table)", dynamic=True, check=_between(-180.0, 180.0)),
    ParamSpec("input_reliability", "best_effort", "QoS reliability of the input subscriptions",
              check=_choice(RELIABILITY_CHOICES)),
    ParamSpec("output_reliability", "reliable", "QoS reliability of the output publishers",
              check=_choice(RELIABILITY_CHOICES)),
    ParamSpec("qos_depth", 1, "QoS history depth of inputs and outputs", check=_at_least(1)),
    ParamSpec("diagnostics_period_s", 1.0, "period of /diagnostics messages, s", check=_at_least(0.1)),
]
SPECS: Dict[str, ParamSpec] = {p.name: p for p in PARAMS}


def check_value(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is not acceptable for parameter ``name`` (None if it is)."""
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown parameter {name!r}"
    if type(value) is not type(spec.default) and not (isinstance(spec.default, float) and isinstance(value, int)):
        return f"must be a {type(spec.default).__name__}, got {type(value).__name__}"
    return spec.check(value) if spec.check else None
