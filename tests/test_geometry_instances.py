"""Transparent instances: connected components, speck removal, splits at depth jumps and edges."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.geometry import InstanceConfig, transparent_instances

sys.path.insert(0, str(Path(__file__).parent))
from test_geometry_scenes import Box, Cylinder, Scene, camera_pose, render  # noqa: E402

POSE = camera_pose(0.45, 35)


def _purity(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of instance pixels whose instance's majority true object is their own."""
    agree = 0
    for ident in range(1, labels.max() + 1):
        objects = truth[labels == ident]
        agree += np.bincount(objects).max()
    return agree / max(1, int((labels > 0).sum()))


def test_components_and_speck_removal():
    r = render(Scene([Cylinder(-0.1, 0.6, 0.03, 0.1), Cylinder(0.1, 0.6, 0.03, 0.1)]), POSE)
    mask = (r.ids > 0).astype(np.uint8)
    mask[10:15, 10:15] = 1  # 25-pixel speck
    found = transparent_instances(mask, r.depth)
    assert len(found.stats) == 2 and found.dropped_small == 1 and found.splits == 0
    assert found.labels.dtype == np.int32 and found.labels.shape == mask.shape
    assert found.labels[10:15, 10:15].max() == 0
    np.testing.assert_array_equal(found.labels > 0, r.ids > 0)
    assert [s.area_px for s in found.stats] == [int((found.labels == i).sum()) for i in (1, 2)]
    assert _purity(found.labels, r.ids) == 1.0
    assert all(not s.split and s.touches == frozenset() for s in found.stats)
    # A smaller minimum keeps the speck.
    assert len(transparent_instances(mask, config=InstanceConfig(min_area_px=10)).stats) == 3


def test_touching_objects_are_split_where_the_depth_jumps():
    # The second glass stands behind the first and overlaps it in the image: one component.
    r = render(Scene([Cylinder(0.0, 0.6, 0.04, 0.12), Cylinder(0.05, 0.72, 0.04, 0.16)]), POSE)
    mask = r.ids > 0
    whole = transparent_instances(mask)
    assert len(whole.stats) == 1
    split = transparent_instances(mask, r.depth)
    assert len(split.stats) == 2 and split.splits == 1 and all(s.split for s in split.stats)
    np.testing.assert_array_equal(split.labels > 0, mask)  # the seam is given back
    assert _purity(split.labels, r.ids) > 0.99


def test_smooth_depth_inside_one_object_does_not_split_it():
    r = render(Scene([Cylinder(0.0, 0.5, 0.05, 0.2)]), camera_pose(0.5, 60))
    found = transparent_instances(r.ids > 0, r.depth)
    assert len(found.stats) == 1 and found.splits == 0


def test_touching_objects_at_one_depth_are_split_by_image_edges():
    r = render(Scene([Box(-0.03, 0.6, 0.03, 0.03, 0.1), Box(0.03, 0.6, 0.03, 0.03, 0.1)]), POSE)
    mask = r.ids > 0
    assert len(transparent_instances(mask, r.depth).stats) == 1  # no depth jump at the seam
    grey = np.choose(r.ids, [200, 70, 150]).astype(np.uint8)
    split = transparent_instances(mask, r.depth, grey)
    assert len(split.stats) == 2
    assert _purity(split.labels, r.ids) > 0.99
    # A featureless grey image changes nothing.
    assert len(transparent_instances(mask, r.depth, np.full_like(grey, 120)).stats) == 1


def test_a_glass_cut_by_its_own_edges_stays_one_object():
    """A liquid line (or a label, a rim) draws a strong edge across one glass: the piece above it
    rests on the piece below, not on the table, so it is merged back; objects side by side keep
    their own bases and stay apart (previous test)."""
    r = render(Scene([Cylinder(0.0, 0.6, 0.04, 0.16)]), POSE)
    mask = r.ids > 0
    rows = np.flatnonzero(mask.any(axis=1))
    grey = np.where(mask, 180, 90).astype(np.uint8)
    grey[(rows[0] + rows[-1]) // 2 :, :][mask[(rows[0] + rows[-1]) // 2 :, :]] = 40  # tinted liquid below the line
    found = transparent_instances(mask, r.depth, grey)
    assert len(found.stats) == 1 and found.splits == 0
    np.testing.assert_array_equal(found.labels > 0, mask)
    no_merging = InstanceConfig(merge_resting_share=None, merge_supporting_share=None, merge_neck_share=None)
    assert len(transparent_instances(mask, r.depth, grey, no_merging).stats) == 2  # the line cuts it in two


def _stemmed_glass(foot: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mask, grey) of a drawn stemmed glass: a cone bowl (rows 40-100, 61 px wide at its rim,
    13 at its bottom), a 9-px stem (rows 101-150) and optionally a 41-px foot (rows 151-158); the
    bowl is bright and the stem dark, so Canny draws an edge across the stem's top."""
    mask = np.zeros((200, 240), bool)
    for row in range(40, 101):
        half = round(30 - 24 * (row - 40) / 60)
        mask[row, 120 - half : 121 + half] = True
    mask[101:151, 116:125] = True
    if foot:
        mask[151:159, 100:141] = True
    grey = np.full(mask.shape, 120, np.uint8)
    grey[40:101][mask[40:101]] = 220
    grey[101:][mask[101:]] = 30
    return mask, grey


@pytest.mark.parametrize("foot", [False, True])
def test_a_stemmed_glass_cut_at_its_stem_stays_one_object(foot):
    """The edge between a bowl and its stem cuts a stemmed glass in two; the bowl does not rest
    on the stem (its lowest pixels are its sloping sides), so the stem piece is merged into it:
    by the supporting rule when the stem's whole top lies under the bowl, by the neck rule when a
    foot below it has a top of its own."""
    mask, grey = _stemmed_glass(foot)
    found = transparent_instances(mask, None, grey)
    assert len(found.stats) == 1 and found.splits == 0
    np.testing.assert_array_equal(found.labels > 0, mask)
    no_merging = InstanceConfig(merge_supporting_share=None, merge_neck_share=None)
    assert len(transparent_instances(mask, None, grey, no_merging).stats) == 2
    supporting_only = InstanceConfig(merge_neck_share=None)
    assert len(transparent_instances(mask, None, grey, supporting_only).stats) == (2 if foot else 1)


def test_a_glass_overlapping_another_along_its_rim_stays_apart():
    """A glass in front of a wider one behind it meets it along part of its rim: more than a
    quarter of the rear glass's width, less than all of the front glass's top, so no merging
    rule joins them."""
    mask = np.zeros((240, 280), bool)
    mask[50:121, 100:161] = True  # the glass behind: 61 px wide
    mask[121:201, 140:201] = True  # the glass in front: its top meets the other over 21 px
    depth = np.where(np.arange(240)[:, None] <= 120, 0.9, 0.6).astype(np.float32) * np.ones((1, 280), np.float32)
    found = transparent_instances(mask, depth)
    assert len(found.stats) == 2
    assert {s.bbox for s in found.stats} == {(100, 50, 61, 71), (140, 121, 61, 80)}
    # A third of the front glass's top lies under the rear one: a looser rule would join them.
    looser = InstanceConfig(merge_supporting_share=0.3)
    assert len(transparent_instances(mask, depth, config=looser).stats) == 1


def test_border_contacts_are_reported():
    mask = np.zeros((480, 640), np.uint8)
    mask[0:100, 200:260] = 1
    mask[300:480, 0:50] = 1
    found = transparent_instances(mask)
    assert {s.touches for s in found.stats} == {frozenset({"top"}), frozenset({"left", "bottom"})}
    assert sorted(s.bbox for s in found.stats) == [(0, 300, 50, 180), (200, 0, 60, 100)]


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="depth .* and mask .* differ"):
        transparent_instances(np.zeros((4, 4)), np.zeros((4, 5)))
