"""Analytic scenes for the geometry tests: a pinhole camera at a known pose ray-casts a table
(the world z = 0 plane, z up), vertical cylinders and boxes standing on it, and optional walls.

Imported by the other ``test_geometry_*`` files; its own tests check the renderer against
closed-form facts so the geometry tests stand on a verified base.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from egsa_ros.geometry import Plane, plane_from_camera_pose, up_from_pitch_roll

HEIGHT, WIDTH = 480, 640
K = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])


def camera_pose(
    height: float, pitch_down_deg: float, roll_deg: float = 0.0, x: float = 0.0, y: float = 0.0, yaw_deg: float = 0.0
) -> np.ndarray:
    """4x4 camera optical frame -> world, camera at (x, y, height) looking along world +y (turned
    by yaw about z), pitched down and rolled with :func:`up_from_pitch_roll`'s conventions."""
    p, r, yaw = np.radians([pitch_down_deg, roll_deg, yaw_deg])
    right = np.array([1.0, 0.0, 0.0])
    down = np.array([0.0, -np.sin(p), -np.cos(p)])
    forward = np.array([0.0, np.cos(p), -np.sin(p)])
    right, down = np.cos(r) * right + np.sin(r) * down, -np.sin(r) * right + np.cos(r) * down
    turn = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3] = turn @ np.stack([right, down, forward], axis=1)
    pose[:3, 3] = (x, y, height)
    return pose


@dataclass(frozen=True)
class Cylinder:
    """Vertical solid cylinder standing on the table at (x, y), metres."""

    x: float
    y: float
    radius: float
    height: float


@dataclass(frozen=True)
class Frustum:
    """Vertical truncated cone (a tumbler: ``top_radius`` > ``radius``) standing at (x, y), metres."""

    x: float
    y: float
    radius: float
    top_radius: float
    height: float


@dataclass(frozen=True)
class Box:
    """Box standing on the table, centre (x, y), half sizes along its own axes, turned by yaw."""

    x: float
    y: float
    half_x: float
    half_y: float
    height: float
    yaw_deg: float = 0.0


@dataclass(frozen=True)
class Scene:
    """Objects on a table; ``table`` False removes it; ``wall_y`` adds a vertical wall y = wall_y."""

    objects: Sequence = ()
    table: bool = True
    table_max_range: float = np.inf
    wall_y: float | None = None
    shape: tuple[int, int] = (HEIGHT, WIDTH)
    K: np.ndarray = field(default_factory=lambda: K.copy())


@dataclass(frozen=True)
class Render:
    """z-depth (H, W) (NaN: nothing hit), object id (H, W) int (0: table/wall/nothing, i >= 1:
    objects[i - 1]), back depth of objects (H, W), table-only depth (H, W), camera-frame plane."""

    depth: np.ndarray
    ids: np.ndarray
    back: np.ndarray
    table_depth: np.ndarray
    plane: Plane


def render(scene: Scene, pose: np.ndarray) -> Render:
    """Ray-cast the scene from a camera at ``pose`` (camera -> world)."""
    h, w = scene.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(u - scene.K[0, 2]) / scene.K[0, 0], (v - scene.K[1, 2]) / scene.K[1, 1], np.ones_like(u)], -1)
    dirs = rays @ pose[:3, :3].T
    origin = pose[:3, 3]
    best = np.full((h, w), np.inf)
    back = np.full((h, w), np.nan)
    ids = np.zeros((h, w), np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = np.full((h, w), np.inf)
        if scene.table:
            t = -origin[2] / dirs[..., 2]
            table = np.where((t > 0) & (t <= scene.table_max_range), t, np.inf)  # seen from above or below
        if scene.wall_y is not None:
            t = (scene.wall_y - origin[1]) / dirs[..., 1]
            table = np.minimum(table, np.where(t > 0, t, np.inf))
    best = table.copy()
    for index, obj in enumerate(scene.objects, start=1):
        cast = {Cylinder: _cylinder, Frustum: _frustum, Box: _box}[type(obj)]
        near, far = cast(obj, origin, dirs)
        hit = near < best
        best = np.where(hit, near, best)
        back = np.where(hit, far, back)
        ids = np.where(hit, index, ids)
    depth = np.where(np.isfinite(best), best, np.nan)
    table_depth = np.where(np.isfinite(table), table, np.nan)
    estimate = plane_from_camera_pose(pose)
    return Render(depth, ids, back, table_depth, estimate.plane if estimate.ok else None)


def _cylinder(c: Cylinder, origin, dirs):
    """(near, far) ray parameters (inf where missed) of a closed vertical cylinder."""
    ox, oy = origin[0] - c.x, origin[1] - c.y
    dx, dy, dz = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    a = dx * dx + dy * dy
    b = 2 * (ox * dx + oy * dy)
    cc = ox * ox + oy * oy - c.radius**2
    disc = b * b - 4 * a * cc
    root = np.sqrt(np.maximum(disc, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        side_in, side_out = (-b - root) / (2 * a), (-b + root) / (2 * a)
        cap_top, cap_bottom = (c.height - origin[2]) / dz, -origin[2] / dz
    # Slab in z intersected with the infinite cylinder's interval.
    z_lo, z_hi = np.minimum(cap_top, cap_bottom), np.maximum(cap_top, cap_bottom)
    flat = dz == 0
    z_lo = np.where(flat, np.where((0 <= origin[2]) & (origin[2] <= c.height), -np.inf, np.inf), z_lo)
    z_hi = np.where(flat, np.where((0 <= origin[2]) & (origin[2] <= c.height), np.inf, -np.inf), z_hi)
    near, far = np.maximum(side_in, z_lo), np.minimum(side_out, z_hi)
    hit = (disc > 0) & (near < far) & (near > 0)
    return np.where(hit, near, np.inf), np.where(hit, far, np.nan)


def _frustum(f: Frustum, origin, dirs):
    """(near, far) ray parameters (inf where missed) of a closed vertical truncated cone: the
    nearest and farthest of its side, top and bottom hits (it is convex)."""
    slope = (f.top_radius - f.radius) / f.height
    ox, oy, oz = origin[0] - f.x, origin[1] - f.y, origin[2]
    dx, dy, dz = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    r_origin = f.radius + slope * oz
    a = dx * dx + dy * dy - slope**2 * dz * dz
    b = 2 * (ox * dx + oy * dy - slope * dz * r_origin)
    c = ox * ox + oy * oy - r_origin**2
    disc = b * b - 4 * a * c
    root = np.sqrt(np.maximum(disc, 0))
    hits = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in ((-b - root) / (2 * a), (-b + root) / (2 * a)):
            z = oz + t * dz
            hits.append(np.where((disc >= 0) & (t > 0) & (z >= 0) & (z <= f.height), t, np.nan))
        for level, radius in ((f.height, f.top_radius), (0.0, f.radius)):
            t = (level - oz) / dz
            inside = np.hypot(ox + t * dx, oy + t * dy) <= radius
            hits.append(np.where((t > 0) & inside, t, np.nan))
    stack = np.stack(hits)
    hit = np.isfinite(stack).sum(axis=0) >= 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        near, far = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
    return np.where(hit, near, np.inf), np.where(hit, far, np.nan)


def _box(box: Box, origin, dirs):
    """(near, far) ray parameters (inf where missed) of a box turned by yaw about z."""
    yaw = np.radians(box.yaw_deg)
    turn = np.array([[np.cos(yaw), np.sin(yaw), 0], [-np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])  # world -> box
    o = turn @ (origin - np.array([box.x, box.y, 0.0]))
    d = dirs @ turn.T
    lows, highs = np.array([-box.half_x, -box.half_y, 0.0]), np.array([box.half_x, box.half_y, box.height])
    near, far = np.full(dirs.shape[:2], -np.inf), np.full(dirs.shape[:2], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            t1, t2 = (lows[axis] - o[axis]) / d[..., axis], (highs[axis] - o[axis]) / d[..., axis]
            inside = (lows[axis] <= o[axis]) & (o[axis] <= highs[axis])
            t1 = np.where(d[..., axis] == 0, np.where(inside, -np.inf, np.inf), t1)
            t2 = np.where(d[..., axis] == 0, np.where(inside, np.inf, -np.inf), t2)
            near, far = np.maximum(near, np.minimum(t1, t2)), np.minimum(far, np.maximum(t1, t2))
    hit = (near < far) & (near > 0)
    return np.where(hit, near, np.inf), np.where(hit, far, np.nan)


def sensor_depth(r: Render, seed: int = 0, noise_rel: float = 0.004, dropout: float = 0.03) -> np.ndarray:
    """(H, W) float32 depth as a depth camera gives it: relative Gaussian noise, random dropouts,
    and on glass pixels either nothing (half) or the table behind the glass (half)."""
    rng = np.random.default_rng(seed)
    out = r.depth * (1 + noise_rel * rng.standard_normal(r.depth.shape))
    glass = r.ids > 0
    see_through = glass & (rng.random(r.depth.shape) < 0.5)
    out = np.where(see_through, r.table_depth, out)
    out[glass & ~see_through] = np.nan
    out[rng.random(r.depth.shape) < dropout] = np.nan
    return out.astype(np.float32)


def world_to_camera(pose: np.ndarray, point) -> np.ndarray:
    """(3,) a world point in the camera optical frame."""
    return pose[:3, :3].T @ (np.asarray(point, dtype=np.float64) - pose[:3, 3])


# ----------------------------------------------------------------------------- renderer checks


def test_pose_conventions_match_pitch_roll():
    for pitch, roll in ((0, 0), (30, 0), (45, 12), (80, -20)):
        pose = camera_pose(0.5, pitch, roll)
        plane = plane_from_camera_pose(pose).plane
        np.testing.assert_allclose(plane.normal, up_from_pitch_roll(pitch, roll), atol=1e-12)
        assert plane.offset == 0.5
        np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-12)


def test_rendered_points_lie_on_their_surfaces():
    cyl = Cylinder(0.05, 0.7, 0.04, 0.12)
    box = Box(-0.12, 0.6, 0.03, 0.03, 0.08, yaw_deg=20)
    pose = camera_pose(0.45, 35, 5)
    r = render(Scene([cyl, box]), pose)
    v, u = np.nonzero(np.isfinite(r.depth))
    z = r.depth[v, u]
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], -1)
    world = cam @ pose[:3, :3].T + pose[:3, 3]
    ids = r.ids[v, u]
    on_table = world[ids == 0]
    np.testing.assert_allclose(on_table[:, 2], 0, atol=1e-9)
    c = world[ids == 1]
    radial = np.hypot(c[:, 0] - cyl.x, c[:, 1] - cyl.y)
    on_side = np.abs(radial - cyl.radius) < 1e-9
    on_top = np.abs(c[:, 2] - cyl.height) < 1e-9
    assert np.all(on_side | on_top) and on_side.sum() > 1000 and on_top.sum() > 100
    assert np.all(c[:, 2] <= cyl.height + 1e-9) and np.all(radial <= cyl.radius + 1e-9)
    b = world[ids == 2]
    assert len(b) > 500 and np.all(b[:, 2] <= box.height + 1e-9)
    # Every visible plane point is the plane's solution in the camera frame too.
    np.testing.assert_allclose(r.plane.signed_distance(cam[ids == 0]), 0, atol=1e-9)
    # Back depth is behind the front.
    assert np.all(r.back[r.ids > 0] >= r.depth[r.ids > 0])


def test_frustum_points_lie_on_its_surface():
    f = Frustum(0.02, 0.6, 0.03, 0.045, 0.12)
    pose = camera_pose(0.45, 35)
    r = render(Scene([f]), pose)
    v, u = np.nonzero(r.ids == 1)
    z = r.depth[v, u]
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], -1)
    world = cam @ pose[:3, :3].T + pose[:3, 3]
    radial = np.hypot(world[:, 0] - f.x, world[:, 1] - f.y)
    on_side = np.abs(radial - (f.radius + (f.top_radius - f.radius) * world[:, 2] / f.height)) < 1e-9
    on_top = np.abs(world[:, 2] - f.height) < 1e-9
    assert np.all(on_side | on_top) and on_side.sum() > 1000 and on_top.sum() > 100
    # A frustum with equal radii is the cylinder.
    same = render(Scene([Frustum(0.0, 0.6, 0.04, 0.04, 0.1)]), pose)
    cylinder = render(Scene([Cylinder(0.0, 0.6, 0.04, 0.1)]), pose)
    np.testing.assert_array_equal(same.ids, cylinder.ids)
    np.testing.assert_allclose(same.depth, cylinder.depth, atol=1e-9)
