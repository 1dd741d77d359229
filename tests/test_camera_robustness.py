"""The camera-robustness sweep: each row switches on exactly its own camera effect at its named
strength, the counts match a predictor whose answer is known, and a real run over tiny renders
scores the frames as rendered exactly as the pipeline alone does."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from egsa_ros.data.degradations import degrade
from egsa_ros.eval.camera_robustness import EFFECTS, main, score_effect

RECORD_KEY = {"noise": "noise", "exposure": "exposure_stops", "blur": "blur_sigma_px", "jpeg": "jpeg_quality"}
"""The key ``degrade`` records for each effect family (the row name's first word)."""


def _frames(count: int = 3, h: int = 24, w: int = 32):
    rng = np.random.default_rng(4)
    frames = []
    for _ in range(count):
        gt_mask = np.zeros((h, w), bool)
        gt_mask[6:18, 8:20] = True
        frames.append(
            SimpleNamespace(
                rgb=rng.integers(40, 216, (h, w, 3), dtype=np.uint8),
                K=np.array([[30.0, 0, w / 2], [0, 30.0, h / 2], [0, 0, 1]]),
                gt_depth=np.full((h, w), 1.5, np.float32),
                gt_mask=gt_mask,
            )
        )
    return frames


@pytest.mark.parametrize("effect", EFFECTS[1:], ids=lambda e: e.name)
def test_each_effect_switches_on_only_itself_at_its_strength(effect):
    image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    record: dict = {}
    out = degrade(image, 3, effect.config(), record)
    family = effect.name.split()[0]
    assert list(record) == [RECORD_KEY[family]] and not np.array_equal(out, image)
    value = record[RECORD_KEY[family]]
    if family == "noise":
        assert (value["shot"], value["read"]) == (effect.fields["shot"][0], effect.fields["read"][0])
    else:
        field = {"exposure": "exposure_stops", "blur": "blur_sigma_px", "jpeg": "jpeg_quality"}[family]
        assert value == effect.fields[field][0]
    assert EFFECTS[0].fields == {} and EFFECTS[0].name == "as rendered"


def test_counts_match_a_predictor_with_a_known_answer():
    """A predictor that marks the true glass plus a 2x12 strip of table, with the true depth."""
    frames = _frames()

    def fixed(rgb, fx):
        mask = frames[0].gt_mask.copy()
        mask[18:20, 8:20] = True
        return frames[0].gt_depth, mask.astype(np.uint8)

    row = score_effect(fixed, frames, EFFECTS[0])
    glass, extra, total = 12 * 12, 2 * 12, 24 * 32
    assert row["frames"] == 3
    assert row["glass_iou"] == pytest.approx(glass / (glass + extra))
    assert row["glass_recall"] == pytest.approx(1.0)
    assert row["glass_precision"] == pytest.approx(glass / (glass + extra))
    assert row["false_glass_share"] == pytest.approx(extra / (total - glass))
    assert row["delta_1.25"] == pytest.approx(1.0) and row["frame_scale_abs_log_p50"] == pytest.approx(0.0)


def test_the_effect_reaches_the_predictor_and_the_first_row_is_untouched():
    """A predictor that marks every pixel differing from the rendered image (frames come in order)."""
    frames = _frames()
    calls = []

    def changed(rgb, fx):
        rendered = frames[len(calls) % len(frames)].rgb
        calls.append(np.array_equal(rgb, rendered))
        return np.full(rgb.shape[:2], 1.5, np.float32), (rgb != rendered).any(axis=2).astype(np.uint8)

    as_rendered = score_effect(changed, frames, EFFECTS[0])
    noisy = score_effect(changed, frames, EFFECTS[2])
    assert calls == [True] * 3 + [False] * 3
    assert as_rendered["false_glass_share"] == 0.0 and np.isnan(as_rendered["glass_precision"])
    assert noisy["false_glass_share"] > 0.5  # noise changes most pixels


def test_a_folder_without_frames_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "Traceback" not in err


def test_a_real_run_scores_the_rendered_frames_as_the_pipeline_does(tmp_path, capsys):
    """Real renders (2 v2 frames, 96x128, 8 spp), the bundled model through ONNX Runtime."""
    pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements-train.txt installs it)")
    from egsa_ros.data.synth.cli import main as synth  # noqa: PLC0415 - needs mitsuba, checked above
    from egsa_ros.eval.split_frames import read_split_frames  # noqa: PLC0415
    from egsa_ros.runtime.pipeline import load_pipeline  # noqa: PLC0415

    render = ["--out", str(tmp_path / "frames"), "--split", "s", "--frames", "2", "--seed", "7100"]
    render += ["--width", "128", "--height", "96", "--spp", "8", "--variant", "scalar_rgb", "--generator", "v2"]
    assert synth([*render, "--no-progress"]) == 0
    out = tmp_path / "robustness.json"
    assert main([str(tmp_path / "frames" / "s"), "--json", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [r["effect"] for r in report["rows"]] == [e.name for e in EFFECTS]
    assert all(r["frames"] == 2 for r in report["rows"])
    # The first row, recomputed from the pipeline alone.
    pipe = load_pipeline(None, backend="onnxruntime", threads=2, frame_size=None)
    inter = union = 0
    for frame in read_split_frames(tmp_path / "frames" / "s"):
        mask = pipe(frame.rgb, fx=float(frame.K[0][0])).mask > 0
        inter += int((mask & frame.gt_mask).sum())
        union += int((mask | frame.gt_mask).sum())
    assert union > 0 and report["rows"][0]["glass_iou"] == pytest.approx(inter / union)
    assert "| as rendered | yes |" in printed and "| jpeg quality 20 | beyond |" in printed
