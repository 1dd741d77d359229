"""egsa-eval on the bundled sample bag: offline through the pipeline and live through egsa_node."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.data.synthetic import read_frame
from egsa_ros.eval.accumulate import EvalAccumulator
from egsa_ros.eval.bag_frames import EvalTopics, count_frames, read_bag_frames
from egsa_ros.eval.cli import main, sample_bag_dir
from egsa_ros.eval.report import coverage

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_fixture import write_synthetic_fixture  # noqa: E402

BAG = sample_bag_dir()
needs_bag = pytest.mark.skipif(BAG is None, reason="the sample bag data/egsa_sample is missing")


@needs_bag
def test_sample_bag_has_frames_with_ground_truth():
    assert count_frames(BAG) == 24
    frames = list(read_bag_frames(BAG, limit=3))
    assert len(frames) == 3 and frames[0].stamp_ns < frames[1].stamp_ns
    f = frames[0]
    assert f.rgb.shape == (240, 320, 3) and f.gt_depth.shape == (240, 320) and f.gt_mask.dtype == bool
    assert f.gt_mask.any() and np.nanmin(f.gt_depth) > 0.1 and f.K[0, 0] > 0
    assert f.sensor_depth is not None and np.isnan(f.sensor_depth).any()  # dropout exists
    with pytest.raises(ValueError, match="no topic /nope"):
        list(read_bag_frames(BAG, EvalTopics(image="/nope")))


def test_accumulator_sums_over_frames_not_means_of_means():
    acc = EvalAccumulator()
    gt = np.full((4, 4), 1.0, np.float32)
    glass = np.zeros((4, 4), bool)
    glass[0, 0] = True
    acc.add(np.full((4, 4), 1.0, np.float32), glass.astype(np.uint8), gt, glass, latency_ms=10.0)
    acc.add(np.full((4, 4), 2.0, np.float32), np.zeros((4, 4), np.uint8), gt, glass, latency_ms=30.0)
    result = acc.result()
    assert result["frames"] == 2 and result["depth_all"]["count"] == 32
    assert result["depth_all"]["delta_1.25"] == pytest.approx(0.5)
    assert result["mask"]["transparent_iou"] == pytest.approx(0.5)
    assert result["latency_ms"]["p50"] == pytest.approx(20.0)


def test_scale_error_after_the_table_scale_is_reported_next_to_the_networks(tmp_path):
    """Two frames predicted 1.6x and 0.7x; the table's scale corrects the first exactly and is
    refused on the second (scored unscaled): the scale error after it is 0 and |log 0.7|."""
    from egsa_ros.eval.report import markdown, write_report

    gt = np.linspace(0.5, 1.5, 48, dtype=np.float32).reshape(6, 8)
    no_glass = np.zeros((6, 8), bool)
    acc = EvalAccumulator()
    acc.add(gt * 1.6, no_glass.astype(np.uint8), gt, no_glass)
    acc.add_support_plane(gt.copy(), True, gt, no_glass)
    acc.add(gt * 0.7, no_glass.astype(np.uint8), gt, no_glass)
    acc.add_support_plane(gt * 0.7, False, gt, no_glass)
    result = acc.result()
    before, after = result["frame_scale"], result["frame_scale_support_plane"]
    assert before["frames"] == after["frames"] == 2 and before["failures"] == 2
    assert after["ratios"] == pytest.approx([1.0, 0.7]) and after["failures"] == 1
    assert after["abs_log_p50"] == pytest.approx(abs(np.log(0.7)) / 2)
    text = markdown(result)
    assert "refused on 1 of 2 frames" in text and "With that scale, scale error |log ratio| p50 0.178" in text
    write_report(tmp_path, result, [], {})
    assert (tmp_path / "scale.png").stat().st_size > 0


def test_whole_frame_scale_failures_are_counted_and_separated_from_shape(tmp_path):
    """A frame predicted 1.4x too far everywhere is a scale failure: it misses delta<1.25 on
    every pixel, yet after dividing by its own median ratio it is perfect."""
    from egsa_ros.eval.report import markdown, write_report

    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 1.5, (6, 8)).astype(np.float32)
    no_glass = np.zeros((6, 8), bool)
    acc = EvalAccumulator()
    acc.add(gt.copy(), no_glass.astype(np.uint8), gt, no_glass)  # right
    acc.add(1.4 * gt, no_glass.astype(np.uint8), gt, no_glass)  # too far
    acc.add(gt / 1.3, no_glass.astype(np.uint8), gt, no_glass)  # too near
    acc.add(1.15 * gt, no_glass.astype(np.uint8), gt, no_glass)  # off, but under 25 %
    result = dict(acc.result(), frames=4, frames_with_ground_truth=4)
    scale = result["frame_scale"]
    counts = (scale["frames"], scale["failures"], scale["too_far"], scale["too_near"], scale["off_by_10pct"])
    assert counts == (4, 2, 1, 1, 3)
    assert scale["ratios"] == pytest.approx([1.0, 1.4, 1 / 1.3, 1.15], rel=1e-5)
    assert result["depth_all"]["delta_1.25"] == pytest.approx(0.5)
    assert result["depth_all_scale_aligned"]["delta_1.05"] == pytest.approx(1.0)
    assert result["depth_all_scale_aligned"]["rmse"] == pytest.approx(0.0, abs=1e-6)
    assert "**2 of 4 frames** off by more than 25 % (1 too far, 1 too near)" in markdown(result)
    write_report(tmp_path, result, [], {})
    assert (tmp_path / "scale.png").stat().st_size > 0 and "scale.png" in (tmp_path / "report.md").read_text()


def test_completed_depth_is_compared_with_the_sensor_on_the_same_pixels():
    """The sensor has values on part of the glass only; its RMSE covers just that part, so
    depth_completed gets a second section over exactly those pixels (like for like)."""
    from egsa_ros.eval.report import coverage, markdown

    gt = np.full((2, 4), 1.0, np.float32)
    glass = np.ones((2, 4), bool)
    sensor = np.full((2, 4), np.nan, np.float32)
    sensor[0, :2] = 1.1  # 2 of 8 glass pixels, 0.1 m off
    completed = np.full((2, 4), 1.3, np.float32)  # 0.3 m off where the sensor is missing
    completed[0, :2] = 1.05  # 0.05 m off where it has a value
    acc = EvalAccumulator()
    acc.add(np.ones((2, 4), np.float32), glass.astype(np.uint8), gt, glass, completed=completed, sensor=sensor)
    result = acc.result()
    assert coverage(result["sensor_depth_transparent"]) == pytest.approx(0.25)
    assert result["sensor_depth_transparent"]["rmse"] == pytest.approx(0.1, abs=1e-6)
    assert result["depth_completed_transparent"]["rmse"] > 0.25  # all 8 pixels, looks worse
    same = result["depth_completed_transparent_sensor_valid"]
    assert same["count"] == 2 and same["rmse"] == pytest.approx(0.05, abs=1e-6)  # is better
    result.update(frames=1, frames_with_ground_truth=1)
    assert "where the sensor has a value | 2 | 100.0% |" in markdown(result)


@needs_bag
def test_offline_eval_writes_report_metrics_and_panels(tmp_path, capsys):
    assert (
        main(
            [
                str(BAG),
                "--offline",
                "--model",
                "tiny",
                "--backend",
                "onnxruntime",
                "--limit",
                "4",
                "--panels",
                "2",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["frames"] == 4 and report["mode"] == "offline"
    assert 0 <= report["mask"]["transparent_iou"] <= 1 and report["depth_all"]["count"] > 0
    assert "depth_completed_transparent" in report and "sensor_depth_transparent" in report
    assert (tmp_path / "panel_01.png").is_file() and (tmp_path / "latency.png").is_file()
    assert "transparent IoU" in (tmp_path / "report.md").read_text()
    assert "egsa-eval: 4 frames (offline" in capsys.readouterr().out


@needs_bag
def test_bundled_model_keeps_its_accuracy_on_the_sample_bag(tmp_path):
    """A regression floor for the bundled model on 24 frames it never saw in training
    (models/MODEL_CARD.md lists the measured values; the floor is ~0.1 below them), so that a
    worse or broken model cannot be bundled unnoticed."""
    assert (
        main(
            [
                str(BAG),
                "--offline",
                "--backend",
                "onnxruntime",
                "--panels",
                "0",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["frames"] == 24
    assert report["mask"]["transparent_iou"] >= 0.68, report["mask"]  # measured 0.802
    assert report["depth_all"]["delta_1.25"] >= 0.80, report["depth_all"]  # measured 0.898
    assert report["depth_all"]["rmse"] <= 0.23, report["depth_all"]  # measured 0.136 m


@needs_bag
@pytest.mark.ros
@pytest.mark.slow
def test_live_eval_plays_the_bag_into_the_node_and_measures_latency(tmp_path, ros_domain, monkeypatch):
    monkeypatch.setenv("EGSA_EVAL_DOMAIN", str(ros_domain))
    assert (
        main(
            [
                str(BAG),
                "--model",
                "tiny",
                "--backend",
                "onnxruntime",
                "--limit",
                "8",
                "--panels",
                "1",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "live" and report["frames_played"] == 8
    # Every played frame is either answered or counted as dropped. How many the node drops
    # depends on the host's load (it keeps the newest frame when busy, by design: 5 of 8 were
    # dropped once while a training run held both cores), so only "some answered" is asserted.
    assert report["frames"] + report["dropped_frames"] == 8 and report["frames"] >= 1
    assert 0 < report["latency_ms"]["p50"] < 2000
    assert "depth_completed_transparent" in report
    log = (tmp_path / "egsa_node.log").read_text()
    assert "ready: model tiny" in log and "Traceback" not in log


@needs_bag
@pytest.mark.ros
def test_live_eval_passes_the_test_time_options_to_the_node(tmp_path, ros_domain, monkeypatch):
    monkeypatch.setenv("EGSA_EVAL_DOMAIN", str(ros_domain))
    assert (
        main(
            [
                str(BAG),
                "--model",
                "tiny",
                "--backend",
                "onnxruntime",
                "--limit",
                "2",
                "--panels",
                "0",
                "--flip-average",
                "--mask-net-size",
                "128x192",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    log = (tmp_path / "egsa_node.log").read_text()
    assert "flip-averaged, mask at 128x192" in log and "Traceback" not in log, log[-2000:]


def test_eval_errors_are_clear(tmp_path, capsys):
    assert main([str(tmp_path / "missing_bag"), "--offline", "--model", "tiny", "--out", str(tmp_path)]) == 2
    assert "bag not found" in capsys.readouterr().err


def test_a_rendered_split_reads_like_the_bag_written_from_it(tmp_path):
    """read_split_frames gives the same arrays as read_bag_frames on the bag egsa-synth --bag
    writes from the same frame folders (one truth, two ways in)."""
    from egsa_ros.data.synth.bag import write_bag
    from egsa_ros.data.synthetic import frame_dirs
    from egsa_ros.eval.split_frames import read_split_frames

    split = write_synthetic_fixture(tmp_path / "data", {"test": 3}) / "test"
    bag = write_bag(frame_dirs(split), tmp_path / "bag")
    from_split = list(read_split_frames(split))
    from_bag = list(read_bag_frames(bag))
    assert len(from_split) == len(from_bag) == 3
    for a, b in zip(from_split, from_bag):
        assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.gt_mask, b.gt_mask) and a.gt_mask.any()
        np.testing.assert_array_equal(a.gt_depth, b.gt_depth)  # NaN in the same places
        np.testing.assert_allclose(a.sensor_depth, b.sensor_depth, rtol=0, atol=1e-6)
        assert np.isnan(a.sensor_depth[a.gt_mask]).all()  # the fixture's camera misses glass
        np.testing.assert_allclose(a.K, b.K)


def test_offline_eval_of_a_rendered_split(tmp_path, capsys):
    split = write_synthetic_fixture(tmp_path / "data", {"test": 3}) / "test"
    glass_pixels = sum(int((read_frame(d)["labels"] == 2).sum()) for d in sorted(split.iterdir()))
    out = tmp_path / "out"
    assert (
        main(
            [
                str(split),
                "--model",
                "tiny",
                "--backend",
                "onnxruntime",
                "--panels",
                "1",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )  # a split folder: offline without --offline
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "offline" and report["frames"] == report["frames_with_ground_truth"] == 3
    assert report["depth_transparent"]["count"] == glass_pixels
    assert report["sensor_depth_transparent"]["count"] == glass_pixels
    assert coverage(report["sensor_depth_transparent"]) == 0.0  # no camera value on glass
    assert report["depth_completed_transparent"]["count"] == glass_pixels
    assert report["frame_scale"]["frames"] == 3 and "depth_all_scale_aligned" in report
    assert "support_plane" not in report  # the fixture has no camera pose
    assert "egsa-eval: 3 frames (offline" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(split), "--live", "--model", "tiny", "--out", str(out)])
    assert "use --offline" in capsys.readouterr().err


def test_rendered_frames_with_a_camera_pose_get_depth_scaled_from_the_support_plane(tmp_path):
    """meta.json camera_to_world (the table is the world's z = 0 plane) reaches the frames and
    the report gets the support-plane rows over the same pixels as the unscaled ones."""
    from egsa_ros.data.synthetic import frame_dirs
    from egsa_ros.eval.split_frames import read_split_frames

    split = write_synthetic_fixture(tmp_path / "data", {"test": 2}) / "test"
    pose = np.eye(4)
    pose[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # looking along +y, level
    pose[2, 3] = 0.5
    for folder in frame_dirs(split):
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps(dict(meta, camera_to_world=pose.tolist())))
    np.testing.assert_array_equal(next(read_split_frames(split)).camera_in_support, pose)
    out = tmp_path / "out"
    assert (
        main(
            [
                str(split),
                "--model",
                "tiny",
                "--backend",
                "onnxruntime",
                "--panels",
                "0",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert report["support_plane"]["frames"] == 2 and 0 <= report["support_plane"]["refused"] <= 2
    assert report["depth_transparent_support_plane"]["count"] == report["depth_transparent"]["count"] > 0
    assert report["depth_all_support_plane"]["count"] == report["depth_all"]["count"]
    assert "known height above the table, transparent pixels" in (out / "report.md").read_text()
