"""The geometry-limits analysis: the oracle labels give each pixel the object it belongs to, the
instance counts see merges, fragments and false glass, and a real run over tiny renders puts the
truth's geometry on the true objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egsa_ros.eval.geometry_limits import (
    ROWS,
    boundary_oracle_labels,
    glass_borders,
    instance_match_counts,
    main,
    true_split_labels,
)


def _two_glasses_and_false_glass():
    """A 30x40 frame: glass objects 5 (left) and 8 (right); the mask covers both, joins them by
    a bridge of table pixels, spills 2 rows below object 5, and has a blob apart on the table."""
    objects = np.zeros((30, 40), np.int64)
    objects[5:20, 5:12] = 5
    objects[5:20, 20:27] = 8
    mask = objects > 0
    mask[10:12, 12:20] = True  # bridge (false glass) between the two
    mask[20:22, 5:12] = True  # spill under object 5
    mask[25:28, 33:37] = True  # false glass apart from any glass
    return mask, objects


def test_true_split_labels_keep_or_drop_the_false_glass():
    mask, objects = _two_glasses_and_false_glass()
    kept = true_split_labels(mask, objects, keep_false_glass=True)
    assert ((kept > 0) == mask).all()
    assert (kept[20:22, 5:12] == 5).all()  # the spill goes to the object above it
    assert (kept[10:12, 12:16] == 5).all() and (kept[10:12, 16:20] == 8).all()  # the bridge, to the nearer
    blob = np.unique(kept[25:28, 33:37])
    assert len(blob) == 1 and blob[0] > 8  # a piece of its own, above every object id
    dropped = true_split_labels(mask, objects, keep_false_glass=False)
    assert ((dropped > 0) == (mask & (objects > 0))).all() and (dropped[objects > 0] == objects[objects > 0]).all()
    no_glass = true_split_labels(mask, np.zeros_like(objects), keep_false_glass=True)
    assert len(np.unique(no_glass[mask])) == 2 and (no_glass[~mask] == 0).all()  # two false pieces


def test_the_oracle_border_splits_one_glass_in_front_of_another_and_nothing_else():
    objects = np.zeros((30, 40), np.int64)
    objects[5:25, 5:20] = 3  # the glass behind ...
    objects[10:28, 15:30] = 4  # ... and the one in front, overlapping it in the image
    border = glass_borders(objects, radius_px=1)
    assert border[15, 14] and border[15, 15] and not border[15, 10] and not border[15, 25]
    assert not border[objects == 0].any()
    labels = boundary_oracle_labels(objects > 0, objects, radius_px=1)
    assert ((labels > 0) == (objects > 0)).all()
    for object_id in (3, 4):  # each object is (almost all) one piece, a different one each
        ids, counts = np.unique(labels[objects == object_id], return_counts=True)
        assert counts.max() >= 0.9 * counts.sum()
    assert labels[15, 8] != labels[20, 27]
    single = np.where(objects > 0, 1, 0)  # one object: no border, one piece
    assert len(np.unique(boundary_oracle_labels(single > 0, single, radius_px=2)[single > 0])) == 1
    thin = np.zeros((10, 10), np.int64)
    thin[2:8, 4], thin[2:8, 5] = 1, 2  # all border: the mask still keeps every pixel
    assert (boundary_oracle_labels(thin > 0, thin, radius_px=1)[thin > 0] > 0).all()


def test_instance_counts_see_merges_fragments_and_false_glass():
    mask, objects = _two_glasses_and_false_glass()
    merged = np.where(mask, 1, 0)  # one instance over everything the mask holds
    counts = instance_match_counts(merged, objects)
    assert counts["instances"] == 1 and counts["instances_on_two_or_more_objects"] == 1
    assert counts["objects_seen"] == 2 and counts["objects_in_one_instance"] == 2
    fragments = np.zeros_like(objects)
    fragments[5:12, 5:12], fragments[12:20, 5:12] = 1, 2  # object 5 cut in two
    fragments[25:28, 33:37] = 3  # false glass alone
    counts = instance_match_counts(fragments, objects)
    assert counts["instances_on_one_object"] == 2 and counts["instances_on_no_object"] == 1
    assert counts["instances_mostly_false_glass"] == 1
    assert counts["objects_seen"] == 1 and counts["objects_in_two_or_more_instances"] == 1


def test_a_folder_without_frames_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "Traceback" not in err


def test_a_real_run_puts_the_truths_geometry_on_the_true_objects(tmp_path, capsys):
    """Real renders (2 v2 frames, 192x256, 8 spp), the bundled model through ONNX Runtime: every
    row is scored on the same glass, and with the true objects the geometry finds each one."""
    pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements-train.txt installs it)")
    from egsa_ros.data.synth.cli import main as synth  # noqa: PLC0415 - needs mitsuba, checked above

    render = ["--out", str(tmp_path / "frames"), "--split", "s", "--frames", "2", "--seed", "7100"]
    render += ["--width", "256", "--height", "192", "--spp", "8", "--variant", "scalar_rgb", "--generator", "v2"]
    assert synth([*render, "--no-progress"]) == 0
    out = tmp_path / "limits.json"
    assert main([str(tmp_path / "frames" / "s"), "--json", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["frames"] == 2 and report["skipped_frames"] == 0 and list(report["rows"]) == list(ROWS)
    pixels = {row: summary["glass_depth"]["geometry_pose_plane"]["pixels"] for row, summary in report["rows"].items()}
    assert len(set(pixels.values())) == 1 and pixels["own"] > 0  # every row on the same true glass
    truth = report["rows"]["true_mask_true_split"]["objects"]
    assert truth["gt_visible"] > 0 and truth["matched"] == truth["gt_found"] > 0
    assert truth["centroid_cm"]["p50"] < 3.0  # true objects and the true plane: pixel-level error only
    assert report["own_instances"]["instances"] >= 1
    assert "| true_mask_true_split |" in printed and "own mask:" in printed
    # A config of one's own: its instance parameters apply, its plane sources give way to the pose.
    from egsa_ros.eval.geometry_limits import analyse_split  # noqa: PLC0415
    from egsa_ros.geometry import GlassConfig, InstanceConfig  # noqa: PLC0415
    from egsa_ros.runtime.pipeline import load_pipeline  # noqa: PLC0415

    no_instances = GlassConfig(plane_sources=("sensor_depth",), instances=InstanceConfig(min_area_px=10**9))
    other = analyse_split(load_pipeline(), tmp_path / "frames" / "s", config=no_instances)
    assert other["own_instances"].get("instances", 0) == 0
    assert other["rows"]["true_mask_true_split"]["objects"]["gt_found"] == truth["gt_found"]


def test_the_split_tools_take_the_mask_from_a_larger_pass_when_asked(tmp_path, capsys):
    """``--mask-net-size`` reaches the pipeline (the node's ``mask_input_size``); a bad size is
    argparse's one line; without it the model's own setting stays."""
    from egsa_ros.eval.split_tool import open_split_tool, split_tool_parser  # noqa: PLC0415

    (tmp_path / "s" / "000000").mkdir(parents=True)
    (tmp_path / "s" / "000000" / "meta.json").write_text("{}")
    parser = split_tool_parser("tool", "test")
    larger = open_split_tool("tool", parser.parse_args([str(tmp_path / "s"), "--mask-net-size", "384x512"]))
    assert larger is not None and larger.options.mask_input_size == (384, 512)
    plain = open_split_tool("tool", parser.parse_args([str(tmp_path / "s")]))
    assert plain is not None and plain.options.mask_input_size is None
    with pytest.raises(SystemExit):
        parser.parse_args([str(tmp_path / "s"), "--mask-net-size", "big"])
    assert "size must be HEIGHTxWIDTH" in capsys.readouterr().err
