"""Per-family glass recall and look-alike false glass (egsa_ros.eval.family_recall): exact counts
on hand-made instance images."""

from __future__ import annotations

import numpy as np
import pytest

from egsa_ros.eval.family_recall import FamilyRecall, family_markdown

OBJECTS = [
    {"instance_id": 1, "category": "transparent", "family": "carafe", "role": "glass"},
    {"instance_id": 2, "category": "transparent", "family": "carafe", "role": "glass"},
    {"instance_id": 3, "category": "transparent", "family": "jar", "role": "glass"},
    {"instance_id": 4, "category": "opaque", "family": "lid", "role": "lid_of:3"},
    {"instance_id": 5, "category": "opaque", "family": "mug", "role": "lookalike:ceramic_mug"},
    {"instance_id": 6, "category": "transparent", "family": "vase", "role": "glass"},  # not visible
]


def _frame():
    instances = np.zeros((4, 10), np.int64)
    instances[0, :4] = 1  # carafe 1: 4 pixels
    instances[1, :4] = 2  # carafe 2: 4 pixels
    instances[2, :5] = 3  # jar: 5 pixels
    instances[3, :2] = 4  # lid: 2 pixels
    instances[3, 2:6] = 5  # mug: 4 pixels
    mask = np.zeros((4, 10), np.uint8)
    mask[0, :3] = 1  # carafe 1: 3 of 4 marked (found)
    mask[1, :1] = 1  # carafe 2: 1 of 4 (not found)
    mask[2, :5] = 1  # jar: all
    mask[3, 2:3] = 1  # mug: 1 of 4 marked glass
    mask[0, 9] = 1  # background: ignored
    return mask, instances


def test_recall_per_family_and_false_glass_per_lookalike_are_exact():
    acc = FamilyRecall()
    mask, instances = _frame()
    acc.add(mask, instances, OBJECTS)
    acc.add(mask, instances, OBJECTS)  # sums over frames
    r = acc.result()
    assert set(r["glass"]) == {"carafe", "jar"}  # the invisible vase is skipped
    assert r["glass"]["carafe"] == {"objects": 4, "found": 2, "object_recall": 0.5, "pixel_recall": 0.5}
    assert r["glass"]["jar"]["pixel_recall"] == 1.0 and r["glass"]["jar"]["object_recall"] == 1.0
    assert r["opaque"]["ceramic_mug"] == {"objects": 2, "pixels_marked_glass": 0.25}
    assert r["opaque"]["lid"]["pixels_marked_glass"] == 0.0
    lines = family_markdown(r)
    assert any(line.startswith("| carafe | 4 | 0.50 | 0.50 |") for line in lines)
    assert any(line.startswith("| ceramic_mug | 2 | 0.250 |") for line in lines)


def test_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="differ"):
        FamilyRecall().add(np.zeros((2, 2)), np.zeros((3, 3), np.int64), OBJECTS)
