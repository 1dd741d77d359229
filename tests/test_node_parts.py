"""The node's ROS-free parts: parameters, latest-frame slot, stats, depth completion, points,
encodings; and the launch/params files against what the node declares."""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from egsa_ros.data.image_encodings import ImageDecodeError, compressed_to_rgb, depth_to_metres, image_to_rgb
from egsa_ros.ros.frame_slot import LatestFrameSlot
from egsa_ros.ros.node_params import PARAMS, SPECS, check_value, convert
from egsa_ros.ros.node_stats import NodeStats
from egsa_ros.runtime.depth_completion import complete_depth, fit_scale_offset
from egsa_ros.runtime.point_cloud import masked_points

ROOT = Path(__file__).resolve().parents[1]


def test_latest_frame_slot_keeps_only_the_newest_and_counts_the_rest():
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0.1) == 4 and slot.superseded == 4
    assert slot.take(timeout=0.05) is None  # nothing new
    got = []
    worker = threading.Thread(target=lambda: got.append(slot.take(timeout=5)))
    worker.start()
    slot.put("late")
    worker.join(2)
    assert got == ["late"]
    slot.close()
    slot.put("after close")
    assert slot.take(timeout=0.1) is None and slot.closed


def test_node_stats_rate_and_percentiles():
    stats = NodeStats()
    for ms in range(1, 101):
        stats.frame_done(float(ms), 1.0)
    stats.count("bad_messages", 3)
    snap = stats.snapshot()
    assert snap["frames_processed"] == 100 and snap["bad_messages"] == 3
    assert 49 <= snap["latency_p50_ms"] <= 52 and snap["latency_p99_ms"] > 98
    assert dict(stats.key_values({"backend": "x"}))["backend"] == "x"


def test_parameter_checks_and_conversions():
    assert check_value("backend", "onnxruntime") is None
    assert "must be one of" in check_value("backend", "openvino")
    assert "must be in [1, 256]" in check_value("threads", 0)
    assert "must be a float" in check_value("max_rate_hz", "fast")
    assert convert("max_rate_hz", 5) == (5.0, None) and isinstance(convert("max_rate_hz", 5)[0], float)
    assert convert("threads", 2.0) == (2, None)
    assert "must be an integer, got str 'two'" in convert("threads", "two")[1]
    assert "must be an integer" in convert("threads", 2.5)[1]
    assert "must be a bool" in convert("publish_mask", 1)[1]
    assert "finite" in convert("max_rate_hz", float("nan"))[1]
    for spec in PARAMS:  # numbers carry both bounds (published as descriptor ranges), defaults inside
        if isinstance(spec.default, (int, float)) and not isinstance(spec.default, bool):
            assert spec.low is not None and spec.low <= spec.default <= spec.high, spec.name
    assert "unknown parameter" in check_value("nope", 1)
    assert all(spec.description for spec in PARAMS)


def test_params_yaml_and_node_declarations_agree_both_ways():
    data = yaml.safe_load((ROOT / "launch" / "egsa.params.yaml").read_text())
    assert list(data) == ["/**"], "keyed /** so it applies under the launch file's namespace"
    params = data["/**"]["ros__parameters"]
    assert set(params) == set(SPECS)
    for name, value in params.items():
        assert check_value(name, value) is None, name
        assert value == SPECS[name].default, f"{name}: YAML {value!r} != node default {SPECS[name].default!r}"


def test_launch_file_starts_an_executable_that_setup_installs():
    tree = ast.parse((ROOT / "launch" / "egsa.launch.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"]
    (node,) = calls
    kwargs = {k.arg: k.value for k in node.keywords}
    assert kwargs["package"].value == "egsa_ros" and kwargs["executable"].value == "egsa_node"
    setup = (ROOT / "setup.py").read_text()
    assert re.search(r'"egsa_node = egsa_ros\.ros\.node:main"', setup)
    launch_text = (ROOT / "launch" / "egsa.launch.py").read_text()
    assert "PythonExpression" not in launch_text and "eval(" not in launch_text
    # parameter overrides given in the launch file are real parameters
    overrides = [k.value for k in next(a for a in kwargs["parameters"].elts if isinstance(a, ast.Dict)).keys]
    assert set(overrides) <= set(SPECS) | {"use_sim_time"}
    declared = {
        e.elts[0].value
        for e in ast.walk(tree)
        if isinstance(e, ast.Tuple) and len(e.elts) == 3 and all(isinstance(x, ast.Constant) for x in e.elts)
    }  # (name, default, description)
    assert {"log_level", "use_sim_time", "autostart"} <= declared
    assert "/camera/camera" in launch_text and "align_depth.enable:=true" in launch_text  # RealSense 4.x


# ------------------------------------------------------------------ encodings


def test_yuv422_both_byte_orders_decode_like_opencv():
    # pixel pairs share chroma in 4:2:2, so give each pair one colour
    rgb = np.repeat(np.random.default_rng(0).integers(40, 216, (4, 3, 3), dtype=np.uint8), 2, axis=1)
    yuv = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV)
    y, u, v = yuv[..., 0], yuv[..., 1], yuv[..., 2]
    uyvy = np.stack([u, y], -1).copy()
    uyvy[:, 1::2, 0] = v[:, 0::2]
    uyvy[:, 0::2, 0] = u[:, 0::2]
    yuyv = uyvy[..., ::-1].copy()
    a = image_to_rgb("uyvy", 4, 6, 12, uyvy.tobytes())
    b = image_to_rgb("yuv422", 4, 6, 12, uyvy.tobytes())
    c = image_to_rgb("yuyv", 4, 6, 12, yuyv.tobytes())
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a, cv2.cvtColor(uyvy, cv2.COLOR_YUV2RGB_UYVY))
    # video-range BT.601: Y=235 white, Y=16 black; high V (Cr) is red, high U (Cb) is blue
    white_black = np.array([[128, 235, 128, 235], [128, 16, 128, 16]], np.uint8)
    wb = image_to_rgb("uyvy", 2, 2, 4, white_black.tobytes())
    assert wb[0].min() >= 250 and wb[1].max() <= 5
    red_blue = np.array([[100, 81, 240, 81], [240, 41, 110, 41]], np.uint8)  # U Y V Y
    rb = image_to_rgb("uyvy", 2, 2, 4, red_blue.tobytes()).astype(int)
    assert rb[0, 0, 0] > rb[0, 0, 2] + 100 and rb[1, 0, 2] > rb[1, 0, 0] + 100
    with pytest.raises(ImageDecodeError, match="even width"):
        image_to_rgb("yuyv", 4, 5, 10, b"\0" * 40)


def test_depth_encodings_give_metres_with_nan_for_unknown():
    mm = np.array([[0, 1000], [1500, 65535]], dtype="<u2")
    np.testing.assert_allclose(
        depth_to_metres("16UC1", 2, 2, 4, mm.tobytes()), [[np.nan, 1.0], [1.5, 65.535]], equal_nan=True
    )
    m = np.array([[np.nan, 0.5], [-1.0, np.inf]], dtype="<f4")
    out = depth_to_metres("32FC1", 2, 2, 8, m.tobytes())
    assert out[0, 1] == 0.5 and np.isnan(out[0, 0]) and np.isnan(out[1, 0]) and np.isnan(out[1, 1])
    big = np.array([[1000]], dtype=">u2")
    assert depth_to_metres("16UC1", 1, 1, 2, big.tobytes(), is_bigendian=1)[0, 0] == 1.0
    with pytest.raises(ImageDecodeError, match="unsupported depth encoding 'rgb8'"):
        depth_to_metres("rgb8", 1, 1, 3, b"\0\0\0")


def test_compressed_images_decode_and_garbage_is_refused():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = (255, 0, 0)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(compressed_to_rgb("png", png.tobytes()), rgb)
    with pytest.raises(ImageDecodeError, match="cannot decode"):
        compressed_to_rgb("jpeg", b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageDecodeError, match="empty"):
        compressed_to_rgb("jpeg", b"")


# ------------------------------------------------------------------ depth completion and points


def test_depth_completion_aligns_each_object_to_its_surroundings():
    h, w = 60, 80
    predicted = np.full((h, w), 1.0, np.float32) + np.linspace(0, 0.2, w, dtype=np.float32)[None]
    sensor = 1.1 * predicted + 0.05  # the network is off by scale and offset
    mask = np.zeros((h, w), np.uint8)
    mask[10:25, 10:25] = 1  # object A
    mask[35:50, 50:70] = 1  # object B
    sensor[mask.astype(bool)] = np.nan  # the depth camera sees nothing on glass
    sensor[0:3, :] = np.nan  # and has some other holes
    out = complete_depth(sensor, predicted, mask)
    truth = 1.1 * predicted + 0.05
    assert np.abs(out[mask.astype(bool)] - truth[mask.astype(bool)]).max() < 1e-4
    assert np.isnan(out[0:3, 30]).all()  # holes off glass stay unknown
    np.testing.assert_array_equal(out[5:8, 40], sensor[5:8, 40])  # valid sensor pixels untouched
    assert np.allclose(fit_scale_offset(np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.5, 6.5])), (2.0, 0.5))


def test_depth_completion_without_valid_surroundings_uses_the_prediction():
    predicted = np.full((20, 20), 0.8, np.float32)
    sensor = np.full((20, 20), np.nan, np.float32)
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    out = complete_depth(sensor, predicted, mask)
    assert np.allclose(out[5:10, 5:10], 0.8) and np.isnan(out[0, 0])
    with pytest.raises(ValueError, match="shapes differ"):
        complete_depth(sensor, predicted[:10], mask)


def test_masked_points_back_project_with_the_intrinsics():
    K = np.array([[100.0, 0, 40], [0, 100.0, 30], [0, 0, 1]])
    depth = np.full((60, 80), 2.0, np.float32)
    mask = np.zeros((60, 80), np.uint8)
    mask[30, 40] = mask[30, 50] = mask[40, 40] = 1
    depth[40, 40] = np.nan  # unknown depth is skipped
    pts = masked_points(depth, mask, K)
    np.testing.assert_allclose(pts, [[0.0, 0.0, 2.0], [0.2, 0.0, 2.0]], atol=1e-6)
    assert masked_points(depth, mask, K, stride=2).shape == (2, 3)
    with pytest.raises(ValueError, match="invalid intrinsics"):
        masked_points(depth, mask, np.zeros((3, 3)))


def test_conversions_agree_with_cv_bridge_where_it_exists():
    cv_bridge = pytest.importorskip("cv_bridge", reason="no ROS 2 cv_bridge wheel exists on PyPI (only the ROS 1 copy)")
    from egsa_ros.ros.conversions import rgb_from_msg

    bridge = cv_bridge.CvBridge()
    rng = np.random.default_rng(0)
    for encoding, channels in (("rgb8", 3), ("bgr8", 3), ("rgba8", 4), ("bgra8", 4), ("mono8", 1)):
        arr = rng.integers(0, 256, (5, 7, channels) if channels > 1 else (5, 7), dtype=np.uint8)
        msg = bridge.cv2_to_imgmsg(arr, encoding=encoding)
        np.testing.assert_array_equal(rgb_from_msg(msg), bridge.imgmsg_to_cv2(msg, "rgb8"))


# ------------------------------------------------------------------ serialized header fields


def test_cdr_header_fields_match_what_rclpy_serialises():
    pytest.importorskip("rclpy", reason="ROS 2 wheels not installed")
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CompressedImage, Image

    from egsa_ros.ros.cdr_header import CdrError, compressed_image_fields, image_fields

    for frame_id, encoding, (h, w) in (("", "rgb8", (3, 5)), ("camera_color_optical_frame", "bgra8", (7, 4))):
        msg = Image(height=h, width=w, encoding=encoding, step=w * 4 + 3, is_bigendian=1)
        msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = -5, 999_999_999, frame_id
        msg.data = bytes(range(256))[: h * (w * 4 + 3)]
        f = image_fields(bytes(serialize_message(msg)))
        assert (f.stamp_ns, f.frame_id, f.encoding) == (-5 * 10**9 + 999_999_999, frame_id, encoding)
        assert (f.height, f.width, f.step, f.is_bigendian, f.data_len) == (h, w, w * 4 + 3, 1, len(msg.data))
        assert f.data_head == bytes(msg.data[:16]) and f.data_tail == bytes(msg.data[-16:])
        assert bytes(f.payload(bytes(serialize_message(msg)))) == bytes(msg.data)
    jpeg = CompressedImage(format="jpeg", data=b"\xff\xd8\xff" + bytes(40) + b"\xff\xd9")
    jpeg.header.stamp.sec = 3
    f = compressed_image_fields(bytes(serialize_message(jpeg)))
    assert (f.stamp_ns, f.encoding, f.data_len, f.data_head[:3], f.data_tail[-2:]) == (
        3 * 10**9,
        "jpeg",
        45,
        b"\xff\xd8\xff",
        b"\xff\xd9",
    )
    raw = bytes(serialize_message(Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))))
    for broken, text in (
        (b"", "not a CDR"),
        (b"\x07\x07" + raw[2:], "not a CDR"),
        (raw[:20], "ends after"),
        (raw[:-10], "only"),
    ):
        with pytest.raises(CdrError, match=text):
            image_fields(broken)


def test_images_written_as_cdr_bytes_read_back_like_rclpy_messages():
    """The node publishes its images as bytes it writes itself: rclpy must read them back as the
    same Image, and they have the layout (and length) rclpy's own serialiser gives."""
    pytest.importorskip("rclpy", reason="ROS 2 wheels not installed")
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from egsa_ros.ros.cdr_header import image_cdr
    from egsa_ros.ros.conversions import depth_from_msg, depth_image_cdr, mask_image_cdr

    for frame_id, encoding, (h, w), bpp in (
        ("", "rgb8", (2, 3), 3),
        ("cam", "32FC1", (3, 5), 4),
        ("ab", "mono8", (1, 7), 1),
    ):
        data = bytes(range(256))[: h * w * bpp]
        written = image_cdr(12 * 10**9 + 34, frame_id, h, w, encoding, w * bpp, data)
        msg = deserialize_message(written, Image)
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 34, frame_id)
        assert (msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian) == (h, w, encoding, w * bpp, 0)
        assert bytes(msg.data) == data and len(written) == len(serialize_message(msg))
    depth = np.arange(1, 13, dtype=np.float32).reshape(3, 4) / 7
    depth[1, 2] = np.nan
    msg = deserialize_message(depth_image_cdr(5, "optical", depth), Image)
    np.testing.assert_array_equal(depth_from_msg(msg), depth)
    msg = deserialize_message(mask_image_cdr(5, "optical", np.eye(3, dtype=np.uint8)), Image)
    assert msg.encoding == "mono8" and np.frombuffer(msg.data, np.uint8).tolist() == [255, 0, 0, 0, 255, 0, 0, 0, 255]


def test_latest_frame_slot_never_lets_unverified_junk_push_out_a_good_frame():
    slot = LatestFrameSlot(max_fallbacks=4)
    slot.put("good", verified=False)  # compressed: known good only once decoded
    for i in range(3):  # a run of junk that passes the cheap checks arrives before the worker takes
        assert slot.put(f"junk{i}", verified=False) == 0
    taken = [slot.take(timeout=0.1) for _ in range(4)]  # newest first; each junk proves unusable
    assert taken == ["junk2", "junk1", "junk0", "good"] and slot.fallbacks_used == 3
    assert slot.processed() == 0 and slot.superseded == 0  # nothing was dropped
    slot.put("a", verified=False)
    slot.put("b", verified=False)
    assert slot.take(timeout=0.1) == "b" and slot.processed() == 1 and slot.superseded == 1  # "a" is superseded now
    slot.put("old", verified=False)
    assert slot.take(timeout=0.1) == "old"
    slot.put("newer", verified=False)  # arrived while "old" was processed: stays for the next take
    assert slot.processed() == 0 and slot.take(timeout=0.1) == "newer"


def test_latest_frame_slot_bounds_its_fallbacks_and_keeps_the_newest_verified_frame():
    slot = LatestFrameSlot(max_fallbacks=2)
    slot.put("v1")  # verified
    dropped = [slot.put(f"u{i}", verified=False) for i in range(4)]
    assert dropped == [0, 0, 1, 1] and slot.superseded == 2  # the two oldest unverified went, not v1
    assert [slot.take(timeout=0.1) for _ in range(3)] == ["u3", "u2", "v1"]
    assert slot.put("v2") == 0 and slot.take(timeout=0.1) == "v2"  # nothing pending behind it
    slot.put("u", verified=False)
    assert slot.put("v3") == 1  # a verified frame makes every older one useless at once


class _FakeClock:
    """Stands in for the slot's ``time`` module: arrival times and ages on a clock the test sets
    (the condition's own timeouts stay real)."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t


def _slot_with_input_period(monkeypatch, period_s: float, age_s: float) -> tuple[LatestFrameSlot, _FakeClock]:
    """A slot that saw six frames ``period_s`` apart, the newest ``age_s`` ago (nothing taken)."""
    clock = _FakeClock()
    monkeypatch.setattr("egsa_ros.ros.frame_slot.time", clock)
    slot = LatestFrameSlot()
    for i in range(6):
        clock.t = i * period_s
        slot.put(f"f{i}")
    clock.t += age_s
    return slot, clock


def test_fresh_frame_wait_takes_the_next_frame_when_the_pending_one_is_old(monkeypatch):
    slot, clock = _slot_with_input_period(monkeypatch, period_s=2.0, age_s=1.5)  # next due in 0.5 s
    assert slot.input_period_s() == pytest.approx(2.0)
    threading.Timer(0.01, lambda: slot.put("f6")).start()  # the next frame arrives a little later
    assert slot.take(timeout=1.0, fresher_within_s=0.6) == "f6"
    assert slot.fresher_waits == 1 and slot.superseded == 6  # f0-f4, and f5 by the frame waited for


def test_fresh_frame_wait_does_not_wait_for_a_fresh_frame_or_a_far_one(monkeypatch):
    slot, _ = _slot_with_input_period(monkeypatch, period_s=2.0, age_s=0.5)  # pending frame is young
    assert slot.take(timeout=1.0, fresher_within_s=2.0) == "f5" and slot.fresher_waits == 0
    slot, _ = _slot_with_input_period(monkeypatch, period_s=2.0, age_s=1.5)  # next due in 0.5 s > 0.4 s
    assert slot.take(timeout=1.0, fresher_within_s=0.4) == "f5" and slot.fresher_waits == 0
    slot, _ = _slot_with_input_period(monkeypatch, period_s=2.0, age_s=1.5)
    assert slot.take(timeout=1.0) == "f5"  # off by default


def test_fresh_frame_wait_gives_up_when_the_next_frame_does_not_come(monkeypatch):
    slot, _ = _slot_with_input_period(monkeypatch, period_s=0.02, age_s=0.015)  # due in 5 ms: waits <= 10 ms
    assert slot.take(timeout=1.0, fresher_within_s=0.01) == "f5" and slot.fresher_waits == 0
    fresh = LatestFrameSlot()  # too few arrivals to know the input period: never waits
    fresh.put("only")
    assert fresh.input_period_s() is None and fresh.take(timeout=0.1, fresher_within_s=1.0) == "only"
