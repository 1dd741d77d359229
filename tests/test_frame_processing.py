"""egsa_node's per-frame logic without ROS: input checks, camera validation, pairing, outputs or
skip reasons, output invariants; the node's health verdict; decoder stderr capture."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import pytest

from egsa_ros.ros.node_stats import ERROR, OK, STALE, WARN, HealthLimits, NodeStats, health
from egsa_ros.ros.stderr_capture import captured_stderr
from egsa_ros.runtime.frame_processing import (
    FrameSettings,
    camera_model,
    compressed_problem,
    depth_image_problem,
    image_problem,
    nearest_by_stamp,
    process_frame,
    valid_depth,
)
from egsa_ros.runtime.prediction import Prediction

H, W = 24, 32


def _camera(h=H, w=W, f=50.0, d=(0.0,) * 5):
    return camera_model([f, 0, w / 2, 0, f, h / 2, 0, 0, 1], d, h, w)


class FixedNetwork:
    """The pipeline's interface (RGB in, Prediction out) with a chosen depth and mask, so the
    frame logic can be checked on values a network rarely produces (inf, <= 0)."""

    def __init__(self, depth, mask):
        self.depth, self.mask, self.calls = depth, mask, 0

    def __call__(self, rgb, fx=None):
        assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
        self.calls += 1
        self.fx = fx
        return Prediction(self.depth.copy(), self.mask.copy(), {"total": 1.5})


def _network_with_bad_values():
    depth = np.full((H, W), 2.0, np.float32)
    depth[0, 0], depth[0, 1], depth[0, 2], depth[0, 3] = np.inf, -1.0, 0.0, np.nan
    mask = np.zeros((H, W), np.uint8)
    mask[:4, :8] = 1  # includes the bad depth pixels
    return FixedNetwork(depth, mask)


RGB = np.zeros((H, W, 3), np.uint8)


def test_image_header_checks_name_the_problem():
    assert image_problem("rgb8", H, W, W * 3, H * W * 3) is None
    assert image_problem("yuv422", H, W, W * 2, H * W * 2) is None
    assert "smaller than 3x3" in image_problem("rgb8", 2, 2, 6, 12)
    assert "smaller than 3x3" in image_problem("rgb8", 0, 0, 0, 0)
    assert "truncated image" in image_problem("rgb8", H, W, W * 3, 10)
    assert "step 5 < width" in image_problem("rgb8", H, W, 5, H * W * 3)
    assert "unsupported image encoding '16UC1'" in image_problem("16UC1", H, W, W * 2, H * W * 2)
    assert "even width" in image_problem("yuyv", H, W - 1, (W - 1) * 2, H * W * 2)
    assert "larger than" in image_problem("rgb8", 100_000, W, W * 3, 10)
    assert depth_image_problem("16UC1", H, W, W * 2, H * W * 2) is None
    assert "unsupported depth encoding 'rgb8'" in depth_image_problem("rgb8", H, W, W * 3, H * W * 3)


def test_compressed_checks_need_whole_jpeg_or_png_framing():
    frame = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    for ext in (".jpg", ".png"):
        data = cv2.imencode(ext, frame)[1].tobytes()
        assert compressed_problem("x", len(data), data[:16], data[-16:]) is None
        half = data[: len(data) // 2]
        assert "truncated" in compressed_problem("x", len(half), half[:16], half[-16:])
    assert "empty" in compressed_problem("jpeg", 0, b"", b"")
    assert "neither JPEG nor PNG" in compressed_problem("jpeg", 5, b"hello", b"hello")


@pytest.mark.parametrize(
    "k_index, value, text",
    [
        (0, math.nan, "not finite"),
        (0, math.inf, "not finite"),
        (4, math.nan, "not finite"),
        (2, math.inf, "not finite"),
        (0, 0.0, "must be > 0"),
        (4, -5.0, "must be > 0"),
    ],
)
def test_camera_info_with_unusable_intrinsics_is_refused(k_index, value, text):
    k = [50.0, 0, W / 2, 0, 50.0, H / 2, 0, 0, 1]
    k[k_index] = value
    with pytest.raises(ValueError, match=text):
        camera_model(k, [], H, W)


def test_camera_info_sizes_and_distortion():
    with pytest.raises(ValueError, match="not a usable image size"):
        camera_model([50.0, 0, 1, 0, 50.0, 1, 0, 0, 1], [], 1, W)
    with pytest.raises(ValueError, match="need 9"):
        camera_model([1.0] * 4, [], H, W)
    with pytest.raises(ValueError, match="distortion"):
        camera_model([50.0, 0, 1, 0, 50.0, 1, 0, 0, 1], [math.nan], H, W)
    assert not _camera().distorted and _camera(d=(0.1, 0, 0, 0, 0)).distorted


def test_nearest_by_stamp_pairs_within_the_tolerance_only():
    items = [(100, "a"), (200, "b"), (330, "c")]
    assert nearest_by_stamp(items, 190, 20) == "b" and nearest_by_stamp(items, 260, 20) is None
    assert nearest_by_stamp([], 0, 1e9) is None


def test_outputs_keep_the_invariants_whatever_the_network_returns():
    net = _network_with_bad_values()
    settings = FrameSettings(want_points=True, want_camera_info=True, points_stride=1)
    result = process_frame(net, RGB, 0, settings, camera=_camera())
    depth = result.depth
    assert not np.isinf(depth).any() and not (depth[np.isfinite(depth)] <= 0).any()
    assert np.isnan(depth[0, :4]).all() and depth[1, 0] == 2.0
    assert result.points is not None and np.isfinite(result.points).all()
    assert result.points.shape == (4 * 8 - 4, 3)  # the four bad-depth pixels are not points
    assert result.camera is not None and result.skips == [] and result.inference_ms == 1.5


def test_missing_or_mismatched_camera_info_is_one_skip_per_frame():
    net = _network_with_bad_values()
    both = FrameSettings(want_points=True, want_camera_info=True)
    result = process_frame(net, RGB, 0, both)
    assert [s.key for s in result.skips] == ["no_camera_info"] and result.points is None
    assert "camera_info and transparent_points skipped" in result.skips[0].reason
    result = process_frame(net, RGB, 0, both, camera=_camera(h=H * 2, w=W * 2))
    assert [s.key for s in result.skips] == ["camera_info_size_mismatch"] and result.camera is None
    assert process_frame(net, RGB, 0, FrameSettings()).skips == []  # nothing needed the camera


def test_completion_pairs_the_sensor_depth_by_stamp_and_says_why_it_could_not():
    net = _network_with_bad_values()
    settings = FrameSettings(want_completed=True, sync_tolerance_ms=5.0)
    sensor = np.full((H, W), 1.5, np.float32)
    decode = {"good": lambda: sensor, "small": lambda: sensor[:10], "bad": None}

    def decode_depth(item):
        if decode[item] is None:
            raise ValueError("truncated depth image")
        return decode[item]()

    stamp = 10_000_000_000
    result = process_frame(
        net, RGB, stamp, settings, sensor_depths=[(stamp + 2_000_000, "good")], decode_depth=decode_depth
    )
    assert result.completed is not None and result.skips == []
    assert not np.isinf(result.completed).any()
    for items, key in (
        ([(stamp + 9_000_000, "good")], "no_paired_sensor_depth"),
        ([(stamp, "bad")], "bad_sensor_depth"),
        ([(stamp, "small")], "sensor_depth_size_mismatch"),
    ):
        result = process_frame(net, RGB, stamp, settings, sensor_depths=items, decode_depth=decode_depth)
        assert result.completed is None and [s.key for s in result.skips] == [key]


def test_table_scale_skips_without_camera_pose_or_with_a_bad_one():
    net = _network_with_bad_values()
    topic = FrameSettings(scale_from_table=True, camera_pose_source="topic", pose_tolerance_ms=10.0)
    assert [s.key for s in process_frame(net, RGB, 0, topic).skips] == ["table_scale_skipped"]
    assert [s.key for s in process_frame(net, RGB, 0, topic, camera=_camera()).skips] == ["table_scale_no_pose"]
    bad_pose = [(0, ((0.0, 0.0, 0.5), (0.0, 0.0, 0.0, 0.0)))]
    result = process_frame(net, RGB, 0, topic, camera=_camera(), poses=bad_pose)
    assert [s.key for s in result.skips] == ["bad_camera_pose"] and result.table_scale is None


def test_valid_depth_marks_everything_unusable_as_nan():
    depth = np.array([[1.0, np.inf, -np.inf], [0.0, -2.0, np.nan]], np.float32)
    out = valid_depth(depth)
    assert out[0, 0] == 1.0 and np.isnan(out.ravel()[1:]).all()


# ------------------------------------------------------------------ health (diagnostics)


def test_health_is_stale_error_warn_or_ok_from_the_window():
    limits = HealthLimits(stale_timeout_s=2.0, min_input_rate_hz=10.0, min_output_rate_hz=5.0)
    fine = {"frames_in": 100, "frames_processed": 60}
    assert health(fine, 5.0, 0.1, True, limits)[0] == OK
    assert health(fine, 5.0, None, True, limits)[0] == STALE
    level, message = health(fine, 5.0, 3.5, True, limits)
    assert level == STALE and "no image for 3.5 s" in message
    assert health({"frames_in": 50, "errors": 50}, 5.0, 0.1, True, limits)[0] == ERROR
    assert health({"frames_in": 50}, 5.0, 0.1, True, limits)[0] == ERROR  # input, listeners, no output
    assert health({"frames_in": 50, "skipped_no_subscribers": 50}, 5.0, 0.1, False, HealthLimits())[0] == OK
    level, message = health({**fine, "bad_messages": 3}, 5.0, 0.1, True, limits)
    assert level == WARN and "3 bad messages" in message
    assert health({"frames_in": 20, "frames_processed": 20}, 5.0, 0.1, True, limits)[0] == WARN  # 4 Hz in
    assert health(fine, 5.0, 0.1, True, limits, fallback="engine unusable")[0] == WARN


def test_node_stats_window_forgets_old_counts():
    stats = NodeStats()
    stats.count("bad_messages", 5)
    window, span = stats.tick(2.0, now=100.0)
    assert span == 0.0
    stats.count("bad_messages", 1)
    window, span = stats.tick(2.0, now=101.0)
    assert window["bad_messages"] == 1 and span == 1.0
    window, span = stats.tick(2.0, now=103.5)
    assert window["bad_messages"] == 0 and span == 2.5 and stats.snapshot()["bad_messages"] == 6


# ------------------------------------------------------------------ decoder output capture


def test_decoder_stderr_is_captured_not_printed(capfd):
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    broken = png[:40] + b"xx" + png[42:]  # a bad CRC inside the header chunks
    with captured_stderr() as said:
        os.write(2, b"from C\n")
        cv2.imdecode(np.frombuffer(broken, np.uint8), cv2.IMREAD_COLOR)
    assert "from C" in said[0] and capfd.readouterr().err == ""
