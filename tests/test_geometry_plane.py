"""Support plane: robust fit to depth, from a pose or height, and the choice among sources."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.geometry import (
    NETWORK_FIT,
    SENSOR_FIT,
    Plane,
    choose_plane,
    fit_plane_to_depth,
    make_plane,
    plane_from_camera_pose,
    plane_from_height,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Cylinder, K, Scene, camera_pose, render, sensor_depth  # noqa: E402

GLASSES = [Cylinder(0.0, 0.6, 0.04, 0.12), Cylinder(0.13, 0.7, 0.03, 0.10)]


def _close(plane: Plane, truth: Plane, degrees: float, metres: float):
    assert plane.angle_to(truth) < degrees, (plane, truth)
    assert abs(plane.offset - truth.offset) < metres, (plane, truth)


@pytest.mark.parametrize("pitch, roll", [(35, 10), (60, -20), (20, 30)])
def test_fit_recovers_tilted_planes_from_exact_depth(pitch, roll):
    r = render(Scene(GLASSES, wall_y=1.6), camera_pose(0.45, pitch, roll))
    estimate = fit_plane_to_depth(r.depth, K, exclude=r.ids > 0)
    assert estimate.ok and estimate.source == "sensor_depth" and estimate.code == ""
    _close(estimate.plane, r.plane, 0.1, 0.001)
    step = SENSOR_FIT.stride
    v, u = np.mgrid[0:480:step, 0:640:step]
    z = r.depth[::step, ::step]
    points = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=-1)
    table_pixels = int((np.abs(r.plane.signed_distance(points)) < 1e-6).sum())
    # Inliers: the table, plus the wall's foot within the (depth-growing) tolerance.
    assert 0.95 * table_pixels <= estimate.inliers <= 1.05 * table_pixels


def test_fit_is_robust_to_sensor_noise_and_glass_and_deterministic():
    r = render(Scene(GLASSES, wall_y=1.6), camera_pose(0.45, 35, 10))
    noisy = sensor_depth(r, seed=3)
    estimate = fit_plane_to_depth(noisy, K, exclude=r.ids > 0)
    assert estimate.ok
    _close(estimate.plane, r.plane, 0.5, 0.003)
    again = fit_plane_to_depth(noisy, K, exclude=r.ids > 0)
    np.testing.assert_array_equal(again.plane.normal, estimate.plane.normal)
    assert again.inliers == estimate.inliers


def test_glass_pixels_seeing_the_table_behind_do_not_bend_the_plane():
    # Without the transparent mask the sensor's see-through pixels still lie on the table, and
    # the missing ones are NaN: the plane stays right. With all glass pixels replaced by a
    # false near surface, the mask is what keeps them out.
    r = render(Scene(GLASSES), camera_pose(0.45, 35))
    fooled = sensor_depth(r, seed=1)
    fooled[r.ids > 0] = 0.25
    _close(fit_plane_to_depth(fooled, K, exclude=r.ids > 0).plane, r.plane, 0.5, 0.003)
    # The exclusion mask is honoured: excluding everything leaves nothing to fit.
    assert fit_plane_to_depth(fooled, K, exclude=np.ones_like(r.ids, bool)).code == "too_few_pixels"


def test_fit_refuses_too_few_pixels():
    r = render(Scene(GLASSES), camera_pose(0.45, 35))
    sparse = np.full_like(r.depth, np.nan)
    sparse[400:420, 300:320] = r.depth[400:420, 300:320]
    estimate = fit_plane_to_depth(sparse, K)
    assert not estimate.ok and estimate.code == "too_few_pixels" and "valid" in estimate.reason


def test_fit_refuses_a_scene_without_a_dominant_plane():
    cloud = np.random.default_rng(0).uniform(0.3, 3.0, size=(480, 640))
    estimate = fit_plane_to_depth(cloud, K)
    assert not estimate.ok and estimate.code == "no_dominant_plane"


def test_fit_refuses_a_plane_seen_edge_on():
    # Camera 0.3 m up, pitched 18 deg upwards: the floor shows only in the lowest rows, at
    # grazing angles below 4 deg. The fit itself succeeds on exact depth; the angle refuses it.
    r = render(Scene([]), camera_pose(0.3, -18))
    assert np.isfinite(r.depth).sum() > 20000
    estimate = fit_plane_to_depth(r.depth, K)
    assert not estimate.ok and estimate.code == "edge_on" and "edge-on" in estimate.reason
    # Same floor pitched down 30 deg: accepted.
    assert fit_plane_to_depth(render(Scene([]), camera_pose(0.3, 30)).depth, K).ok


def test_camera_below_the_plane_is_refused_with_an_up_hint():
    pose = camera_pose(-0.4, -30)  # under a glass table, looking up at it
    r = render(Scene([]), pose)
    up = pose[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    estimate = fit_plane_to_depth(r.depth, K, up_hint=up)
    assert not estimate.ok and estimate.code == "camera_below_plane"
    # Without a hint the camera is taken to be upright, and a plane above it is no table.
    alone = fit_plane_to_depth(r.depth, K)
    assert not alone.ok and alone.code == "no_dominant_plane" and "upright" in alone.reason
    # Without that prior, a plane 0.4 m away is all the depth says.
    no_prior = dataclasses.replace(SENSOR_FIT, upright_margin_deg=None)
    alone = fit_plane_to_depth(r.depth, K, config=no_prior)
    assert alone.ok and abs(alone.plane.offset - 0.4) < 1e-3


def test_up_hint_or_an_upright_camera_keeps_a_larger_wall_from_being_taken_for_the_table():
    pose = camera_pose(0.45, 15)
    r = render(Scene([], wall_y=1.0), pose)
    no_prior = dataclasses.replace(SENSOR_FIT, upright_margin_deg=None)
    wall_first = fit_plane_to_depth(r.depth, K, config=no_prior)
    assert wall_first.ok and wall_first.plane.angle_to(r.plane) > 80
    hinted = fit_plane_to_depth(r.depth, K, up_hint=r.plane.normal, config=no_prior)
    assert hinted.ok
    _close(hinted.plane, r.plane, 0.1, 0.001)
    upright = fit_plane_to_depth(r.depth, K)  # no hint: the camera is taken to be upright
    assert upright.ok
    _close(upright.plane, r.plane, 0.1, 0.001)


@pytest.mark.parametrize("roll_deg", [-20.0, 0.0, 20.0])
@pytest.mark.parametrize("pitch_deg", [15.0, 45.0, 89.0])
def test_an_upright_camera_keeps_the_table_at_any_pitch_and_roll_within_range(pitch_deg, roll_deg):
    """The prior only rules out planes facing down the image: with a wall behind the table, the
    table is found for pitch 15-89 deg and roll up to 20 deg (a wall facing the camera points
    sin(pitch) * cos(roll) down the image, above the 10 deg margin's sine here)."""
    r = render(Scene([], wall_y=1.0), camera_pose(0.45, pitch_deg, roll_deg))
    estimate = fit_plane_to_depth(r.depth, K)
    assert estimate.ok, estimate.reason
    _close(estimate.plane, r.plane, 0.5, 0.005)  # the wall's foot may tilt the refit a little


def test_a_wall_facing_a_camera_pitched_less_than_the_margin_is_not_ruled_out():
    """The known limit: pitched down 5 deg (< the 10 deg margin), a wall facing the camera points
    down the image by only 5 deg, so the prior lets it through; the up hint does not."""
    pose = camera_pose(0.45, 5)
    r = render(Scene([], wall_y=1.2), pose)
    estimate = fit_plane_to_depth(r.depth, K)
    assert estimate.ok and estimate.plane.angle_to(r.plane) > 80
    up = pose[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    hinted = fit_plane_to_depth(r.depth, K, up_hint=up)
    assert not (hinted.ok and hinted.plane.angle_to(r.plane) > 80)


def test_a_camera_upside_down_needs_its_hint_or_no_prior():
    """Rolled 180 deg, the table faces down the image: refused without a hint (a ceiling to an
    upright camera), found with the pose's up hint or with the prior switched off."""
    pose = camera_pose(0.45, 40, 180)
    r = render(Scene([]), pose)
    assert not fit_plane_to_depth(r.depth, K).ok
    up = pose[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    _close(fit_plane_to_depth(r.depth, K, up_hint=up).plane, r.plane, 0.1, 0.001)
    no_prior = dataclasses.replace(SENSOR_FIT, upright_margin_deg=None)
    _close(fit_plane_to_depth(r.depth, K, config=no_prior).plane, r.plane, 0.1, 0.001)


def test_pose_and_height_sources_give_the_rendered_plane():
    pose = camera_pose(0.52, 40, -12)
    truth = render(Scene([]), pose).plane
    from_pose = plane_from_camera_pose(pose)
    from_height = plane_from_height(0.52, 40, -12)
    assert from_pose.ok and from_pose.source == "camera_pose"
    assert from_height.ok and from_height.source == "camera_height"
    # The renderer's plane comes from ray-cast points; check it against the hit points' fit.
    fitted = fit_plane_to_depth(render(Scene([]), pose).depth, K).plane
    for plane in (from_pose.plane, from_height.plane, truth):
        _close(plane, fitted, 0.01, 1e-4)


@pytest.mark.parametrize(
    "pose, code",
    [
        (np.eye(3), "invalid_pose"),
        (np.full((4, 4), np.nan), "invalid_pose"),
        (np.diag([2.0, 1.0, 1.0, 1.0]), "invalid_pose"),
        (camera_pose(-0.2, 30), "camera_below_plane"),
    ],
)
def test_bad_poses_are_refused_with_a_reason(pose, code):
    estimate = plane_from_camera_pose(pose)
    assert not estimate.ok and estimate.code == code and estimate.reason


def test_height_source_refuses_non_finite_and_below():
    assert plane_from_height(float("nan"), 30).code == "invalid_pose"
    assert plane_from_height(-0.1, 30).code == "camera_below_plane"


def test_make_plane_orients_the_normal_towards_the_camera():
    plane = make_plane([0, 2, 0], -1.0)
    np.testing.assert_allclose(plane.normal, [0, -1, 0])
    assert plane.offset == 0.5
    with pytest.raises(ValueError, match="not a direction"):
        make_plane([0, 0, 0], 1.0)


def test_choose_plane_order_of_trust_and_refusals():
    pose = camera_pose(0.45, 35)
    r = render(Scene(GLASSES), pose)
    glass = r.ids > 0
    noisy = sensor_depth(r)
    wrong_pose = camera_pose(0.60, 35)
    # Sensor first even with a (different) pose.
    choice = choose_plane(K, sensor_depth=noisy, transparent=glass, camera_pose=wrong_pose, network_depth=r.depth)
    assert choice.source == "sensor_depth" and choice.refusals == {} and choice.inliers > 1000
    _close(choice.plane, r.plane, 0.5, 0.003)
    # An empty sensor image is refused; the pose is next.
    empty = np.full_like(noisy, np.nan)
    choice = choose_plane(K, sensor_depth=empty, transparent=glass, camera_pose=pose, network_depth=r.depth)
    assert choice.source == "camera_pose" and choice.refusals["sensor_depth"].startswith("0 valid")
    assert [e.source for e in choice.estimates] == ["sensor_depth", "camera_pose"]
    # Bad pose: height with pitch is next; then the network's depth.
    choice = choose_plane(K, camera_pose=np.eye(3), camera_height_m=0.45, pitch_down_deg=35, network_depth=r.depth)
    assert choice.source == "camera_height" and set(choice.refusals) == {"camera_pose"}
    choice = choose_plane(K, transparent=glass, network_depth=r.depth * 1.2)
    assert choice.source == "network_depth"
    assert choice.plane.angle_to(r.plane) < 0.5 and abs(choice.plane.offset - 1.2 * 0.45) < 0.005
    # Nothing given, or only refused sources: no plane, reasons kept.
    assert choose_plane(K).plane is None and choose_plane(K).estimates == ()
    none = choose_plane(K, sensor_depth=empty, camera_pose=camera_pose(-0.1, 30))
    assert none.plane is None and none.source == "" and set(none.refusals) == {"sensor_depth", "camera_pose"}
    # Sources can be switched off.
    only_network = choose_plane(
        K, sensor_depth=noisy, camera_pose=pose, network_depth=r.depth, sources=("network_depth",)
    )
    assert only_network.source == "network_depth"
    with pytest.raises(ValueError, match="unknown plane sources"):
        choose_plane(K, sources=("lidar",))


def test_network_fit_is_looser_than_the_sensor_fit():
    assert NETWORK_FIT.tolerance_rel > 0.01 and NETWORK_FIT.tolerance_m > 0.004


@pytest.mark.parametrize("seed", range(5))
def test_a_table_holding_a_fifth_of_the_pixels_is_found_among_clutter(seed):
    r = render(Scene([]), camera_pose(0.45, 35))
    # Bottom fifth: table; the rest: clutter at random depths in front of it (no plane there
    # holds more than a few per cent of the pixels).
    depth = np.random.default_rng(seed).uniform(0.2, 0.5, size=r.depth.shape)
    depth[384:] = r.depth[384:]
    config = dataclasses.replace(SENSOR_FIT, seed=seed)
    estimate = fit_plane_to_depth(depth, K, config=config)
    assert estimate.ok, estimate.reason
    _close(estimate.plane, r.plane, 0.1, 0.001)


def test_pose_conventions_match_the_runtime_table_scale():
    # The runtime's table-scale code takes the same inputs; both must read them the same way.
    from egsa_ros.runtime import support_plane_scale as runtime

    for pitch, roll in ((0, 0), (35, 10), (70, -25)):
        np.testing.assert_allclose(
            plane_from_height(0.4, pitch, roll).plane.normal, runtime.up_from_pitch_roll(pitch, roll), atol=1e-12
        )
        pose = camera_pose(0.4, pitch, roll, x=0.1, yaw_deg=20)
        up, height = runtime.pose_up_and_height(pose)
        plane = plane_from_camera_pose(pose).plane
        np.testing.assert_allclose(plane.normal, up, atol=1e-12)
        assert plane.offset == pytest.approx(height)
