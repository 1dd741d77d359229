"""glass_geometry end to end: each plane source, noisy inputs, diagnostics counts, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.geometry import glass_geometry, instances_from_labels

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Box, Cylinder, K, Scene, camera_pose, render, sensor_depth  # noqa: E402

POSE = camera_pose(0.45, 35, 6)
SCENE = Scene([Cylinder(-0.12, 0.65, 0.035, 0.10), Cylinder(0.10, 0.72, 0.045, 0.16)], wall_y=1.5)


def _true_centroids():
    return [POSE[:3, :3].T @ (np.array([c.x, c.y, c.height / 2]) - POSE[:3, 3]) for c in SCENE.objects]


def _network_depth(r, scale=1.0):
    """A network-like depth: the true depth times a scale, with a smooth 1 % ripple."""
    v, u = np.mgrid[0 : r.depth.shape[0], 0 : r.depth.shape[1]]
    ripple = 1 + 0.01 * np.sin(u / 37.0) * np.cos(v / 53.0)
    return (r.depth * scale * ripple).astype(np.float32)


def _match(g, r):
    """{true object index: ObjectGeometry} by majority of pixels."""
    return {int(np.bincount(r.ids[g.instances.labels == o.instance_id]).argmax()): o for o in g.objects}


@pytest.mark.parametrize("inputs", ["sensor", "pose", "height"])
def test_glass_geometry_with_each_trusted_plane_source(inputs):
    r = render(SCENE, POSE)
    mask = (r.ids > 0).astype(np.uint8)
    kwargs = {
        "sensor": {"sensor_depth": sensor_depth(r, seed=5)},
        "pose": {"camera_pose": POSE},
        "height": {"camera_height_m": 0.45, "pitch_down_deg": 35.0, "roll_deg": 6.0},
    }[inputs]
    g = glass_geometry(mask, _network_depth(r, 1.15), K, **kwargs)
    expected_source = {"sensor": "sensor_depth", "pose": "camera_pose", "height": "camera_height"}[inputs]
    assert g.plane.source == expected_source and g.counts[f"plane_source_{expected_source}"] == 1
    objects = _match(g, r)
    assert sorted(objects) == [1, 2]
    for index, truth in enumerate(_true_centroids(), start=1):
        obj = objects[index]
        assert obj.ok and obj.model == "revolution"
        assert np.linalg.norm(obj.centroid - truth) < 0.01
        assert abs(obj.height_m - SCENE.objects[index - 1].height) < 0.01
    glass = r.ids > 0
    assert np.isfinite(g.depth[glass]).all() and np.isnan(g.depth[~glass]).all()
    error = g.depth[glass] - r.depth[glass]
    assert np.sqrt(np.mean(error**2)) < 0.01
    # The network depth alone is 15 % too far on glass: the geometry is what fixes it.
    assert np.sqrt(np.mean((_network_depth(r, 1.15)[glass] - r.depth[glass]) ** 2)) > 0.08
    for image in (g.depth, g.model_depth, g.back_depth):
        assert image.dtype == np.float32 and image.shape == mask.shape
    assert g.counts["objects_ok"] == 2 and g.counts["objects_model_revolution"] == 2


def test_network_plane_carries_the_network_scale():
    # With no sensor and no pose, the plane comes from the network's depth of the table: the
    # result is consistent but inherits the network's scale (here 20 % too far).
    r = render(SCENE, POSE)
    g = glass_geometry(r.ids > 0, _network_depth(r, 1.2), K)
    assert g.plane.source == "network_depth" and g.plane.inliers > 1000
    objects = _match(g, r)
    for index, truth in enumerate(_true_centroids(), start=1):
        assert np.linalg.norm(objects[index].centroid - 1.2 * truth) < 0.015


def test_refused_sources_are_counted():
    r = render(SCENE, POSE)
    empty = np.full(r.depth.shape, np.nan, np.float32)
    g = glass_geometry(r.ids > 0, None, K, sensor_depth=empty, camera_pose=camera_pose(-0.2, 30))
    assert g.plane.plane is None
    assert g.counts["plane_refused_sensor_depth_too_few_pixels"] == 1
    assert g.counts["plane_refused_camera_pose_camera_below_plane"] == 1
    assert g.counts["plane_none"] == 1 and g.counts["objects_refused_no_plane"] == 2


def test_rgb_edges_split_touching_objects():
    scene = Scene([Box(-0.03, 0.6, 0.03, 0.03, 0.1), Box(0.03, 0.6, 0.03, 0.03, 0.1)])
    r = render(scene, POSE)
    rgb = np.stack([np.choose(r.ids, [200, 60, 170]).astype(np.uint8)] * 3, axis=-1)
    without = glass_geometry(r.ids > 0, r.depth, K, camera_pose=POSE)
    with_rgb = glass_geometry(r.ids > 0, r.depth, K, camera_pose=POSE, rgb=rgb)
    assert without.counts["instances"] == 1 and with_rgb.counts["instances"] == 2
    assert with_rgb.counts["instances_split"] == 1


def test_instances_given_from_outside_replace_the_split():
    """Two touching boxes at one depth with no image: the package sees one instance; given the
    true split (ids 7 and 3, not consecutive) it measures both, each at its true height."""
    scene = Scene([Box(-0.03, 0.6, 0.03, 0.03, 0.1), Box(0.03, 0.6, 0.03, 0.03, 0.16)])
    r = render(scene, POSE)
    own = glass_geometry(r.ids > 0, r.depth, K, camera_pose=POSE)
    assert own.counts["instances"] == 1
    labels = np.choose(r.ids, [0, 7, 3])
    given = glass_geometry(r.ids > 0, r.depth, K, camera_pose=POSE, instances=instances_from_labels(labels))
    assert given.counts["instances"] == 2 and given.counts["instances_split"] == 0
    heights = {
        int(np.bincount(labels[given.instances.labels == o.instance_id]).argmax()): o.height_m for o in given.objects
    }
    assert heights[7] == pytest.approx(0.10, abs=0.01) and heights[3] == pytest.approx(0.16, abs=0.01)
    with pytest.raises(ValueError, match="instance labels .* and mask .* differ"):
        glass_geometry(r.ids > 0, r.depth, K, camera_pose=POSE, instances=instances_from_labels(labels[:, :-1]))


def test_instances_from_labels_renumbers_drops_specks_and_reports_borders():
    labels = np.zeros((40, 60), np.int64)
    labels[10:30, 0:10] = 9  # touches the left border
    labels[5:15, 30:40] = 4
    labels[35:37, 50:52] = 2  # 4 pixels: a speck
    instances = instances_from_labels(labels, min_area_px=10)
    assert [s.area_px for s in instances.stats] == [100, 200] and instances.dropped_small == 1
    assert [s.bbox for s in instances.stats] == [(30, 5, 10, 10), (0, 10, 10, 20)]
    assert instances.stats[1].touches == frozenset({"left"}) and instances.stats[0].touches == frozenset()
    assert set(np.unique(instances.labels)) == {0, 1, 2} and (instances.labels[labels == 2] == 0).all()
    with pytest.raises(ValueError, match="integer image"):
        instances_from_labels(labels.astype(np.float32))


def test_empty_mask_gives_empty_results():
    r = render(SCENE, POSE)
    g = glass_geometry(np.zeros(r.depth.shape, np.uint8), r.depth, K, camera_pose=POSE)
    assert g.objects == () and np.isnan(g.depth).all() and g.counts["instances"] == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, d: glass_geometry(m, d[:, :10], K), "depth .* and mask .* differ"),
        (lambda m, d: glass_geometry(m, d, K, sensor_depth=d[:10]), "sensor_depth .* and mask .* differ"),
        (lambda m, d: glass_geometry(m, d, np.eye(2)), "K must have 9 values"),
        (lambda m, d: glass_geometry(m, d, np.diag([0.0, 1.0, 1.0])), "invalid intrinsics"),
        (lambda m, d: glass_geometry(m[None], d, K), r"mask must be \(H, W\)"),
    ],
)
def test_bad_input_is_one_clear_error(call, message):
    mask = np.zeros((48, 64), np.uint8)
    depth = np.ones((48, 64), np.float32)
    with pytest.raises(ValueError, match=message):
        call(mask, depth)
