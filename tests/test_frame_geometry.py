"""The glass geometry in the runtime: the Python API's glass_objects, process_frame with
glass_geometry on (refined depth, depth completion on glass, instance ids of the points,
object boxes, counted choices and refusals) and the marker / point-cloud messages made of it.

Analytic scene: two glass cylinders on a table seen by a known camera (tests/test_geometry_scenes.py),
and a "network" whose depth is 15 % too far with a 1 % ripple.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.runtime.frame_geometry import glass_objects, object_boxes, plane_sources, z_to
from egsa_ros.runtime.frame_processing import FrameSettings, camera_model, process_frame
from egsa_ros.runtime.prediction import Prediction

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Cylinder, Scene, camera_pose, render, sensor_depth, world_to_camera  # noqa: E402

H, W = 240, 320
K = np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])
HEIGHT_M, PITCH, ROLL = 0.45, 35.0, 6.0
POSE = camera_pose(HEIGHT_M, PITCH, ROLL)
CYLINDERS = [Cylinder(-0.12, 0.65, 0.035, 0.10), Cylinder(0.10, 0.72, 0.045, 0.16)]
SCENE = Scene(CYLINDERS, wall_y=1.5, shape=(H, W), K=K)
RENDER = render(SCENE, POSE)
GLASS = RENDER.ids > 0
RGB = np.zeros((H, W, 3), np.uint8)
FIXED_POSE = dict(camera_pose_source="fixed", camera_height_m=HEIGHT_M, camera_pitch_deg=PITCH, camera_roll_deg=ROLL)


def _network_depth(see_through: bool = False) -> np.ndarray:
    """The true depth 15 % too far with a smooth 1 % ripple; ``see_through``: on glass, the table
    behind it instead (what a network fooled by the glass predicts)."""
    v, u = np.mgrid[0:H, 0:W]
    truth = np.where(GLASS, RENDER.table_depth, RENDER.depth) if see_through else RENDER.depth
    return (truth * 1.15 * (1 + 0.01 * np.sin(u / 37.0) * np.cos(v / 53.0))).astype(np.float32)


class SceneNetwork:
    """The pipeline's interface, answering every frame with the scene's mask and a network-like depth."""

    def __init__(self, depth: np.ndarray):
        self.depth = depth

    def __call__(self, rgb, fx=None):
        assert rgb.shape == (H, W, 3)
        return Prediction(self.depth.copy(), GLASS.astype(np.uint8), {"total": 2.0})


def _camera():
    return camera_model(K.ravel().tolist(), [0.0] * 5, H, W)


def _rmse_on_glass(depth: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean((depth[GLASS] - RENDER.depth[GLASS]) ** 2)))


def _true_mid_heights() -> list[np.ndarray]:
    return [world_to_camera(POSE, (c.x, c.y, c.height / 2)) for c in CYLINDERS]


def _by_truth(instances: np.ndarray, ids) -> dict[int, int]:
    """{true object index: instance id} by the majority of each instance's pixels."""
    return {int(np.bincount(RENDER.ids[instances == i]).argmax()): int(i) for i in ids}


def test_glass_objects_from_a_prediction_and_the_camera_pose():
    from egsa_ros import glass_objects as public_glass_objects  # the package's public re-export

    pred = Prediction(_network_depth(), GLASS.astype(np.uint8))
    objects = public_glass_objects(pred, K, camera_pose=POSE, rgb=RGB)
    assert objects.plane_source == "camera_pose" and objects.metric and objects.plane_summary == "camera_pose"
    assert len(objects) == 2 and all(obj.ok and obj.model == "revolution" for obj in objects)
    assert objects.instances.dtype == np.int32 and objects.instances.shape == (H, W)
    assert set(np.unique(objects.instances)) == {0, 1, 2}
    assert not objects.instances[~GLASS].any() and objects.instances[GLASS].all()
    match = _by_truth(objects.instances, [obj.instance_id for obj in objects])
    by_id = {obj.instance_id: obj for obj in objects}
    for index, cylinder in enumerate(CYLINDERS, start=1):
        obj = by_id[match[index]]
        assert np.linalg.norm(obj.centroid - _true_mid_heights()[index - 1]) < 0.01
        assert abs(obj.height_m - cylinder.height) < 0.01 and abs(obj.width_m - 2 * cylinder.radius) < 0.01
    # depth on glass: 15 % too far from the network, within a centimetre with the geometry
    assert _rmse_on_glass(pred.depth) > 0.08 and _rmse_on_glass(objects.depth) < 0.01
    np.testing.assert_array_equal(objects.depth[~GLASS], pred.depth[~GLASS])
    assert objects.counts["objects_ok"] == 2


def test_glass_objects_refuses_unknown_plane_sources_and_none_gives_instances_only():
    pred = Prediction(_network_depth(), GLASS.astype(np.uint8))
    with pytest.raises(ValueError, match="plane_source must be one of"):
        glass_objects(pred, K, plane_source="gps")
    objects = glass_objects(pred, K, camera_pose=POSE, plane_source="none")
    assert len(objects) == 0 and objects.plane_summary == "none (no source given)"
    assert objects.counts["objects_refused_no_plane"] == 2 and objects.instances.max() == 2
    np.testing.assert_array_equal(objects.depth, pred.depth)
    assert plane_sources("pose") == ("camera_pose", "camera_height")


def test_process_frame_refines_depth_labels_points_and_boxes_objects_from_a_fixed_pose():
    settings = FrameSettings(glass_geometry="auto", want_points=True, want_objects=True, points_stride=1, **FIXED_POSE)
    network = _network_depth()
    result = process_frame(SceneNetwork(network), RGB, 0, settings, camera=_camera())
    assert result.skips == [] and result.objects is not None and len(result.objects) == 2
    counts = result.geometry_counts
    assert counts["glass_geometry.plane_source_camera_height"] == 1 and counts["glass_geometry.frames"] == 1
    assert counts["glass_geometry.objects_ok"] == 2 and counts["glass_geometry.depth_refined"] == 1
    # depth refined on glass only
    assert _rmse_on_glass(result.depth) < 0.01 < 0.08 < _rmse_on_glass(network)
    np.testing.assert_array_equal(result.depth[~GLASS], network[~GLASS])
    # every point carries the instance id of its pixel, and lies on the refined depth
    points, ids = result.points, result.point_instances
    assert len(points) == GLASS.sum() and ids.dtype == np.uint32 and ids.shape == (len(points),)
    u = np.rint(points[:, 0] / points[:, 2] * K[0, 0] + K[0, 2]).astype(int)
    v = np.rint(points[:, 1] / points[:, 2] * K[1, 1] + K[1, 2]).astype(int)
    np.testing.assert_array_equal(ids, result.instances[v, u])
    np.testing.assert_allclose(points[:, 2], result.depth[v, u], rtol=1e-6)
    assert set(np.unique(ids)) == {1, 2}
    # boxes: upright cylinders at the true objects' mid-height points
    match = _by_truth(result.instances, [1, 2])
    boxes = {box.instance_id: box for box in result.boxes}
    up = POSE[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    for index, cylinder in enumerate(CYLINDERS, start=1):
        box = boxes[match[index]]
        assert np.linalg.norm(box.centre - _true_mid_heights()[index - 1]) < 0.01
        assert abs(box.width_m - 2 * cylinder.radius) < 0.01 and abs(box.height_m - cylinder.height) < 0.01
        np.testing.assert_allclose(_rotate_z(box.orientation_xyzw), up, atol=1e-9)


def _rotate_z(q) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(q).apply([0.0, 0.0, 1.0])


def test_refinement_switch_and_geometry_off_leave_the_depth_as_the_network_gave_it():
    network = _network_depth()
    no_refine = FrameSettings(glass_geometry="auto", want_objects=True, refine_depth_on_glass=False, **FIXED_POSE)
    result = process_frame(SceneNetwork(network), RGB, 0, no_refine, camera=_camera())
    np.testing.assert_array_equal(result.depth, network)
    assert len(result.boxes) == 2 and "glass_geometry.depth_refined" not in result.geometry_counts
    off = FrameSettings(glass_geometry="off", want_objects=True, want_points=True, points_stride=1, **FIXED_POSE)
    result = process_frame(SceneNetwork(network), RGB, 0, off, camera=_camera())
    np.testing.assert_array_equal(result.depth, network)
    assert result.objects is None and result.instances is None and result.boxes is None
    assert result.geometry_counts == {} and not result.point_instances.any()
    assert len(result.point_instances) == len(result.points) == GLASS.sum()
    # nothing that uses the geometry is wanted: it does not run
    idle = FrameSettings(glass_geometry="auto", want_depth=False)
    assert process_frame(SceneNetwork(network), RGB, 0, idle, camera=_camera()).objects is None


def test_depth_completed_takes_the_geometry_on_glass_with_the_sensor_plane():
    """A network that sees the table through the glass: today's completion (network depth aligned
    to the sensor around each object) keeps that mistake; the geometry's plane from the depth
    camera puts the glass where it stands. The network's own depth is not refined (no pose)."""
    network = _network_depth(see_through=True)
    sensor = sensor_depth(RENDER, seed=3)
    stamp = 5_000_000_000
    kwargs = dict(camera=_camera(), sensor_depths=[(stamp, "depth")], decode_depth=lambda item: sensor)
    on = FrameSettings(glass_geometry="auto", want_completed=True)
    result = process_frame(SceneNetwork(network), RGB, stamp, on, **kwargs)
    before = process_frame(SceneNetwork(network), RGB, stamp, FrameSettings(want_completed=True), **kwargs)
    assert result.skips == [] and before.skips == []
    counts = result.geometry_counts
    assert counts["glass_geometry.plane_source_sensor_depth"] == 1
    assert counts["glass_geometry.completed_from_geometry"] == 1 and counts["glass_geometry.objects_ok"] == 2
    assert _rmse_on_glass(result.completed) < 0.015 and _rmse_on_glass(before.completed) > 0.1
    np.testing.assert_array_equal(result.completed[~GLASS], before.completed[~GLASS])
    np.testing.assert_array_equal(result.depth, network)  # a sensor plane does not refine `depth`


def test_no_plane_no_pose_and_bad_pose_are_counted_and_change_nothing():
    network = _network_depth()
    pose_only = FrameSettings(glass_geometry="auto", want_objects=True, plane_source="pose")  # height 0 = unknown
    result = process_frame(SceneNetwork(network), RGB, 0, pose_only, camera=_camera())
    counts = result.geometry_counts
    assert counts["glass_geometry.plane_none"] == 1 and counts["glass_geometry.objects_refused_no_plane"] == 2
    assert result.boxes == [] and result.instances.max() == 2 and result.objects.plane_summary.startswith("none")
    np.testing.assert_array_equal(result.depth, network)
    topic = FrameSettings(glass_geometry="auto", want_objects=True, camera_pose_source="topic", plane_source="pose")
    result = process_frame(SceneNetwork(network), RGB, 0, topic, camera=_camera())
    assert result.geometry_counts["glass_geometry.no_pose"] == 1 and result.boxes == []
    zero_quaternion = [(0, ((0.0, 0.0, 0.45), (0.0, 0.0, 0.0, 0.0)))]
    result = process_frame(SceneNetwork(network), RGB, 0, topic, camera=_camera(), poses=zero_quaternion)
    assert result.geometry_counts["glass_geometry.bad_pose"] == 1
    # a pose from the topic: the same objects as from the fixed height
    quaternion = _quaternion_xyzw(POSE)
    result = process_frame(
        SceneNetwork(network), RGB, 0, topic, camera=_camera(), poses=[(0, ((0.0, 0.0, HEIGHT_M), quaternion))]
    )
    assert result.geometry_counts["glass_geometry.plane_source_camera_pose"] == 1 and len(result.boxes) == 2


def _quaternion_xyzw(pose: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(pose[:3, :3]).as_quat()


def test_glass_geometry_without_camera_info_is_one_camera_skip():
    settings = FrameSettings(glass_geometry="auto", want_objects=True)
    result = process_frame(SceneNetwork(_network_depth()), RGB, 0, settings)
    assert [s.key for s in result.skips] == ["no_camera_info"] and "glass geometry skipped" in result.skips[0].reason
    assert result.objects is None and result.boxes is None


def test_a_failing_glass_geometry_is_a_skip_and_the_other_outputs_are_still_made(monkeypatch):
    import egsa_ros.runtime.frame_processing as frame_processing

    def broken(*args, **kwargs):
        raise ValueError("no luck")

    monkeypatch.setattr(frame_processing, "glass_objects", broken)
    settings = FrameSettings(glass_geometry="auto", want_objects=True, want_points=True, **FIXED_POSE)
    result = process_frame(SceneNetwork(_network_depth()), RGB, 0, settings, camera=_camera())
    assert [s.key for s in result.skips] == ["glass_geometry_failed"] and "no luck" in result.skips[0].reason
    assert result.objects is None and result.boxes is None and result.geometry_counts == {}
    assert len(result.points) > 0 and not result.point_instances.any()


def test_z_to_turns_the_z_axis_onto_any_direction():
    for direction in ([0, 0, 1], [0, 0, -1], [0, -1, 0], [0.3, -0.8, -0.5], [1e-12, 0, -1]):
        d = np.asarray(direction, float) / np.linalg.norm(direction)
        q = z_to(direction)
        assert abs(np.linalg.norm(q) - 1) < 1e-12
        np.testing.assert_allclose(_rotate_z(q), d, atol=1e-9)


def test_object_boxes_skip_objects_without_finite_sizes():
    pred = Prediction(_network_depth(), GLASS.astype(np.uint8))
    assert object_boxes(glass_objects(pred, K, plane_source="none")) == []
    assert len(object_boxes(glass_objects(pred, K, camera_pose=POSE))) == 2


# ------------------------------------------------------------------ messages (ROS message wheels)


def test_point_cloud_carries_the_instance_field_and_markers_describe_the_objects():
    pytest.importorskip("visualization_msgs", reason="ROS 2 message wheels not installed")
    from sensor_msgs.msg import PointField
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from egsa_ros.ros.conversions import objects_msg, point_instances_from_msg, points_from_msg, points_msg

    header = Header(frame_id="camera_color_optical_frame")
    header.stamp.sec = 12
    xyz = np.array([[0.1, -0.2, 0.7], [0.0, 0.1, 0.9]], np.float32)
    msg = points_msg(header, xyz, np.array([2, 0], np.uint32))
    assert [(f.name, f.offset, f.datatype) for f in msg.fields] == [
        ("x", 0, PointField.FLOAT32),
        ("y", 4, PointField.FLOAT32),
        ("z", 8, PointField.FLOAT32),
        ("instance", 12, PointField.UINT32),
    ]
    assert msg.point_step == 16 and msg.row_step == 32 and msg.width == 2 and msg.is_dense
    np.testing.assert_array_equal(points_from_msg(msg), xyz)
    np.testing.assert_array_equal(point_instances_from_msg(msg), [2, 0])
    assert not point_instances_from_msg(points_msg(header, xyz)).any()

    pred = Prediction(_network_depth(), GLASS.astype(np.uint8))
    boxes = object_boxes(glass_objects(pred, K, camera_pose=POSE))
    markers = objects_msg(header, boxes).markers
    assert markers[0].action == Marker.DELETEALL and len(markers) == 1 + 2 * len(boxes)
    cylinders = [m for m in markers if m.type == Marker.CYLINDER]
    labels = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert [m.id for m in cylinders] == [b.instance_id for b in boxes] == [m.id for m in labels]
    for marker, box in zip(cylinders, boxes):
        assert marker.header.frame_id == "camera_color_optical_frame" and marker.header.stamp.sec == 12
        p, q = marker.pose.position, marker.pose.orientation
        np.testing.assert_allclose([p.x, p.y, p.z], box.centre, rtol=1e-12)
        np.testing.assert_allclose([q.x, q.y, q.z, q.w], box.orientation_xyzw, rtol=1e-12)
        assert (marker.scale.x, marker.scale.y, marker.scale.z) == (box.width_m, box.width_m, box.height_m)
        assert 0 < marker.color.a < 1
    label = labels[0]
    assert label.text == f"{boxes[0].instance_id}: {100 * boxes[0].width_m:.1f} x {100 * boxes[0].height_m:.1f} cm"
    up = POSE[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    above = np.array([label.pose.position.x, label.pose.position.y, label.pose.position.z]) - boxes[0].centre
    assert above @ up > 0.5 * boxes[0].height_m
    assert len(objects_msg(header, []).markers) == 1  # nothing in view: only the DELETEALL
