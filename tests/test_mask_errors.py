"""egsa_ros.eval.mask_errors: the accounting checked by hand on a drawn frame, the resolution
ceiling, and the CLI on rendered-layout frames with the bundled model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.eval.mask_errors import MaskErrorTally, main, outline_band, stride_ceiling_mask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_fixture import write_synthetic_fixture  # noqa: E402


def _drawn_frame():
    """20x20: table (rendered id 1) everywhere, a 10x10 glass tumbler (instance 1), a 2x3 glass
    sphere (instance 2), an opaque box (rendered 3) at rows 16-18, columns 10-14."""
    semantic = np.ones((20, 20), np.uint8)
    instance = np.zeros((20, 20), np.uint16)
    semantic[5:15, 5:15] = 2
    instance[5:15, 5:15] = 1
    semantic[1:3, 16:19] = 2
    instance[1:3, 16:19] = 2
    semantic[16:19, 10:15] = 3
    instance[16:19, 10:15] = 3
    labels = np.where(semantic == 3, 0, semantic).astype(np.int64)
    objects = [
        {
            "instance_id": 1,
            "category": "transparent",
            "shape": "tumbler",
            "ior": 1.52,
            "roughness": 0.0,
            "tint": [1.0, 1.0, 1.0],
        },
        {
            "instance_id": 2,
            "category": "transparent",
            "shape": "sphere",
            "ior": 1.33,
            "roughness": 0.2,
            "tint": [0.8, 1.0, 1.0],
        },
        {"instance_id": 3, "category": "opaque", "shape": "box"},
    ]
    return labels, semantic, instance, objects


def test_tally_by_hand():
    labels, semantic, instance, objects = _drawn_frame()
    pred = np.zeros((20, 20), bool)
    pred[5:15, 6:16] = True  # the tumbler, one pixel to the right: 90 hit, 10 missed, 10 false on table
    pred[17, 12] = True  # one false positive on the opaque box
    pred[0, 0] = True  # one false positive on the table, far from glass
    tally = MaskErrorTally(band_px=1)
    tally.add(pred, labels, semantic, instance, objects)
    r = tally.report()
    # union: 100 tumbler + 6 sphere + 10 shifted + 2 stray = 118; intersection 90.
    assert r["glass_iou"] == pytest.approx(90 / 118)
    assert r["false_positive_px"] == {"background": 0, "table": 11, "opaque": 1, "within_2px_of_glass": 10}
    assert r["false_negative_px"] == 10 + 6
    # by distance to glass: the shifted column touches the tumbler (1 px), the box pixel (17, 12)
    # is 3 px below it, the corner (0, 0) is hypot(5, 5) = 7.07 px from it
    assert r["false_positive_by_distance_px"] == {
        "<= 2 px": 10,
        "2-4 px": 1,
        "4-8 px": 1,
        "8-16 px": 0,
        "16-32 px": 0,
        "> 32 px": 0,
    }
    assert r["frames"] == 1 and r["glass_objects"] == 2
    assert r["objects"]["shape"]["tumbler"] == {"objects": 1, "pixel_recall": pytest.approx(0.9), "missed": 0}
    assert r["objects"]["shape"]["sphere"] == {"objects": 1, "pixel_recall": 0.0, "missed": 1}
    assert r["objects"]["surface"]["frosted"]["objects"] == 1 and r["objects"]["tint"]["tinted"]["missed"] == 1
    assert set(r["objects"]["IOR"]) == {"1.3-1.4", "1.5-1.6"}
    assert list(r["objects"]["visible size"]) == ["< 100 px", "100-399 px"]  # 6 px sphere, 100 px tumbler
    # Outside the outline band the shift no longer counts against it (the whole 2x3 sphere is band).
    band = outline_band(labels == 2, 1)
    inter = (pred & (labels == 2) & ~band).sum()
    union = ((pred | (labels == 2)) & ~band).sum()
    assert r["glass_iou_outside_band"] == pytest.approx(inter / union) and r["glass_iou_outside_band"] > r["glass_iou"]


def test_outline_band_and_resolution_ceiling():
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    band = outline_band(mask, 1)
    assert band[3, 3] and band[4, 4] and band[3, 8] and band[11, 8] and band[12, 8]  # last inside, first outside
    assert not band[5, 5] and not band[2, 2] and band.sum() == 10 * 10 - 6 * 6
    labels = mask.astype(np.int64) * 2
    # Aligned with the 4x4 grid: exact but for the corners, where bilinear weights give 0.625^2 < 0.5.
    wrong = np.argwhere(stride_ceiling_mask(labels, 4, 2, 3) != mask).tolist()
    assert wrong == [[4, 4], [4, 11], [11, 4], [11, 11]]
    line = np.zeros((16, 16), np.int64)
    line[:, 5] = 2  # 1 px wide: lost at stride 4
    assert not stride_ceiling_mask(line, 4, 2, 3).any()


def test_false_glass_in_a_frame_without_glass_is_counted_in_the_far_bin():
    semantic = np.ones((8, 8), np.uint8)
    labels = semantic.astype(np.int64)
    pred = np.zeros((8, 8), bool)
    pred[2:4, 2:4] = True
    tally = MaskErrorTally()
    tally.add(pred, labels, semantic, np.zeros((8, 8), np.uint16), [])
    assert tally.report()["false_positive_by_distance_px"]["> 32 px"] == 4


def test_tally_refuses_mismatched_sizes():
    labels, semantic, instance, objects = _drawn_frame()
    with pytest.raises(ValueError, match="differ in size"):
        MaskErrorTally().add(np.zeros((10, 20), bool), labels, semantic, instance, objects)


def test_cli_on_a_rendered_split_with_the_bundled_model(tmp_path, capsys):
    split = write_synthetic_fixture(tmp_path / "data", {"test": 2}) / "test"
    for frame in sorted(split.iterdir()):  # the fixture's boxes, described as egsa-synth does
        meta = json.loads((frame / "meta.json").read_text())
        meta["objects"] = [
            {
                "instance_id": 1,
                "category": "transparent",
                "shape": "box",
                "ior": 1.5,
                "roughness": 0.0,
                "tint": [1, 1, 1],
            },
            {"instance_id": 2, "category": "opaque", "shape": "box"},
        ]
        (frame / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "reports" / "today" / "errors.json"  # folders that do not exist yet are made
    assert main([str(split), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["frames"] == 2 and report["glass_objects"] == 2
    assert 0.0 <= report["glass_iou"] <= 1.0 and report["resolution_ceiling_iou"]["4"] > 0.9
    assert "| shape | box | 2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nothing")])
