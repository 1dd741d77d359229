"""The support plane from what a robot knows about its camera: a camera pose in a frame whose
z = 0 plane is the table (z up), or the camera's height with its pitch and roll.

Same conventions as the runtime's table-scale code (``up_in_camera`` and camera height), which
imports :func:`up_from_pitch_roll` from here.
"""

from __future__ import annotations

import numpy as np

from .plane import CAMERA_HEIGHT, CAMERA_POSE, Plane, PlaneEstimate, refused

MIN_CAMERA_HEIGHT_M = 0.005


def up_from_pitch_roll(pitch_down_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """(3,) "up" in the optical frame of a camera whose axis points ``pitch_down_deg`` below
    horizontal (90 = straight down), rolled by ``roll_deg`` about its axis (positive: world up
    leans towards the image's left edge). Level and unrolled: (0, -1, 0)."""
    pitch, roll = np.radians(pitch_down_deg), np.radians(roll_deg)
    return np.array([-np.sin(roll) * np.cos(pitch), -np.cos(roll) * np.cos(pitch), -np.sin(pitch)])


def plane_from_camera_pose(camera_to_table) -> PlaneEstimate:
    """The table plane z = 0 seen from a camera at a 4x4 pose (camera optical frame -> table
    frame, metres, table z axis up). Refused (with a reason, no exception) for a non-finite
    matrix, a rotation block that is not a rotation, or a camera not above the table."""
    pose = np.asarray(camera_to_table, dtype=np.float64)
    if pose.shape != (4, 4):
        return refused(CAMERA_POSE, "invalid_pose", f"camera pose must be 4x4, got shape {pose.shape}")
    if not np.all(np.isfinite(pose)):
        return refused(CAMERA_POSE, "invalid_pose", "camera pose has non-finite values")
    rotation = pose[:3, :3]
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3) or np.linalg.det(rotation) < 0:
        return refused(CAMERA_POSE, "invalid_pose", "camera pose's 3x3 block is not a rotation")
    return _plane_from_up_height(rotation.T @ np.array([0.0, 0.0, 1.0]), float(pose[2, 3]), CAMERA_POSE)


def plane_from_height(camera_height_m: float, pitch_down_deg: float, roll_deg: float = 0.0) -> PlaneEstimate:
    """The table plane of a camera ``camera_height_m`` metres above it with the given pitch and roll
    (see :func:`up_from_pitch_roll`)."""
    values = (camera_height_m, pitch_down_deg, roll_deg)
    if not all(np.isfinite(value) for value in values):
        return refused(CAMERA_HEIGHT, "invalid_pose", f"camera height/pitch/roll {values} not all finite")
    return _plane_from_up_height(up_from_pitch_roll(pitch_down_deg, roll_deg), float(camera_height_m), CAMERA_HEIGHT)


def _plane_from_up_height(up: np.ndarray, height: float, source: str) -> PlaneEstimate:
    if height < MIN_CAMERA_HEIGHT_M:
        where = "below" if height < 0 else "on"
        return refused(
            source,
            "camera_below_plane",
            f"camera {height:.3f} m above the table: {where} the plane (needs >= {MIN_CAMERA_HEIGHT_M} m)",
        )
    return PlaneEstimate(Plane(up / np.linalg.norm(up), height), source)
