"""The depth camera's veto (egsa_ros.geometry.sensor_veto): an object the network marks as glass but
the depth camera reads as a solid surface above the table is refused; real glass, which the camera
sees through, is kept, also when an opaque object stands behind it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from egsa_ros.geometry import GlassConfig, glass_geometry
from egsa_ros.geometry.sensor_veto import SOLID_BY_SENSOR, SensorVetoConfig, solid_above_plane
from egsa_ros.runtime.frame_geometry import glass_objects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_geometry_scenes import Box, Cylinder, K, Scene, camera_pose, render  # noqa: E402

POSE = camera_pose(0.45, 35, 4)
GLASS = Cylinder(-0.10, 0.65, 0.035, 0.12)
CAN = Box(0.12, 0.70, 0.035, 0.035, 0.11)  # an opaque object the network takes for glass


def _sensor_through(scene_all, scene_without_glass, glass_ids, pose=POSE):
    """Depth camera: the first non-glass surface on glass pixels (it sees through), the surface
    itself elsewhere."""
    seen, behind = render(scene_all, pose), render(scene_without_glass, pose)
    glass = np.isin(seen.ids, glass_ids)
    return seen, np.where(glass, behind.depth, seen.depth).astype(np.float32)


def _by_true_object(g, r):
    """{true object index: ObjectGeometry} by the majority of each instance's pixels."""
    return {int(np.bincount(r.ids[g.instances.labels == o.instance_id]).argmax()): o for o in g.objects}


def test_an_opaque_object_taken_for_glass_is_refused_and_the_glass_kept():
    r, sensor = _sensor_through(Scene([GLASS, CAN]), Scene([CAN]), [1])
    mask = r.ids > 0  # the network marks both
    network = r.depth.astype(np.float32)
    g = glass_geometry(mask, network, K, sensor_depth=sensor)
    objects = _by_true_object(g, r)
    assert sorted(objects) == [1, 2]
    assert objects[1].ok, objects[1].reason
    assert not objects[2].ok and objects[2].code == SOLID_BY_SENSOR
    assert "depth camera reads a solid surface" in objects[2].reason
    assert g.counts[f"objects_refused_{SOLID_BY_SENSOR}"] == 1 and g.counts["objects_ok"] == 1
    assert np.isnan(g.depth[r.ids == 2]).all() and np.isfinite(g.depth[r.ids == 1]).mean() > 0.95
    # Switched off, the same frame reports both as glass objects.
    off = glass_geometry(mask, network, K, sensor_depth=sensor, config=GlassConfig(sensor_veto=None))
    assert off.counts["objects_ok"] == 2 and f"objects_refused_{SOLID_BY_SENSOR}" not in off.counts
    # Without sensor depth (plane from the pose) there is nothing to veto with.
    pose_only = glass_geometry(mask, network, K, camera_pose=POSE)
    assert pose_only.counts["objects_ok"] == 2


def test_glass_in_front_of_an_opaque_object_is_kept_by_the_depth_ratio():
    low = camera_pose(0.15, 5, 4)  # a low camera: the rays through the glass reach the box
    glass, behind = Cylinder(-0.05, 0.65, 0.035, 0.12), Box(-0.05, 0.90, 0.12, 0.03, 0.35)
    r, sensor = _sensor_through(Scene([glass, behind]), Scene([behind]), [1], low)
    mask = r.ids == 1
    glass_rows = mask & np.isfinite(sensor)
    plane = render(Scene([]), low).plane
    # Through the glass the camera reads the box on over half the glass: a solid far above the table ...
    height_only = solid_above_plane(sensor, K, plane)
    assert height_only[glass_rows].mean() > 0.5
    # ... but much farther than the glass surface the network sees, so not the glass's own surface.
    network = r.depth.astype(np.float32)
    with_ratio = solid_above_plane(sensor, K, plane, network)
    assert with_ratio[glass_rows].mean() < 0.05
    g = glass_geometry(mask.astype(np.uint8), network, K, sensor_depth=sensor)
    assert [o.ok for o in g.objects] == [True]
    huge_ratio = GlassConfig(sensor_veto=SensorVetoConfig(max_ratio=1e6))
    g = glass_geometry(mask.astype(np.uint8), network, K, sensor_depth=sensor, config=huge_ratio)
    assert [o.code for o in g.objects] == [SOLID_BY_SENSOR]


def test_solid_above_plane_counts_only_valid_points_above_the_height():
    r = render(Scene([CAN]), POSE)
    sensor = r.depth.astype(np.float32)
    solid = solid_above_plane(sensor, K, r.plane)
    assert not solid[r.ids == 0].any()  # the table itself
    can = r.ids == 1
    assert solid[can].mean() > 0.8  # all but its lowest 2 cm
    sensor[can] = np.nan
    assert not solid_above_plane(sensor, K, r.plane).any()
    sensor[can] = 0.0
    assert not solid_above_plane(sensor, K, r.plane).any()
    sensor = r.depth.astype(np.float32)
    region = np.zeros_like(can)
    region[:, : can.shape[1] // 2 + 20] = True  # part of the can and of the table
    assert (solid_above_plane(sensor, K, r.plane, where=region) == (solid & region)).all()
    # The share of solid pixels the geometry refuses an object on is this one.
    [refused] = glass_geometry(can, sensor, K, sensor_depth=sensor).objects
    assert refused.code == SOLID_BY_SENSOR and f"on {solid[can].mean():.0%} of its pixels" in refused.reason


def test_glass_objects_switch_reaches_the_geometry():
    r, sensor = _sensor_through(Scene([GLASS, CAN]), Scene([CAN]), [1])

    class Pred:
        depth = r.depth.astype(np.float32)
        mask = (r.ids > 0).astype(np.uint8)

    assert len(glass_objects(Pred(), K, sensor_depth=sensor)) == 1
    assert len(glass_objects(Pred(), K, sensor_depth=sensor, sensor_veto=False)) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_height_m": -0.01}, "min_height_m"),
        ({"min_height_m": float("nan")}, "min_height_m"),
        ({"max_ratio": 0.0}, "max_ratio"),
        ({"min_solid_fraction": 0.0}, "min_solid_fraction"),
        ({"min_solid_fraction": 1.5}, "min_solid_fraction"),
    ],
)
def test_bad_veto_parameters_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SensorVetoConfig(**kwargs)
