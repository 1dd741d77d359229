"""egsa_node as a real separate process on a real ROS 2 graph (rclpy wheels, loopback only)."""

from __future__ import annotations

import glob
import os
import time

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels (ros-kilted-rclpy) not installed")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402

from egsa_ros.data.generated import tabletop_frame  # noqa: E402
from egsa_ros.ros.conversions import depth_from_msg, point_instances_from_msg, points_from_msg  # noqa: E402
from egsa_ros.ros.node_process import start_node, stop_node  # noqa: E402

NS = "/egsa_test"
H, W = 120, 160


def _start_node(extra=()):
    params = {
        "model": "tiny",
        "backend": "onnxruntime",
        "use_sensor_depth": True,
        "diagnostics_period_s": 0.5,
        "points_stride": 1,
        "expected_frame_size": f"{H}x{W}",
    }
    return start_node(NS, params, extra)


def _image(stamp_s, frame, encoding="rgb8"):
    msg = Image(height=frame.shape[0], width=frame.shape[1], encoding=encoding, step=frame.shape[1] * 3)
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int((stamp_s % 1) * 1e9)
    msg.header.frame_id = "camera_color_optical_frame"
    msg.data = frame.tobytes()
    return msg


class Harness:
    """The test's own rclpy node: publishes camera topics, records egsa_node's outputs."""

    def __init__(self):
        rclpy.init()
        self.node = rclpy.create_node("egsa_test_harness")
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.node.create_publisher(Image, f"{NS}/image", reliable)
        self.pub_info = self.node.create_publisher(CameraInfo, f"{NS}/camera_info", reliable)
        self.pub_depth = self.node.create_publisher(Image, f"{NS}/sensor_depth", reliable)
        self.got = {"depth": [], "mask": [], "depth_completed": [], "transparent_points": [], "diag": []}
        for name in ("depth", "mask", "depth_completed"):
            self.node.create_subscription(Image, f"{NS}/{name}/image", self.got[name].append, reliable)
        self.got["depth_info"] = []
        self.node.create_subscription(CameraInfo, f"{NS}/depth/camera_info", self.got["depth_info"].append, reliable)
        self.node.create_subscription(
            PointCloud2, f"{NS}/transparent_points", self.got["transparent_points"].append, reliable
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.got["diag"].append, 10)

    def spin_until(self, condition, timeout, proc):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if proc.poll() is not None:
                break
        return condition()

    def send_frame(self, stamp_s, seed, fx=100.0, rgb=None):
        """Publish camera_info, a 16UC1 depth and an rgb8 image (``rgb``, default the generated
        frame of ``seed``), all with one stamp."""
        info = CameraInfo(height=H, width=W, k=[fx, 0, W / 2, 0, fx, H / 2, 0, 0, 1])
        info.header.stamp.sec = int(stamp_s)
        info.header.stamp.nanosec = int((stamp_s % 1) * 1e9)
        self.pub_info.publish(info)
        depth = np.full((H, W), 900, dtype="<u2")
        depth[40:80, 60:100] = 0  # the glass the depth camera misses
        dmsg = Image(height=H, width=W, encoding="16UC1", step=W * 2)
        dmsg.header = info.header
        dmsg.data = depth.tobytes()
        self.pub_depth.publish(dmsg)
        self.pub_image.publish(_image(stamp_s, tabletop_frame(seed, H, W) if rgb is None else rgb))

    def depth_and_mask(self, stamp_s, proc, seed=0, fx=100.0):
        """Send one frame; (depth (H, W) m, mask (H*W,) uint8) of the answer to it."""
        count = len(self.got["depth"])
        self.send_frame(stamp_s, seed=seed, fx=fx)
        assert self.spin_until(lambda: len(self.got["depth"]) > count, 30, proc), "no depth came back"
        assert self.spin_until(lambda: len(self.got["mask"]) > count, 10, proc), "no mask came back"
        return depth_from_msg(self.got["depth"][-1]), np.frombuffer(self.got["mask"][-1].data, np.uint8)

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown()

    def last_diag(self):
        for array in reversed(self.got["diag"]):
            for status in array.status:
                if status.name == f"{NS}/egsa_node: inference":
                    return {kv.key: kv.value for kv in status.values}
        return {}


def _stop(proc, then=None):
    out = stop_node(proc, timeout_s=30, then=then)
    assert proc.returncode != -9, f"egsa_node did not exit on SIGINT and was killed:\n{out[-3000:]}"
    return proc.returncode, out


@pytest.mark.ros
@pytest.mark.slow
def test_node_publishes_outputs_with_input_headers_survives_bad_input_and_exits_cleanly(ros_domain):
    shm_before = set(glob.glob("/dev/shm/fastdds_*"))
    proc = _start_node()
    harness = Harness()
    try:
        # wait for the node: it publishes diagnostics once it is up
        assert harness.spin_until(lambda: harness.got["diag"], 90, proc), "egsa_node never came up"
        stamps = [100.0 + 0.1 * i for i in range(3)]
        for i, stamp in enumerate(stamps):
            harness.send_frame(stamp, seed=i)
            harness.spin_until(lambda i=i: len(harness.got["depth"]) > i, 20, proc)
            time.sleep(0.05)
        assert harness.spin_until(
            lambda: all(len(harness.got[k]) >= 3 for k in ("depth", "mask", "depth_completed", "transparent_points")),
            20,
            proc,
        )
        for depth_msg, mask_msg, stamp in zip(harness.got["depth"], harness.got["mask"], stamps):
            assert depth_msg.header.frame_id == "camera_color_optical_frame"
            assert depth_msg.header.stamp.sec == int(stamp) and mask_msg.header.stamp == depth_msg.header.stamp
            assert (depth_msg.encoding, depth_msg.height, depth_msg.width) == ("32FC1", H, W)
            depth = depth_from_msg(depth_msg)
            assert np.isfinite(depth).all() and 0.0 < depth.min() and depth.max() <= 10.0
            mask = np.frombuffer(mask_msg.data, np.uint8)
            assert mask_msg.encoding == "mono8" and set(np.unique(mask)) <= {0, 255}
        completed_msg = harness.got["depth_completed"][0]
        completed = depth_from_msg(completed_msg)
        same = [m for m in harness.got["mask"] if m.header.stamp == completed_msg.header.stamp]
        glass = np.frombuffer(same[0].data, np.uint8).reshape(H, W) > 0
        sensor_valid = np.ones((H, W), bool)
        sensor_valid[40:80, 60:100] = False
        np.testing.assert_allclose(completed[~glass & sensor_valid], 0.9, atol=1e-6)  # sensor kept off glass
        assert np.isfinite(completed[glass]).all()  # glass pixels filled from the prediction
        assert np.isnan(completed[~glass & ~sensor_valid]).all()  # sensor holes off glass stay unknown
        points = points_from_msg(harness.got["transparent_points"][0])
        assert points.ndim == 2 and points.shape[1] == 3 and np.isfinite(points).all()
        assert [f.name for f in harness.got["transparent_points"][0].fields] == ["x", "y", "z", "instance"]
        # camera_info beside depth (image_transport layout), with the depth image's header
        assert harness.spin_until(lambda: len(harness.got["depth_info"]) >= 3, 10, proc)
        depth_stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in harness.got["depth"]]
        for info in harness.got["depth_info"]:
            assert (info.header.stamp.sec, info.header.stamp.nanosec) in depth_stamps
            assert info.header.frame_id == "camera_color_optical_frame" and (info.height, info.width) == (H, W)
            assert info.k[0] == 100.0

        # fuzz: malformed images must be counted, logged and survived
        frame = tabletop_frame(9, H, W)
        bad = [
            _image(200.0, frame[: H // 2]),  # truncated (height says H)
            _image(200.1, frame, encoding="16UC1"),  # unsupported colour encoding
            Image(height=0, width=0, encoding="rgb8", step=0),
        ]  # empty
        bad[0].height = H
        wrong_step = _image(200.2, frame)
        wrong_step.step = 5
        bad.append(wrong_step)
        for msg in bad:
            harness.pub_image.publish(msg)
            harness.spin_until(lambda: False, 0.3, proc)
        nan_depth = Image(height=H, width=W, encoding="32FC1", step=W * 4)
        nan_depth.data = np.full((H, W), np.nan, "<f4").tobytes()
        harness.pub_depth.publish(nan_depth)
        count = len(harness.got["depth"])
        harness.send_frame(300.0, seed=4)
        assert harness.spin_until(lambda: len(harness.got["depth"]) > count, 20, proc), "node stopped after bad input"
        assert harness.spin_until(
            lambda: (
                int(harness.last_diag().get("bad_messages", 0)) >= 4
                and int(harness.last_diag().get("frames_processed", 0)) >= 4
            ),
            10,
            proc,
        ), harness.last_diag()
        diag = harness.last_diag()
        assert diag["backend"].startswith("onnxruntime")
        assert float(diag["latency_p50_ms"]) > 0 and proc.poll() is None
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]
    assert "dropped a bad image message" in out and "truncated image" in out
    assert "Traceback" not in out, out[-3000:]
    leftover = set(glob.glob("/dev/shm/fastdds_*")) - shm_before
    assert not leftover, f"shared memory left behind: {sorted(leftover)}"


@pytest.mark.ros
def test_node_refuses_invalid_parameters_with_a_clear_message(ros_domain):
    proc = _start_node(["-p", "threads:=0"])
    out = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 2, out[-2000:]
    assert "invalid egsa_node parameters" in out and "threads: must be in [1, 256], got 0" in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1 and "Traceback" not in out, out


def _shut_down(node, proc):
    """Tear down the test's rclpy node, then stop egsa_node and require a clean exit."""
    node.destroy_node()
    rclpy.shutdown()
    code, out = _stop(proc)
    assert code == 0, out[-3000:]


def _set_parameter(node, name, value):
    """Call egsa_node's set_parameters service; return (successful, reason)."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    client = node.create_client(SetParameters, f"{NS}/egsa_node/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    if isinstance(value, bool):
        pv = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    elif isinstance(value, str):
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(value))
    future = client.call_async(SetParameters.Request(parameters=[Parameter(name=name, value=pv)]))
    rclpy.spin_until_future_complete(node, future, timeout_sec=10)
    result = future.result().results[0]
    return result.successful, result.reason


@pytest.mark.ros
@pytest.mark.slow
def test_node_idles_without_subscribers_and_takes_runtime_parameters(ros_domain):
    proc = _start_node(["-p", "use_sensor_depth:=false"])
    rclpy.init()
    node = rclpy.create_node("egsa_test_params")
    diag, depth, mask = [], [], []
    node.create_subscription(DiagnosticArray, "/diagnostics", diag.append, 10)
    pub = node.create_publisher(Image, f"{NS}/image", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def counters():
        for array in reversed(diag):
            for status in array.status:
                return {kv.key: kv.value for kv in status.values}
        return {}

    def spin(condition, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition() and proc.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
        return condition()

    try:
        assert spin(lambda: diag and pub.get_subscription_count() > 0, 90), "egsa_node never came up"
        for i in range(3):  # nobody listens to any output: no inference
            pub.publish(_image(10.0 + i, tabletop_frame(i, H, W)))
            spin(lambda: False, 0.3)
        assert spin(lambda: int(counters().get("skipped_no_subscribers", 0)) >= 1, 10), counters()
        assert "frames_processed" not in counters()

        ok, reason = _set_parameter(node, "publish_mask", False)
        assert ok, reason
        ok, reason = _set_parameter(node, "max_rate_hz", -1.0)
        assert not ok and "out of range" in reason, reason  # the descriptor's FloatingPointRange
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(Image, f"{NS}/depth/image", depth.append, reliable)
        node.create_subscription(Image, f"{NS}/mask/image", mask.append, reliable)
        spin(lambda: False, 1.0)  # discovery of the new subscriptions
        for i in range(3):
            pub.publish(_image(20.0 + i, tabletop_frame(i, H, W)))
            spin(lambda i=i: len(depth) > i, 10)
        assert len(depth) >= 2 and not mask, (len(depth), len(mask))
    finally:
        _shut_down(node, proc)


# The camera height the scale tests tell the node: higher than the model's depth of the harness
# frame implies (the camera-aware model is within ~3 % at 0.6 m), so the factor is a real correction.
TOLD_HEIGHT_M = 0.7


def _table_scale_45_deg_down(depth, mask):
    """The factor support_plane_scale finds, computed here, for the harness's camera_info and a
    camera TOLD_HEIGHT_M above the table, 45 degrees down; checked to be a real correction (not ~1)."""
    from egsa_ros.runtime.support_plane_scale import support_plane_scale, up_from_pitch_roll

    K = np.array([[100.0, 0, W / 2], [0, 100.0, H / 2], [0, 0, 1]])
    expected = support_plane_scale(depth, K, up_from_pitch_roll(45.0), TOLD_HEIGHT_M, exclude=mask.reshape(H, W) > 0)
    assert expected.ok and abs(expected.scale - 1.0) > 0.05, expected
    return expected


def _unscaled_depth_then_scale_from_table(harness, proc):
    """Wait for the node, take one frame's unscaled depth (stamp 10 s) and the factor expected for
    it, then switch scale_from_table on at run time: (depth_off, expected ScaleEstimate)."""
    assert harness.spin_until(lambda: harness.got["diag"], 90, proc), "egsa_node never came up"
    depth_off, mask = harness.depth_and_mask(10.0, proc)
    expected = _table_scale_45_deg_down(depth_off, mask)
    ok, reason = _set_parameter(harness.node, "scale_from_table", True)
    assert ok, reason
    return depth_off, expected


@pytest.mark.ros
@pytest.mark.slow
def test_node_rescales_depth_from_the_table_when_asked(ros_domain):
    """scale_from_table switched on at run time: the same frame's depth comes back multiplied by
    exactly the factor support_plane_scale finds on the unscaled depth; an impossible camera
    height is refused, counted and logged, and the depth is left as it was."""
    proc = _start_node(
        [
            "-p",
            "model:=''",
            "-p",
            "use_sensor_depth:=false",
            "-p",
            f"camera_height_m:={TOLD_HEIGHT_M}",
            "-p",
            "camera_pitch_deg:=45.0",
            "-p",
            "refine_depth_on_glass:=false",  # depth compared whole: the glass geometry must not change it
        ]
    )  # the bundled model: it sees the table
    harness = Harness()

    def depth_of(stamp_s):
        return harness.depth_and_mask(stamp_s, proc)

    try:
        depth_off, expected = _unscaled_depth_then_scale_from_table(harness, proc)
        depth_on, _ = depth_of(11.0)
        np.testing.assert_allclose(depth_on, depth_off * np.float32(expected.scale), rtol=1e-5)
        assert harness.spin_until(lambda: "table_scale" in harness.last_diag(), 5, proc), harness.last_diag()
        assert harness.last_diag()["table_scale"] == f"{expected.scale:.2f}"  # diagnostics print 2 decimals

        ok, reason = _set_parameter(harness.node, "camera_height_m", 50.0)  # factor ~75: refused
        assert ok, reason
        depth_refused, _ = depth_of(12.0)
        np.testing.assert_array_equal(depth_refused, depth_off)
        assert harness.spin_until(lambda: int(harness.last_diag().get("table_scale_refused", 0)) >= 1, 5, proc)
        ok, reason = _set_parameter(harness.node, "camera_pitch_deg", 120.0)
        assert not ok and "out of range" in reason, reason
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]
    assert "scale_from_table refused: factor" in out and "Traceback" not in out, out[-3000:]


def _sample_bag_frame(index):
    """Frame ``index`` of the sample bag (rendered glass) at the harness's size: (rgb (H, W, 3),
    fx scaled with it). The bundled model finds no glass on the generated frames (painted shapes)."""
    from egsa_ros.eval.bag_frames import read_bag_frames
    from egsa_ros.eval.cli import sample_bag_dir

    bag = sample_bag_dir()
    assert bag is not None, "the sample bag data/egsa_sample ships with the repository"
    frame = list(read_bag_frames(bag, limit=index + 1))[index]
    rgb = cv2.resize(frame.rgb, (W, H), interpolation=cv2.INTER_AREA)
    return rgb, float(frame.K[0, 0]) * W / frame.rgb.shape[1]


@pytest.mark.ros
@pytest.mark.slow
def test_node_publishes_transparent_objects_and_instance_ids_from_the_glass_geometry(ros_domain):
    """A fixed camera 0.5 m above the table, 45 degrees down, a frame of the sample bag: the
    bundled model's glass becomes
    objects on transparent_objects (DELETEALL first, then a cylinder and a label per object with
    the image's header, finite poses, positive sizes), each transparent point carries the id of
    an object (or 0), and the diagnostics count the plane's source. plane_source none at run
    time: only the DELETEALL, every object refused for want of a plane, counted; glass_geometry
    false: no markers, every instance id 0."""
    from visualization_msgs.msg import Marker, MarkerArray

    glass, fx = _sample_bag_frame(1)
    proc = _start_node(
        ["-p", "model:=''", "-p", "use_sensor_depth:=false"]
        + ["-p", "camera_height_m:=0.5", "-p", "camera_pitch_deg:=45.0"]
    )
    harness = Harness()
    objects = []
    harness.node.create_subscription(
        MarkerArray,
        f"{NS}/transparent_objects",
        objects.append,
        QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
    )
    try:
        assert harness.spin_until(lambda: harness.got["diag"], 90, proc), "egsa_node never came up"
        harness.spin_until(lambda: False, 1.0, proc)  # discovery of the markers' subscription
        harness.send_frame(21.0, seed=1, rgb=glass, fx=fx)
        assert harness.spin_until(lambda: objects and harness.got["transparent_points"], 30, proc), "no objects"
        markers = objects[-1].markers
        assert markers[0].action == Marker.DELETEALL
        cylinders = [m for m in markers if m.type == Marker.CYLINDER]
        labels = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
        assert cylinders and len(labels) == len(cylinders) and len(markers) == 1 + 2 * len(cylinders)
        for marker in markers:
            assert marker.header.stamp.sec == 21 and marker.header.frame_id == "camera_color_optical_frame"
        for marker in cylinders:
            p, q = marker.pose.position, marker.pose.orientation
            assert np.isfinite([p.x, p.y, p.z, q.x, q.y, q.z, q.w]).all() and 0.1 < p.z < 2.0
            assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1) < 1e-6
            assert marker.scale.x == marker.scale.y and 0 < marker.scale.x < 0.5 and 0 < marker.scale.z < 0.5
        cloud = harness.got["transparent_points"][-1]
        assert [f.name for f in cloud.fields] == ["x", "y", "z", "instance"] and cloud.point_step == 16
        ids = point_instances_from_msg(cloud)
        assert len(ids) == len(points_from_msg(cloud)) > 0 and ids.any()
        assert set(np.unique(ids).tolist()) - {0} <= {m.id for m in cylinders}
        assert harness.spin_until(lambda: harness.last_diag().get("glass_geometry_plane") == "camera_height", 5, proc)
        assert int(harness.last_diag()["glass_geometry.plane_source_camera_height"]) >= 1

        ok, reason = _set_parameter(harness.node, "plane_source", "none")
        assert ok, reason
        ok, reason = _set_parameter(harness.node, "plane_source", "sideways")
        assert not ok and "plane_source: must be one of" in reason, reason
        count = len(objects)
        harness.send_frame(22.0, seed=1, rgb=glass, fx=fx)
        assert harness.spin_until(lambda: len(objects) > count, 30, proc)
        assert [m.action for m in objects[-1].markers] == [Marker.DELETEALL]
        assert harness.spin_until(
            lambda: int(harness.last_diag().get("glass_geometry.objects_refused_no_plane", 0)) >= 1, 5, proc
        ), harness.last_diag()

        ok, reason = _set_parameter(harness.node, "glass_geometry", False)  # off: no markers, instance ids 0
        assert ok, reason
        count, clouds = len(objects), len(harness.got["transparent_points"])
        harness.send_frame(23.0, seed=1, rgb=glass, fx=fx)
        assert harness.spin_until(lambda: len(harness.got["transparent_points"]) > clouds, 30, proc)
        harness.spin_until(lambda: False, 0.5, proc)
        cloud = harness.got["transparent_points"][-1]
        assert cloud.header.stamp.sec == 23 and not point_instances_from_msg(cloud).any() and len(objects) == count
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.ros
def test_node_test_time_options_reach_the_pipeline(ros_domain):
    """flip_average and mask_input_size are start-up parameters: the model the node reports
    runs with them, and it still answers frames."""
    proc = _start_node(["-p", "flip_average:=true", "-p", "mask_input_size:=128x192", "-p", "use_sensor_depth:=false"])
    harness = Harness()
    try:
        assert harness.spin_until(lambda: harness.got["diag"], 90, proc), "egsa_node never came up"
        model = harness.last_diag()["model"]
        assert "flip-averaged" in model and "mask at 128x192" in model, model
        harness.send_frame(5.0, seed=1)
        assert harness.spin_until(lambda: harness.got["mask"], 30, proc), "no mask came back"
        assert (harness.got["mask"][0].height, harness.got["mask"][0].width) == (H, W)
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]


@pytest.mark.ros
@pytest.mark.slow
def test_node_rescales_a_lens_outside_the_trained_range_by_its_canonical_view(ros_domain):
    """The bundled model was trained on 40-90 deg lenses; a frame from a 2x longer lens than the
    longest (fx / width 2.75) comes back with the depth the Python API gives with the second look
    (not the plain one), and the factor shows in the diagnostics."""
    from egsa_ros.runtime.pipeline import load_pipeline

    fx = 2.75 * W
    frame = tabletop_frame(1, H, W)
    pipe = load_pipeline(None, backend="onnxruntime", threads=2, frame_size=(H, W))
    expected = pipe(frame, fx=fx).depth
    k = pipe.last_view_scale
    assert k is not None and abs(k - 1.0) > 0.05, k  # a real correction on this frame
    pipe.set_canonical_view(False)
    plain = pipe(frame, fx=fx).depth
    proc = _start_node(["-p", "model:=''", "-p", "use_sensor_depth:=false"])
    harness = Harness()
    try:
        assert harness.spin_until(lambda: harness.got["diag"], 90, proc), "egsa_node never came up"
        assert "second view outside fx/W" in harness.last_diag()["model"], harness.last_diag()
        depth, _ = harness.depth_and_mask(7.0, proc, seed=1, fx=fx)
        np.testing.assert_allclose(depth, expected, rtol=1e-4)
        assert not np.allclose(depth, plain, rtol=0.02)
        assert harness.spin_until(lambda: "canonical_view_scale" in harness.last_diag(), 5, proc), harness.last_diag()
        assert harness.last_diag()["canonical_view_scale"] == f"{k:.2f}"
        harness.depth_and_mask(8.0, proc, seed=2, fx=0.9 * W)  # a lens inside the range: no factor now
        assert harness.spin_until(lambda: harness.last_diag()["canonical_view_scale"] == "1.00", 5, proc), (
            harness.last_diag()
        )
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]


@pytest.mark.ros
def test_node_scales_depth_with_the_camera_pose_from_a_topic(ros_domain):
    """camera_pose_source topic (a camera on an arm): the pose stamped like the image sets the
    factor, exactly as support_plane_scale computes it locally for that pose; an image with no
    pose within pose_tolerance_ms, or a pose that is not a rotation, leaves the depth unscaled and
    is counted."""
    from geometry_msgs.msg import PoseStamped
    from scipy.spatial.transform import Rotation

    proc = _start_node(
        [
            "-p",
            "model:=''",
            "-p",
            "use_sensor_depth:=false",
            "-p",
            "camera_pose_source:=topic",
            "-p",
            "refine_depth_on_glass:=false",  # depth compared whole: the glass geometry must not change it
        ]
    )
    harness = Harness()
    pub_pose = harness.node.create_publisher(
        PoseStamped, f"{NS}/camera_pose", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )

    def send_pose(stamp_s, quaternion_xyzw, height_m=TOLD_HEIGHT_M):
        pose = PoseStamped()
        pose.header.stamp.sec = int(stamp_s)
        pose.header.frame_id = "table"
        pose.pose.position.z = height_m
        (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w) = (
            float(v) for v in quaternion_xyzw
        )
        pub_pose.publish(pose)
        harness.spin_until(lambda: False, 0.5, proc)  # let it arrive before the image

    def depth_of(stamp_s):
        return harness.depth_and_mask(stamp_s, proc)

    # The camera 45 degrees down (OpenCV axes: x right, y down, z forward) in a z-up table frame.
    forward = np.array([0.0, np.cos(np.pi / 4), -np.sin(np.pi / 4)])
    right = np.array([1.0, 0.0, 0.0])
    rotation = np.stack([right, np.cross(forward, right), forward], axis=1)
    quaternion = Rotation.from_matrix(rotation).as_quat()
    try:
        depth_off, expected = _unscaled_depth_then_scale_from_table(harness, proc)
        send_pose(11.0, quaternion)
        depth_on, _ = depth_of(11.0)
        np.testing.assert_allclose(depth_on, depth_off * np.float32(expected.scale), rtol=1e-5)

        depth_no_pose, _ = depth_of(12.0)  # the newest pose is 1 s older than this image
        np.testing.assert_array_equal(depth_no_pose, depth_off)
        assert harness.spin_until(lambda: int(harness.last_diag().get("table_scale_no_pose", 0)) >= 1, 5, proc)
        send_pose(13.0, [0.0, 0.0, 0.0, 0.0])  # a default-constructed orientation
        depth_bad_pose, _ = depth_of(13.0)
        np.testing.assert_array_equal(depth_bad_pose, depth_off)
        assert harness.spin_until(lambda: int(harness.last_diag().get("bad_camera_pose", 0)) >= 1, 5, proc)
    finally:
        code, out = _stop(proc, then=harness.close)
    assert code == 0, out[-3000:]
    assert "no camera_pose within pose_tolerance_ms" in out and "not a rotation" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.ros
def test_node_takes_compressed_images(ros_domain):
    import cv2
    from sensor_msgs.msg import CompressedImage

    proc = _start_node(["-p", "compressed_input:=true", "-p", "use_sensor_depth:=false"])
    rclpy.init()
    node = rclpy.create_node("egsa_test_compressed")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    depth = []
    node.create_subscription(Image, f"{NS}/depth/image", depth.append, reliable)
    pub = node.create_publisher(CompressedImage, f"{NS}/image/compressed", reliable)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(tabletop_frame(1, H, W), cv2.COLOR_RGB2BGR))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not depth and proc.poll() is None:
            if pub.get_subscription_count() > 0:
                msg = CompressedImage(format="jpeg", data=jpeg.tobytes())
                msg.header.stamp.sec = 7
                pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.2)
        assert depth, "no depth for a compressed image"
        assert depth[0].header.stamp.sec == 7 and (depth[0].height, depth[0].width) == (H, W)
    finally:
        _shut_down(node, proc)


@pytest.mark.ros
def test_soak_benchmark_smoke_run_is_bounded_and_reports(ros_domain, tmp_path):
    import json

    from egsa_ros.bench.soak import main

    out = tmp_path / "soak.json"
    assert (
        main(
            [
                "--rate",
                "20",
                "--duration",
                "3",
                "--size",
                f"{H}x{W}",
                "--model",
                "tiny",
                "--warmup-s",
                "0",
                "--domain",
                str(ros_domain),
                "--pipeline-frames",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["frames_sent"] == 60 and 0 < result["frames_out"] <= 60
    assert result["latency_ms"]["p50"] > 0 and result["rss_mb"]["end"] > 100
    assert out.with_suffix(".png").is_file()
    assert result["pipeline_alone"]["p50_ms"] > 0 and result["ratios"]["e2e_p50_vs_pipeline_p50"] > 0
    cores = result["cpu_cores_used"]  # both processes worked, and no more than the machine has
    assert 0 < cores["node"] <= os.cpu_count() + 0.5 and 0 < cores["driver"] <= os.cpu_count() + 0.5
    with pytest.raises(SystemExit):
        main(["--duration", "10000"])  # unbounded runs are refused
