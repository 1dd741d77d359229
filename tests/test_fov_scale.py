"""The canonical-view inset sweep: real renders through wide lenses (outside the trained range) and
ordinary ones, the bundled model through ONNX Runtime at two insets."""

from __future__ import annotations

import argparse
import json

import pytest

from egsa_ros.eval.fov_scale import main, parse_insets


def test_insets_are_parsed_and_out_of_range_or_mistyped_ones_refused():
    assert parse_insets("0.5,0.7, 0.9") == [0.5, 0.7, 0.9]
    for bad in ("", "1.0", "-0.1", "0.5,x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_insets(bad)


def test_a_folder_without_frames_is_one_line_naming_it(tmp_path, capsys):
    assert main([str(tmp_path / "nothing"), "--insets", "0.5", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "nothing") in err and "Traceback" not in err


def test_the_inset_moves_only_the_frames_outside_the_trained_lenses(tmp_path, capsys):
    pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements-train.txt installs it)")
    from egsa_ros.data.synth.cli import main as synth  # noqa: PLC0415 - needs mitsuba, checked above

    base = ["--out", str(tmp_path), "--frames", "2", "--seed", "7", "--width", "128", "--height", "96"]
    base += ["--spp", "8", "--variant", "scalar_rgb", "--generator", "v2", "--no-progress"]
    assert synth([*base, "--split", "wide", "--hfov-range", "100,110"]) == 0
    assert synth([*base, "--split", "usual", "--hfov-range", "55,65"]) == 0
    out = tmp_path / "report" / "sweep.json"
    args = [str(tmp_path / "wide"), str(tmp_path / "usual"), "--insets", "0,0.5", "--json", str(out)]
    assert main([*args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    at0, at5 = report["rows"]
    lo, hi = report["trained_focal_range"]
    assert at0["wide_lens_seen_as"] == pytest.approx(lo) and at0["narrow_lens_seen_as"] == pytest.approx(hi)
    # Half-way in log(fx / width) toward the canonical 0.785.
    assert at5["wide_lens_seen_as"] == pytest.approx((lo * 0.785) ** 0.5, rel=1e-3)
    assert at0["pooled"]["frames"] == at5["pooled"]["frames"] == 4
    usual0, usual5 = at0["splits"]["usual"], at5["splits"]["usual"]
    assert usual0 == usual5
    wide0, wide5 = at0["splits"]["wide"], at5["splits"]["wide"]
    assert wide0["transparent_iou"] == wide5["transparent_iou"]  # the second view changes only the depth scale
    assert wide0["scale_error_p50"] != wide5["scale_error_p50"]
    assert "| 0.50 |" in printed and "**pooled**" in printed
