"""Scale from the support plane: a ray-cast table, wall and box seen by a camera at a known
height; predictions wrong by a known factor must be put right, and doubtful cases refused."""

from __future__ import annotations

import numpy as np
import pytest

from egsa_ros.runtime.support_plane_scale import (
    ScaleEstimate,
    SupportPlaneConfig,
    pose_matrix,
    pose_up_and_height,
    support_plane_scale,
    up_from_pitch_roll,
)

HEIGHT_M = 0.6
K = np.array([[110.0, 0.0, 63.5], [0.0, 110.0, 47.5], [0.0, 0.0, 1.0]])


def camera_pose(pitch_down_deg: float, height_m: float = HEIGHT_M) -> np.ndarray:
    """Camera (OpenCV axes) at (0, 0, height) looking along +y, pitched down; world z up."""
    p = np.radians(pitch_down_deg)
    forward = np.array([0.0, np.cos(p), -np.sin(p)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = [0.0, 0.0, height_m]
    return pose


def ray_cast(
    pose: np.ndarray, shape=(96, 128), wall_y: float = 1.2, box=((-0.08, 0.08), (0.45, 0.6), 0.15)
) -> np.ndarray:
    """(H, W) true z-depth of the table (z = 0), a wall (y = wall_y) and a box on the table
    (x and y ranges, height); NaN where a ray hits nothing."""
    h, w = shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)  # z = 1
    d = rays @ pose[:3, :3].T  # world direction per unit of z-depth
    c = pose[:3, 3]
    best = np.full((h, w), np.inf)

    def hit(t, inside):
        nonlocal best
        t = np.where(inside & (t > 0), t, np.inf)
        best = np.minimum(best, t)

    with np.errstate(divide="ignore", invalid="ignore"):
        t_table = -c[2] / d[..., 2]
        hit(t_table, np.ones((h, w), bool))
        t_wall = (wall_y - c[1]) / d[..., 1]
        hit(t_wall, (c[2] + t_wall * d[..., 2]) > 0)
        (x0, x1), (y0, y1), top = box
        t_top = (top - c[2]) / d[..., 2]
        px, py = c[0] + t_top * d[..., 0], c[1] + t_top * d[..., 1]
        hit(t_top, (px > x0) & (px < x1) & (py > y0) & (py < y1))
        t_front = (y0 - c[1]) / d[..., 1]
        px, pz = c[0] + t_front * d[..., 0], c[2] + t_front * d[..., 2]
        hit(t_front, (px > x0) & (px < x1) & (pz > 0) & (pz < top))
    return np.where(np.isfinite(best), best, np.nan).astype(np.float32)


def test_pose_gives_up_in_the_camera_frame_and_height():
    up, height = pose_up_and_height(camera_pose(90.0))  # looking straight down: up is -z optical
    np.testing.assert_allclose(up, [0.0, 0.0, -1.0], atol=1e-12)
    assert height == pytest.approx(HEIGHT_M)
    up, _ = pose_up_and_height(camera_pose(0.0))  # level: up is -y optical (y points down)
    np.testing.assert_allclose(up, [0.0, -1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="4x4"):
        pose_up_and_height(np.eye(3))


@pytest.mark.parametrize(
    "pitch, quaternion_xyzw",
    [
        (90.0, [1.0, 0.0, 0.0, 0.0]),  # straight down: 180 degrees about x
        (0.0, [-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)]),  # level: -90 degrees about x
    ],
)
def test_a_geometry_msgs_pose_gives_the_same_matrix(pitch, quaternion_xyzw):
    pose = pose_matrix([0.0, 0.0, HEIGHT_M], quaternion_xyzw)
    np.testing.assert_allclose(pose, camera_pose(pitch), atol=1e-12)
    slightly_off = pose_matrix([0.0, 0.0, HEIGHT_M], 1.05 * np.asarray(quaternion_xyzw))  # normalised
    np.testing.assert_allclose(slightly_off, camera_pose(pitch), atol=1e-12)


@pytest.mark.parametrize(
    "position, quaternion, message",
    [
        ([0, 0, 1], [0, 0, 0, 0], "not a rotation"),  # a default-constructed Pose
        ([0, 0, 1], [0, 0, 0, 2], "not a rotation"),
        ([0, np.nan, 1], [0, 0, 0, 1], "non-finite"),
    ],
)
def test_bad_poses_raise(position, quaternion, message):
    with pytest.raises(ValueError, match=message):
        pose_matrix(position, quaternion)


@pytest.mark.parametrize("pitch", [0.0, 30.0, 90.0])
def test_pitch_and_roll_give_the_same_up_as_the_pose(pitch):
    np.testing.assert_allclose(up_from_pitch_roll(pitch), pose_up_and_height(camera_pose(pitch))[0], atol=1e-12)
    rolled = up_from_pitch_roll(30.0, 20.0)
    assert np.linalg.norm(rolled) == pytest.approx(1.0) and rolled[0] < 0  # world up leans to the image's left


@pytest.mark.parametrize("pitch", [25.0, 45.0, 60.0])
@pytest.mark.parametrize("wrong_by", [0.7, 1.0, 1.35])
def test_a_prediction_off_by_a_factor_is_put_right(pitch, wrong_by):
    pose = camera_pose(pitch)
    truth = ray_cast(pose)
    wall = np.abs(truth - ray_cast(pose, wall_y=50.0)) > 1e-4  # pixels that change without the wall
    assert np.isfinite(truth).all() and (wall.mean() > 0.05 or pitch > 50)  # the wall is in view
    up, height = pose_up_and_height(pose)
    estimate = support_plane_scale(truth * wrong_by, K, up, height)
    assert estimate.ok and estimate.reason == ""
    assert estimate.scale * wrong_by == pytest.approx(1.0, abs=0.01)
    assert estimate.support > 0.3


def test_shape_errors_off_the_table_do_not_move_the_factor():
    """Noise on every pixel and garbage depth on the excluded (transparent) pixels: the factor
    still comes from the table."""
    pose = camera_pose(40.0)
    truth = ray_cast(pose)
    rng = np.random.default_rng(0)
    pred = truth * 1.2 * rng.normal(1.0, 0.02, truth.shape).astype(np.float32)
    glass = np.zeros(truth.shape, bool)
    glass[30:60, 50:80] = True
    pred[glass] = 0.05  # far too near: below the camera? barely
    up, height = pose_up_and_height(pose)
    estimate = support_plane_scale(pred, K, up, height, exclude=glass)
    assert estimate.ok and estimate.scale * 1.2 == pytest.approx(1.0, abs=0.015)
    assert support_plane_scale(pred, K, up, height).scale == pytest.approx(estimate.scale, rel=0.02)
    every_pixel = support_plane_scale(pred, K, up, height, exclude=glass, config=SupportPlaneConfig(stride=1))
    assert every_pixel.ok and every_pixel.scale == pytest.approx(estimate.scale, rel=0.005)


def test_doubtful_estimates_are_refused_with_a_reason():
    pose = camera_pose(40.0)
    truth = ray_cast(pose)
    up, height = pose_up_and_height(pose)
    nothing = support_plane_scale(np.full_like(truth, np.nan), K, up, height)
    assert nothing == ScaleEstimate(1.0, False, 0.0, nothing.reason) and "usable pixels" in nothing.reason
    far_off = support_plane_scale(truth * 3.0, K, up, height)
    assert not far_off.ok and far_off.scale == 1.0 and "outside" in far_off.reason
    assert not support_plane_scale(truth, K, up, 0.0).ok
    looking_up = support_plane_scale(truth, K, -up, height)  # the plane would be above
    assert not looking_up.ok and "usable pixels" in looking_up.reason
    # no dominant surface: depth spread evenly over a wide range of heights
    spread = np.exp(np.random.default_rng(1).uniform(np.log(0.3), np.log(3.0), truth.shape)).astype(np.float32)
    flat = support_plane_scale(spread, K, up, height, config=SupportPlaneConfig(min_support=0.3))
    assert not flat.ok and "no dominant horizontal surface" in flat.reason


def test_bad_arguments_raise():
    truth = ray_cast(camera_pose(40.0))
    up, height = pose_up_and_height(camera_pose(40.0))
    with pytest.raises(ValueError, match="intrinsics"):
        support_plane_scale(truth, np.zeros((3, 3)), up, height)
    with pytest.raises(ValueError, match="exclude"):
        support_plane_scale(truth, K, up, height, exclude=np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        support_plane_scale(truth[None], K, up, height)
