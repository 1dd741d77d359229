"""egsa-eval's glass geometry rows: depth on glass per source with its coverage, and per-object
3-D errors against the objects of a rendered frame's meta.json."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.eval.bag_frames import BagFrame
from egsa_ros.eval.cli import main
from egsa_ros.eval.glass_geometry_eval import (
    DEPTH_COMPLETED,
    DEPTH_SOURCES,
    FUSED_SUFFIX,
    GEOMETRY_POSE_PLANE,
    GEOMETRY_SENSOR_PLANE,
    LOWEST_ROW_CLASSES,
    NETWORK,
    SENSOR,
    GlassGeometryAccumulator,
    add_geometry_frame,
    lowest_row_class,
    match_instances,
    object_errors,
    true_objects_in_camera,
)
from egsa_ros.eval.split_frames import SplitFrame, read_split_frames
from egsa_ros.geometry import ObjectGeometry

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Cylinder, Scene, camera_pose, render, sensor_depth  # noqa: E402

SMALL = (192, 256)
SMALL_K = np.array([[240.0, 0.0, 127.5], [0.0, 240.0, 95.5], [0.0, 0.0, 1.0]])
CYLINDERS = (Cylinder(-0.08, 0.55, 0.03, 0.12), Cylinder(0.09, 0.62, 0.04, 0.09))


def _meta_objects(cylinders, opaque_ids=()) -> list[dict]:
    """meta.json ``objects`` for the scene's cylinders (instance id = index + 1)."""
    return [
        {
            "instance_id": i,
            "category": "opaque" if i in opaque_ids else "transparent",
            "position_m": [c.x, c.y, 0.0],
            "height_m": c.height,
            "footprint_radius_m": c.radius,
        }
        for i, c in enumerate(cylinders, start=1)
    ]


def _frame(pose, cylinders=CYLINDERS) -> tuple[SplitFrame, np.ndarray]:
    """A rendered frame of cylinders on the table, and its true depth as float32."""
    r = render(Scene(cylinders, wall_y=1.6, shape=SMALL, K=SMALL_K), pose)
    depth = r.depth.astype(np.float32)
    frame = SplitFrame(
        stamp_ns=0,
        rgb=np.zeros((*SMALL, 3), np.uint8),
        gt_depth=depth,
        gt_mask=r.ids > 0,
        sensor_depth=sensor_depth(r),
        K=SMALL_K,
        camera_in_support=pose,
        gt_instances=r.ids.astype(np.int64),
        gt_objects=_meta_objects(cylinders),
    )
    return frame, depth


def test_a_source_equal_to_the_truth_on_glass_scores_perfectly_and_nans_lower_only_coverage():
    gt = np.full((4, 6), 1.5, np.float32)
    glass = np.zeros((4, 6), bool)
    glass[1:3, 1:5] = True  # 8 glass pixels
    holed = gt.copy()
    holed[1, 1:5] = np.nan  # half the glass has no value
    acc = GlassGeometryAccumulator()
    acc.add_depths({NETWORK: gt * 1.2, SENSOR: holed, GEOMETRY_SENSOR_PLANE: gt.copy()}, gt, glass)
    rows = acc.result()["glass_depth_by_source"]
    assert set(rows) == {NETWORK, SENSOR, GEOMETRY_SENSOR_PLANE}  # sources never given are left out
    exact, sensor, network = rows[GEOMETRY_SENSOR_PLANE], rows[SENSOR], rows[NETWORK]
    assert exact["pixels"] == exact["count"] == 8 and exact["coverage"] == 1.0
    assert exact["rmse"] == 0.0 and exact["delta_1.05"] == exact["delta_1.25"] == 1.0
    assert sensor["pixels"] == 8 and sensor["count"] == 4 and sensor["coverage"] == 0.5
    assert sensor["rmse"] == 0.0 and sensor["delta_1.05"] == 1.0  # accuracy over the covered pixels
    assert network["coverage"] == 1.0 and network["delta_1.10"] == 0.0 and network["delta_1.25"] == 1.0
    assert network["rel"] == pytest.approx(0.2) and network["rmse"] == pytest.approx(0.3)


def test_sums_pool_pixels_over_frames():
    acc = GlassGeometryAccumulator()
    glass = np.ones((2, 2), bool)
    acc.add_depths({SENSOR: np.full((2, 2), 2.0, np.float32)}, np.full((2, 2), 2.0, np.float32), glass)
    acc.add_depths({SENSOR: np.full((2, 2), np.nan, np.float32)}, np.full((2, 2), 2.0, np.float32), glass)
    row = acc.result()["glass_depth_by_source"][SENSOR]
    assert row["pixels"] == 8 and row["coverage"] == 0.5 and row["delta_1.05"] == 1.0
    with pytest.raises(ValueError, match="unknown depth source 'lidar'"):
        acc.add_depths({"lidar": glass.astype(np.float32)}, glass.astype(np.float32), glass)


def test_matching_picks_the_transparent_instance_overlapped_most():
    truth = np.zeros((6, 8), np.int64)
    truth[:, 0:3], truth[:, 3:5], truth[:, 5:8] = 1, 2, 3  # 3 is opaque
    predicted = np.zeros((6, 8), np.int32)
    predicted[0:2, 1:5] = 1  # 4 px over 1, 4 px over 2, and one more over 2:
    predicted[2, 4] = 1
    predicted[3:5, 5:8] = 2  # only over the opaque object
    predicted[5, 0:2] = 3  # only over 1
    assert match_instances(predicted, truth, {1, 2}) == {1: 2, 2: None, 3: 1}
    assert match_instances(predicted, truth, set()) == {1: None, 2: None, 3: None}


def test_true_objects_go_into_the_camera_frame_and_an_exact_measurement_has_zero_error():
    pose = camera_pose(0.5, 40, 5, x=0.1, y=-0.2, yaw_deg=20)
    objects = _meta_objects(CYLINDERS, opaque_ids={2}) + [
        dict(_meta_objects(CYLINDERS[:1])[0], instance_id=7, base_z_m=0.1)
    ]
    truth = true_objects_in_camera(objects, pose)
    assert set(truth) == {1, 7}  # the opaque one is not a glass object
    first, raised = truth[1], truth[7]
    to_camera = pose[:3, :3].T
    np.testing.assert_allclose(pose[:3, :3] @ first.base_centre + pose[:3, 3], [-0.08, 0.55, 0.0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, :3] @ raised.centroid + pose[:3, 3], [-0.08, 0.55, 0.16], atol=1e-12)
    # The base point is on the footprint circle, on the camera's side.
    base_world = pose[:3, :3] @ first.base_point + pose[:3, 3]
    assert math.hypot(base_world[0] + 0.08, base_world[1] - 0.55) == pytest.approx(0.03)
    assert np.linalg.norm(first.base_point) < np.linalg.norm(first.base_centre)
    up = to_camera @ np.array([0.0, 0.0, 1.0])
    exact = ObjectGeometry(
        1, True, centroid=first.centroid, base_point=first.base_point, footprint_centre=first.base_centre, height_m=0.12
    )
    errors = object_errors(exact, up, first)  # zero up to rounding (1e-14 cm seen with other BLAS builds)
    assert errors == pytest.approx({key: 0.0 for key in errors}, abs=1e-9)
    off = ObjectGeometry(
        1,
        True,
        centroid=first.centroid + 0.01 * up,
        base_point=first.base_point,
        footprint_centre=first.base_centre,
        height_m=0.15,
    )
    errors = object_errors(off, up, first)
    assert errors["height_cm"] == pytest.approx(3.0) and errors["centroid_cm"] == pytest.approx(1.5)
    assert errors["mass_centroid_cm"] == pytest.approx(1.0) and errors["footprint_centre_cm"] == 0.0


def test_true_mask_and_depth_give_centimetre_objects_and_the_geometry_covers_the_glass():
    """The geometry on an analytic scene (true mask and depth): each cylinder is matched and
    its centroid lands within a centimetre with either plane."""
    frame, depth = _frame(camera_pose(0.45, 38, 4))
    acc = GlassGeometryAccumulator()
    add_geometry_frame(acc, frame, frame.gt_mask.astype(np.uint8), depth, completed=None)
    result = acc.result()
    rows = result["glass_depth_by_source"]
    assert set(rows) == set(DEPTH_SOURCES) - {DEPTH_COMPLETED}
    assert rows[NETWORK]["rmse"] == 0.0 and rows[SENSOR]["coverage"] < 0.6
    for variant in (GEOMETRY_SENSOR_PLANE, GEOMETRY_POSE_PLANE):
        assert rows[variant]["coverage"] > 0.95 and rows[variant]["delta_1.05"] > 0.95
        objects = result["objects_3d"][variant]
        assert objects["gt_visible"] == objects["gt_found"] == objects["matched"] == 2
        assert objects["unmatched"] == objects["refused"] == 0
        assert objects["centroid_cm"]["count"] == 2 and objects["centroid_cm"]["p90"] < 1.0
        assert objects["height_cm"]["p90"] < 1.0 and objects["footprint_centre_cm"]["p90"] < 1.0
    assert "glass_geometry_notes" not in result


def test_lowest_row_classes_use_2_px_or_5_percent_of_the_true_height():
    right, below, above = LOWEST_ROW_CLASSES
    truth = np.zeros((200, 50), bool)
    truth[100:140, 10:20] = True  # 40 rows tall: tolerance 2 px
    shifted = np.zeros_like(truth)
    for offset, kind in ((0, right), (2, right), (-2, right), (3, below), (-3, above)):
        shifted[:] = False
        shifted[100 + offset : 140 + offset, 10:20] = True
        assert lowest_row_class(shifted, truth) == kind, offset
    tall = np.zeros_like(truth)
    tall[20:140, 10:20] = True  # 120 rows tall: tolerance 6 px
    shifted[:] = False
    shifted[20:145, 10:20] = True
    assert lowest_row_class(shifted, tall) == right
    shifted[145:147, 10:20] = True
    assert lowest_row_class(shifted, tall) == below


def test_a_mask_running_onto_the_table_or_missing_the_base_is_counted_with_its_error():
    """True masks put both cylinders' lowest rows right; the same frame with one cylinder's mask
    run 8 rows onto the table in front, then with its lowest 8 rows cut, moves that object to
    "below" / "above", each with a larger centroid error than with the true mask."""
    right, below, above = LOWEST_ROW_CLASSES
    frame, depth = _frame(camera_pose(0.45, 38, 0))
    first = frame.gt_instances == 1
    rows, cols = np.nonzero(first)
    bottom, left, width = rows.max(), cols.min(), np.ptp(cols) + 1
    onto_table = frame.gt_mask.copy()
    onto_table[bottom + 1 : bottom + 9, left : left + width] = True
    cut = frame.gt_mask.copy()
    cut[bottom - 7 : bottom + 1] &= ~first[bottom - 7 : bottom + 1]
    centroid = {}
    for name, mask, kind in (("true", frame.gt_mask, right), ("onto", onto_table, below), ("cut", cut, above)):
        acc = GlassGeometryAccumulator()
        add_geometry_frame(acc, frame, mask, depth, completed=None)
        split = acc.result()["objects_3d"][GEOMETRY_POSE_PLANE]["by_lowest_row"]
        assert sum(part["matched"] for part in split.values()) == 2, name
        assert split[kind]["matched"] >= 1, name
        centroid[name] = split[kind]["centroid_cm"]["p90"]
    assert centroid["true"] < 1.0 and centroid["onto"] > 2.0 and centroid["cut"] > 2.0


def test_a_bag_frame_gets_only_the_sensor_plane_and_says_why():
    split_frame, depth = _frame(camera_pose(0.45, 38, 4))
    frame = BagFrame(
        stamp_ns=0,
        rgb=split_frame.rgb,
        gt_depth=depth,
        gt_mask=split_frame.gt_mask,
        sensor_depth=split_frame.sensor_depth,
        K=SMALL_K,
    )
    acc = GlassGeometryAccumulator()
    add_geometry_frame(acc, frame, frame.gt_mask, depth, completed=depth)
    result = acc.result()
    assert GEOMETRY_POSE_PLANE not in result["glass_depth_by_source"]
    assert GEOMETRY_SENSOR_PLANE in result["glass_depth_by_source"] and "objects_3d" not in result
    assert any("no camera pose" in note for note in result["glass_geometry_notes"])


def test_refused_and_unmatched_objects_are_counted():
    """A cylinder cut by the bottom border is refused (base unseen); a mask blob on the table
    matches nothing."""
    pose = camera_pose(0.45, 38, 0)
    frame, depth = _frame(pose, (Cylinder(0.0, 0.27, 0.03, 0.12), Cylinder(0.09, 0.62, 0.04, 0.09)))
    mask = frame.gt_mask.copy()
    mask[20:40, 5:30] = True  # a false detection on the wall
    acc = GlassGeometryAccumulator()
    add_geometry_frame(acc, frame, mask, depth, completed=None)
    objects = acc.result()["objects_3d"][GEOMETRY_POSE_PLANE]
    assert objects["refusals"].get("base_unseen") == 1 and objects["refused"] >= 1
    assert objects["matched"] == 1 and objects["gt_visible"] == 2 and objects["gt_found"] == 1
    assert objects["unmatched"] + objects["refused"] == 2


def test_offline_eval_of_tiny_renders_reports_glass_depth_by_source_and_per_object_errors(tmp_path):
    """Two real egsa-synth renders (128x96, 8 spp) through egsa-eval --offline with the bundled
    model: every depth source has a glass row, both planes have per-object rows, all finite."""
    pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements.txt installs it)")
    from egsa_ros.data.synth.cli import main as synth  # noqa: PLC0415 - needs mitsuba, checked above

    assert (
        synth(
            [
                "--out",
                str(tmp_path),
                "--split",
                "test",
                "--frames",
                "2",
                "--seed",
                "7",
                "--width",
                "128",
                "--height",
                "96",
                "--spp",
                "8",
                "--variant",
                "scalar_rgb",
                "--generator",
                "v2",
                "--no-progress",
            ]
        )
        == 0
    )
    split = tmp_path / "test"
    frames = list(read_split_frames(split))
    assert all(isinstance(f, SplitFrame) and f.camera_in_support is not None for f in frames)
    glass_ids = [{o["instance_id"] for o in f.gt_objects if o["category"] == "transparent"} for f in frames]
    visible = sum(len(ids & set(np.unique(f.gt_instances).tolist())) for ids, f in zip(glass_ids, frames))
    out = tmp_path / "out"
    assert (
        main([str(split), "--offline", "--backend", "onnxruntime", "--panels", "0", "--out", str(out), "--no-progress"])
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    rows = report["glass_depth_by_source"]
    assert set(rows) == set(DEPTH_SOURCES)
    assert rows[NETWORK]["pixels"] == report["depth_transparent"]["count"] > 0 and rows[NETWORK]["coverage"] == 1.0
    for name, row in rows.items():
        assert row["pixels"] == rows[NETWORK]["pixels"] and 0.0 <= row["coverage"] <= 1.0, name
        if row["count"]:
            assert all(math.isfinite(row[key]) for key in ("rmse", "rel", "delta_1.05", "delta_1.25")), name
    assert max(rows[GEOMETRY_SENSOR_PLANE]["coverage"], rows[GEOMETRY_POSE_PLANE]["coverage"]) > 0
    for variant in (GEOMETRY_SENSOR_PLANE, GEOMETRY_POSE_PLANE):
        assert rows[variant + FUSED_SUFFIX]["coverage"] == 1.0  # the network fills what the geometry lacks
    for variant in (GEOMETRY_SENSOR_PLANE, GEOMETRY_POSE_PLANE):
        objects = report["objects_3d"][variant]
        assert objects["gt_visible"] == visible > 0 and objects["plane"]["frames"] == 2
        assert objects["gt_found"] <= objects["matched"] and objects["centroid_cm"]["count"] == objects["matched"]
        assert objects["refused"] == sum(objects["refusals"].values())
        for key in ("centroid_cm", "height_cm"):
            assert objects[key]["count"] == 0 or math.isfinite(objects[key]["p50"] + objects[key]["p90"])
        assert sum(part["matched"] for part in objects["by_lowest_row"].values()) == objects["matched"]
    text = (out / "report.md").read_text()
    assert "## Glass depth by source" in text and "## Per-object 3D" in text
    assert "base missed" in text
    assert (out / "glass_geometry.png").stat().st_size > 0
    families = report["families"]["glass"]  # per-family recall: every visible glass object counted once
    assert sum(f["objects"] for f in families.values()) == visible
    assert all(0.0 <= f["pixel_recall"] <= 1.0 and 0.0 <= f["object_recall"] <= 1.0 for f in families.values())
    assert "### Mask per object family" in text
    scale = report["frame_scale"]
    assert scale["abs_log_p50"] == pytest.approx(float(np.median(np.abs(np.log(scale["ratios"])))))
