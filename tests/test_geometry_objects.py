"""Per-object geometry on analytic scenes: footprint, surface models, depth, size, refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from egsa_ros.geometry import GlassConfig, ObjectConfig, glass_geometry

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Box, Cylinder, Frustum, K, Scene, camera_pose, render, world_to_camera  # noqa: E402

MM = 0.001


def _geometry(scene, pose, surface="revolution", weight=0.0, network=None, **plane_inputs):
    r = render(scene, pose)
    inputs = plane_inputs or {"camera_pose": pose}
    config = GlassConfig(objects=ObjectConfig(surface=surface, network_weight=weight))
    depth = r.depth.astype(np.float32) if network is None else network(r).astype(np.float32)
    return r, glass_geometry(r.ids > 0, depth, K, config=config, **inputs)


def _rmse(estimate, truth, where):
    error = estimate[where] - truth[where]
    assert np.isfinite(error).all()
    return float(np.sqrt(np.mean(error**2)))


def _cylinder_truth(c: Cylinder, pose):
    foot = np.array([pose[0, 3], pose[1, 3]])
    toward = (foot - [c.x, c.y]) / np.linalg.norm(foot - [c.x, c.y])
    base = np.array([c.x, c.y]) + c.radius * toward
    return world_to_camera(pose, (c.x, c.y, c.height / 2)), world_to_camera(pose, (*base, 0.0))


CYLINDER_VIEWS = {
    "pitched": (Cylinder(0.0, 0.6, 0.04, 0.12), camera_pose(0.45, 35)),
    "rolled_off_centre": (Cylinder(0.1, 0.45, 0.035, 0.15), camera_pose(0.5, 50, 15, x=0.05)),
    "camera_below_top": (Cylinder(0.0, 0.7, 0.04, 0.25), camera_pose(0.15, 5)),
    "turned_far": (Cylinder(-0.2, 0.9, 0.05, 0.18), camera_pose(0.6, 30, -8, yaw_deg=-10)),
}


@pytest.mark.parametrize("view", sorted(CYLINDER_VIEWS))
def test_cylinder_with_surface_of_revolution_is_exact(view):
    cylinder, pose = CYLINDER_VIEWS[view]
    r, g = _geometry(Scene([cylinder]), pose)
    assert len(g.objects) == 1
    obj = g.objects[0]
    assert obj.ok and obj.model == "revolution" and not obj.cut_sides
    centroid, base = _cylinder_truth(cylinder, pose)
    assert np.linalg.norm(obj.centroid - centroid) < 5 * MM
    assert np.linalg.norm(obj.base_point - base) < 5 * MM
    assert abs(obj.height_m - cylinder.height) < 5 * MM
    assert abs(obj.width_m - 2 * cylinder.radius) < 5 * MM
    np.testing.assert_allclose(r.plane.signed_distance(obj.footprint), 0, atol=1e-9)
    glass = r.ids == 1
    assert _rmse(g.model_depth, r.depth, glass) < 3 * MM
    assert _rmse(g.back_depth, r.back, glass) < 5 * MM
    assert np.isnan(g.depth[~glass]).all() and g.depth.dtype == np.float32


FRUSTUM_VIEWS = {
    # A tumbler (wider at the top): its lowest pixels at the outer azimuths see its side, not
    # its base; the base arc must be told apart (without it the depth RMSE is 25 mm).
    "tumbler": (Frustum(0.0, 0.6, 0.03, 0.045, 0.12), camera_pose(0.45, 35)),
    "tumbler_low_camera": (Frustum(0.0, 0.6, 0.03, 0.045, 0.12), camera_pose(0.2, 10)),
    "tapering": (Frustum(0.05, 0.5, 0.045, 0.025, 0.2), camera_pose(0.5, 45, 10)),
}


@pytest.mark.parametrize("view", sorted(FRUSTUM_VIEWS))
def test_tapered_glasses_with_surface_of_revolution(view):
    f, pose = FRUSTUM_VIEWS[view]
    r, g = _geometry(Scene([f]), pose)
    obj = g.objects[0]
    assert obj.ok and obj.model == "revolution"
    big, small = f.radius, f.top_radius
    mean_z = f.height * (big**2 + 2 * big * small + 3 * small**2) / (4 * (big**2 + big * small + small**2))
    assert np.linalg.norm(obj.centroid - world_to_camera(pose, (f.x, f.y, mean_z))) < 5 * MM
    assert abs(obj.height_m - f.height) < 5 * MM
    assert abs(obj.width_m - 2 * max(f.radius, f.top_radius)) < 5 * MM
    assert _rmse(g.model_depth, r.depth, r.ids == 1) < 5 * MM


@pytest.mark.parametrize("change", ["dilate_2px", "erode_1px", "flip_30pc_of_outline"])
def test_imperfect_masks_degrade_gracefully(change):
    cylinder, pose = CYLINDER_VIEWS["pitched"]
    r = render(Scene([cylinder]), pose)
    exact = (r.ids > 0).astype(np.uint8)
    square = np.ones((3, 3), np.uint8)
    if change == "dilate_2px":
        mask = cv2.dilate(exact, np.ones((5, 5), np.uint8))
    elif change == "erode_1px":
        mask = cv2.erode(exact, square)
    else:
        ring = (cv2.dilate(exact, square) - cv2.erode(exact, square)) > 0
        flip = ring & (np.random.default_rng(0).random(exact.shape) < 0.3)
        mask = np.where(flip, 1 - exact, exact)
    g = glass_geometry(mask, r.depth.astype(np.float32), K, camera_pose=pose)
    obj = max(g.objects, key=lambda o: int((g.instances.labels == o.instance_id).sum()))
    assert obj.ok
    assert np.linalg.norm(obj.centroid - _cylinder_truth(cylinder, pose)[0]) < 10 * MM
    assert abs(obj.height_m - cylinder.height) < 10 * MM and abs(obj.width_m - 2 * cylinder.radius) < 10 * MM
    both = (mask > 0) & (r.ids == 1)
    assert _rmse(g.depth, r.depth, both) < 10 * MM


@pytest.mark.parametrize("view", ["pitched", "rolled_off_centre"])
def test_vertical_plane_model_is_worse_on_a_cylinder(view):
    # Mutation check: the surface-of-revolution test above must fail with the vertical plane.
    cylinder, pose = CYLINDER_VIEWS[view]
    r, g = _geometry(Scene([cylinder]), pose, surface="vertical_plane")
    assert g.objects[0].model == "vertical_plane"
    assert _rmse(g.model_depth, r.depth, r.ids == 1) > 8 * MM


def test_cube_face_on_with_vertical_plane_model_is_exact():
    box = Box(0.0, 0.6, 0.04, 0.04, 0.1)
    pose = camera_pose(0.45, 35)
    r, g = _geometry(Scene([box]), pose, surface="vertical_plane")
    obj = g.objects[0]
    assert obj.ok and obj.model == "vertical_plane"
    assert np.linalg.norm(obj.centroid - world_to_camera(pose, (0.0, 0.6, 0.05))) < 5 * MM
    assert np.linalg.norm(obj.base_point - world_to_camera(pose, (0.0, 0.56, 0.0))) < 5 * MM
    assert abs(obj.height_m - 0.1) < 5 * MM and abs(obj.width_m - 0.08) < 5 * MM
    front_face = _front_face_pixels(r, pose, box)
    assert front_face.sum() > 1000
    assert _rmse(g.model_depth, r.depth, front_face) < 2 * MM
    assert _rmse(g.model_depth, r.depth, r.ids == 1) < 3 * MM  # top face too (closed by the height)


def _front_face_pixels(r, pose, box):
    """Pixels whose true surface point lies on the box's front face (world y = y - half_y)."""
    v, u = np.mgrid[0 : r.depth.shape[0], 0 : r.depth.shape[1]]
    z = r.depth
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], -1)
    world = cam @ pose[:3, :3].T + pose[:3, 3]
    return (r.ids == 1) & (np.abs(world[..., 1] - (box.y - box.half_y)) < 1e-6)


def test_object_cut_at_the_top_gives_a_lower_bound_height():
    cylinder = Cylinder(0.0, 0.5, 0.04, 0.6)
    r, g = _geometry(Scene([cylinder]), camera_pose(0.45, 35))
    obj = g.objects[0]
    assert g.instances.stats[0].touches == frozenset({"top"})
    assert obj.ok and obj.cut_sides == frozenset({"above"}) and obj.height_is_lower_bound
    assert not obj.width_is_lower_bound and obj.model == "revolution"
    assert 0.2 < obj.height_m < cylinder.height
    assert abs(obj.width_m - 0.08) < 5 * MM
    assert _rmse(g.model_depth, r.depth, r.ids == 1) < 3 * MM


def test_object_cut_at_a_side_falls_back_to_the_vertical_plane_and_flags_its_width():
    cylinder = Cylinder(-0.45, 0.75, 0.04, 0.12)
    r, g = _geometry(Scene([cylinder]), camera_pose(0.45, 35))
    assert g.instances.stats[0].touches == frozenset({"left"})
    obj = g.objects[0]
    assert obj.ok and obj.cut_sides == frozenset({"side"}) and obj.width_is_lower_bound
    assert obj.model == "vertical_plane" and obj.width_m < 0.08
    assert abs(obj.height_m - cylinder.height) < 0.02
    assert g.counts["objects_cut_by_border"] == 1 and g.counts["objects_model_vertical_plane"] == 1


def test_object_whose_base_is_below_the_image_is_refused():
    r, g = _geometry(Scene([Cylinder(0.0, 0.3, 0.04, 0.12)]), camera_pose(0.45, 35))
    assert "bottom" in g.instances.stats[0].touches
    obj = g.objects[0]
    assert not obj.ok and obj.code == "base_unseen" and "base" in obj.reason
    assert np.isnan(obj.centroid).all() and np.isnan(obj.height_m)
    assert np.isnan(g.depth).all() and g.counts["objects_refused_base_unseen"] == 1


def test_no_plane_means_no_numbers():
    r = render(Scene([Cylinder(0.0, 0.6, 0.04, 0.12)]), camera_pose(0.45, 35))
    g = glass_geometry(r.ids > 0, None, K)
    assert g.plane.plane is None and g.counts["plane_none"] == 1
    assert [o.code for o in g.objects] == ["no_plane"] and np.isnan(g.depth).all()


def test_base_rays_nearly_along_the_plane_are_refused():
    pose = camera_pose(0.03, 0)  # camera 3 cm above the table, level
    r, g = _geometry(Scene([Cylinder(0.0, 1.5, 0.05, 0.2)]), pose)
    assert g.plane.source == "camera_pose"
    assert g.objects[0].code == "base_ray_parallel"


def test_a_footprint_behind_the_camera_is_refused():
    # The camera really looks 35 deg down; a wrong pitch (40 deg up) puts the glass above the
    # horizon, so its base would be behind the camera.
    r, g = _geometry(
        Scene([Cylinder(0.0, 0.6, 0.04, 0.12)]), camera_pose(0.45, 35), camera_height_m=0.45, pitch_down_deg=-40.0
    )
    assert g.plane.source == "camera_height"
    assert g.objects[0].code == "footprint_behind_camera"


def test_an_object_under_the_camera_is_refused():
    r, g = _geometry(Scene([Cylinder(0.0, 0.0, 0.05, 0.1)]), camera_pose(0.5, 90))
    assert g.objects[0].code == "under_camera"


def test_network_shape_fusion():
    cylinder, pose = CYLINDER_VIEWS["pitched"]

    def scaled(r):
        return r.depth * 1.3  # right shape, 30 % too far

    r, model_only = _geometry(Scene([cylinder]), pose, surface="vertical_plane", weight=0.0, network=scaled)
    glass_of = r.ids == 1
    np.testing.assert_array_equal(model_only.depth[glass_of], model_only.model_depth[glass_of])
    model_error = _rmse(model_only.model_depth, r.depth, glass_of)
    _, fused = _geometry(Scene([cylinder]), pose, surface="vertical_plane", weight=0.8, network=scaled)
    # The network's shape, brought to the model's median, removes part of the plane's error; an
    # unaligned blend of the 30 % too-far depth would be off by decimetres.
    assert _rmse(fused.depth, r.depth, glass_of) < 0.8 * model_error
    unaligned = 0.2 * model_only.model_depth + 0.8 * scaled(r)
    assert _rmse(unaligned, r.depth, glass_of) > 10 * model_error
    np.testing.assert_array_equal(fused.model_depth, model_only.model_depth)
    # With an exact model, fusing exact network depth changes little.
    _, exact = _geometry(Scene([cylinder]), pose, weight=0.3)
    assert _rmse(exact.depth, r.depth, glass_of) < 3 * MM


def test_two_objects_and_a_refused_one_in_one_frame():
    pose = camera_pose(0.45, 35)
    scene = Scene([Cylinder(-0.12, 0.65, 0.035, 0.1), Cylinder(0.12, 0.7, 0.04, 0.14), Cylinder(0.0, 0.3, 0.04, 0.1)])
    r, g = _geometry(scene, pose)
    by_truth = {int(np.bincount(r.ids[g.instances.labels == o.instance_id]).argmax()): o for o in g.objects}
    assert sorted(by_truth) == [1, 2, 3]
    assert by_truth[3].code == "base_unseen"
    for index in (1, 2):
        cylinder = scene.objects[index - 1]
        assert by_truth[index].ok
        assert np.linalg.norm(by_truth[index].centroid - _cylinder_truth(cylinder, pose)[0]) < 5 * MM
        assert abs(by_truth[index].height_m - cylinder.height) < 5 * MM
    assert g.counts["objects_ok"] == 2 and g.counts["instances"] == 3


def test_object_config_rejects_unknown_models_and_weights():
    with pytest.raises(ValueError, match="surface must be"):
        ObjectConfig(surface="sphere")
    with pytest.raises(ValueError, match="network_weight"):
        ObjectConfig(network_weight=1.5)
