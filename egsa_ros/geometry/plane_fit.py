"""Robust fit of the support plane to a depth image (sensor depth, or the network's own).

RANSAC on a subsampled grid of valid, non-transparent pixels (seeded, so deterministic):
plane hypotheses from random point triples are scored on a fixed random subset of the
points; the best is refined by least squares on its inliers, three times, the inlier band
shrinking to the inliers' own spread. The estimate is
refused, with a reason, when there are too few valid pixels, no plane holds enough of them,
the camera is (nearly) on the plane, the plane is seen edge-on (the median angle between the
rays to its inliers and the plane is tiny: its pose is then ill-determined), or, given an
"up" hint, when the camera is below it. Without an up hint the camera is taken to be upright
(the image's top points up), which keeps a wall facing the camera from being taken for the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import back_project, checked_intrinsics, dot3
from .plane import NETWORK_DEPTH, SENSOR_DEPTH, PlaneEstimate, make_plane, refused


@dataclass(frozen=True)
class PlaneFitConfig:
    """Parameters of :func:`fit_plane_to_depth`.

    Attributes:
        stride: use every ``stride``-th row and column (6 at 480x640: 8560 candidate pixels).
        min_valid_pixels: fewest valid, non-excluded pixels (after the stride).
        min_inliers: fewest pixels on the found plane (after the stride).
        min_inlier_fraction: smallest share of valid pixels on the found plane.
        tolerance_m: inlier distance to the plane at zero depth, metres ...
        tolerance_rel: ... plus this fraction of the point's depth (depth noise grows with depth).
        iterations: RANSAC hypotheses.
        score_points: hypotheses are scored on at most this many random points.
        min_grazing_deg: refuse if the median angle between the inliers' rays and the plane is
            below this (plane seen edge-on), degrees.
        min_camera_height_m: refuse if the camera is closer than this to the plane, metres.
        max_tilt_deg: with an up hint, only planes whose normal is within this angle of it are
            considered, degrees.
        upright_margin_deg: without an up hint, only planes whose normal, turned towards the
            camera, points at most this far down the image (optical-frame y <= sin of it) are
            considered, degrees. For an upright camera (the image's top up, roll within +-90 deg,
            pitched down 0-90 deg) the table's normal points up the image or along the optical
            axis, while a wall facing the camera or a ceiling has it pointing down the image
            (held-out renders: 1 of 64 test and ood frames and 5 of 64 frames through 95-110 deg
            lenses had a wall taken for the table before this). A wall facing the camera points
            sin(pitch) * cos(roll) down the image, so one seen by a camera pitched down by less
            than the margin still passes. None: no such prior, for a camera mounted sideways or
            upside down (or give its pose or pitch and roll: an up hint replaces the prior).
        seed: random seed (the fit is deterministic for a given input).
    """

    stride: int = 6
    min_valid_pixels: int = 400
    min_inliers: int = 300
    min_inlier_fraction: float = 0.15
    tolerance_m: float = 0.004
    tolerance_rel: float = 0.01
    iterations: int = 96
    score_points: int = 1000
    min_grazing_deg: float = 5.0
    min_camera_height_m: float = 0.02
    max_tilt_deg: float = 25.0
    upright_margin_deg: float | None = 10.0
    seed: int = 0


UPRIGHT_RETRIES = 2
"""Without an up hint, how many more times the fit looks for a plane after its best one faced
down the image (each time without that plane's points)."""

SENSOR_FIT = PlaneFitConfig()
# The network's depth is smooth but its scale and tilt are less exact: wider inlier band.
NETWORK_FIT = PlaneFitConfig(tolerance_m=0.01, tolerance_rel=0.03)


def fit_plane_to_depth(
    depth: np.ndarray,
    K: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    up_hint: np.ndarray | None = None,
    config: PlaneFitConfig | None = None,
    source: str = SENSOR_DEPTH,
) -> PlaneEstimate:
    """The dominant plane of a depth image.

    Args:
        depth: (H, W) z-depth, metres (NaN or <= 0 where unknown).
        K: (3, 3) intrinsics of the (H, W) image.
        exclude: optional (H, W) mask of pixels not to use (the transparent mask: a depth camera
            sees through or past glass there).
        up_hint: optional (3,) "up" in the optical frame (from a pose): only near-horizontal
            planes are considered and a camera below the plane is refused. Without it, the
            camera is taken to be upright (``config.upright_margin_deg``).
        config: see :class:`PlaneFitConfig` (:data:`SENSOR_FIT` or :data:`NETWORK_FIT`).
        source: the source name recorded in the estimate.
    Returns:
        A :class:`~egsa_ros.geometry.plane.PlaneEstimate` (plane None and a reason if refused).
    """
    if config is None:
        config = NETWORK_FIT if source == NETWORK_DEPTH else SENSOR_FIT
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    if exclude is not None and np.shape(exclude) != depth.shape:
        raise ValueError(f"exclude {np.shape(exclude)} and depth {depth.shape} differ")
    K = checked_intrinsics(K)
    step = max(1, int(config.stride))
    points, valid = back_project(depth, K, step)
    if exclude is not None:
        valid &= ~np.asarray(exclude)[::step, ::step].astype(bool)
    grid = np.full(valid.shape, -1, np.int64)  # point index per grid cell, -1 where none
    grid[valid] = np.arange(int(valid.sum()))
    points = points[valid]
    if len(points) < config.min_valid_pixels:
        return refused(
            source,
            "too_few_pixels",
            f"{len(points)} valid non-transparent pixels (< {config.min_valid_pixels} after stride {step})",
        )
    tolerance = config.tolerance_m + config.tolerance_rel * points[:, 2]
    rng = np.random.default_rng(config.seed)
    upright = up_hint is None and config.upright_margin_deg is not None
    usable = np.ones(len(points), bool)  # points not on a plane the upright prior ruled out
    for _ in range(1 + UPRIGHT_RETRIES if upright else 1):
        normal, offset = _refined_plane(points, grid, tolerance, usable, rng, config, up_hint)
        if normal is None:
            allowed = "within the allowed tilt of the up hint" if up_hint is not None else "facing an upright camera"
            return refused(source, "no_dominant_plane", f"no plane hypothesis {allowed}")
        relative = np.abs(dot3(points, normal) + offset) / tolerance
        if not upright or _faces_upright_camera(normal, offset, config.upright_margin_deg):
            break
        # The refit drifted onto a surface facing down the image (a wall's foot drew it there):
        # take that surface's points out and look again.
        usable &= relative >= 1.0
    else:
        return refused(source, "no_dominant_plane", "no plane facing an upright camera holds enough pixels")
    inliers = relative < 1.0  # counted with the full tolerance
    count = int(inliers.sum())
    share = count / len(points)
    if count < config.min_inliers or share < config.min_inlier_fraction:
        return refused(
            source,
            "no_dominant_plane",
            f"best plane holds {count} pixels ({share:.0%} of valid), "
            f"needs {config.min_inliers} and {config.min_inlier_fraction:.0%}",
            count,
        )
    plane = make_plane(normal, offset)
    if plane.offset < config.min_camera_height_m:
        return refused(
            source,
            "camera_below_plane",
            f"camera {plane.offset:.3f} m from the plane (< {config.min_camera_height_m} m)",
            count,
        )
    if up_hint is not None and plane.normal @ _unit(up_hint) < 0:
        return refused(
            source, "camera_below_plane", "camera is below the plane (its normal opposes the up hint)", count
        )
    # Angle between ray and plane: sin = height / distance for points on the plane.
    grazing = np.degrees(np.arcsin(np.clip(plane.offset / np.linalg.norm(points[inliers], axis=1), 0, 1)))
    median_grazing = float(np.median(grazing))
    if median_grazing < config.min_grazing_deg:
        return refused(
            source,
            "edge_on",
            f"plane seen edge-on: median ray angle {median_grazing:.1f} deg (< {config.min_grazing_deg} deg)",
            count,
        )
    return PlaneEstimate(plane, source, count)


def _refined_plane(
    points: np.ndarray,
    grid: np.ndarray,
    tolerance: np.ndarray,
    usable: np.ndarray,
    rng: np.random.Generator,
    config: PlaneFitConfig,
    up_hint: np.ndarray | None,
):
    """RANSAC on the ``usable`` points, then least squares on the inliers three times, the inlier
    band shrinking to their own spread; (normal (3,), offset) or (None, None)."""
    if usable.sum() < 3:
        return None, None
    if not usable.all():
        index = np.full(len(points), -1, np.int64)
        index[usable] = np.arange(int(usable.sum()))
        grid = np.where(grid >= 0, index[np.maximum(grid, 0)], -1)
        points, tolerance = points[usable], tolerance[usable]
    normal, offset = _ransac(points, grid, tolerance, rng, config, up_hint)
    if normal is None:
        return None, None
    relative = np.abs(dot3(points, normal) + offset) / tolerance
    inliers = relative < 1.0
    band = 1.0
    for _ in range(3):
        if inliers.sum() < 3:
            break
        normal, offset = _least_squares_plane(points[inliers])
        relative = np.abs(dot3(points, normal) + offset) / tolerance
        inliers = relative < band
        # Tighten the band to the inliers' own spread (3 robust sigmas, at least a quarter of
        # the tolerance), so points of another surface near the plane's edge (a wall's foot)
        # stop tilting the least-squares refit.
        if inliers.any():
            band = float(np.clip(3 * 1.4826 * np.median(relative[inliers]), 0.25, 1.0))
    return normal, offset


def _faces_upright_camera(normal: np.ndarray, offset: float, margin_deg: float) -> bool:
    """True when the plane's normal, turned towards the camera, points at most ``margin_deg``
    down the image (optical frame: y down)."""
    towards = normal if offset >= 0 else -normal
    return bool(towards[1] / np.linalg.norm(towards) <= np.sin(np.radians(margin_deg)))


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).reshape(3)
    return vector / np.linalg.norm(vector)


def _ransac(
    points: np.ndarray,
    grid: np.ndarray,
    tolerance: np.ndarray,
    rng: np.random.Generator,
    config: PlaneFitConfig,
    up_hint: np.ndarray | None,
):
    """Best (normal (3,), offset) among random triples, or (None, None) if none is allowed.

    Half the triples are drawn anywhere; in the other half the second and third points lie
    within a sixth of the image of the first (neighbours are far likelier to share a plane, so a
    table holding only 15 % of the pixels is still found with few hypotheses).
    """
    count = len(points)
    picks = rng.integers(0, count, size=(config.iterations, 3))
    local = config.iterations // 2
    rows, cols = np.nonzero(grid >= 0)
    radius = max(2, max(grid.shape) // 6)
    near_rows = np.clip(rows[picks[:local, :1]] + rng.integers(-radius, radius + 1, (local, 2)), 0, grid.shape[0] - 1)
    near_cols = np.clip(cols[picks[:local, :1]] + rng.integers(-radius, radius + 1, (local, 2)), 0, grid.shape[1] - 1)
    neighbours = grid[near_rows, near_cols]
    picks[:local, 1:] = np.where(neighbours >= 0, neighbours, picks[:local, 1:])
    triples = points[picks]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 1e-12
    if up_hint is not None:
        cos_tilt = np.abs(dot3(normals, _unit(up_hint))) / np.maximum(lengths, 1e-300)
        keep &= cos_tilt >= np.cos(np.radians(config.max_tilt_deg))
    elif config.upright_margin_deg is not None:
        # Turn each normal towards the camera (the origin: n . p0 < 0 for a point p0 on the plane),
        # then keep those that do not point down the image (y down) by more than the margin.
        towards = np.where(np.einsum("ij,ij->i", normals, triples[:, 0]) < 0, 1.0, -1.0)
        down = towards * normals[:, 1] / np.maximum(lengths, 1e-300)
        keep &= down <= np.sin(np.radians(config.upright_margin_deg))
    if not keep.any():
        return None, None
    normals = normals[keep] / lengths[keep, None]
    offsets = -np.einsum("ij,ij->i", normals, triples[keep, 0])
    scored = rng.choice(count, size=min(count, config.score_points), replace=False)
    sample = points[scored][:, None, :]
    residual = np.abs(dot3(sample, normals.T) + offsets[None, :])
    best = int(np.argmax((residual < tolerance[scored, None]).sum(axis=0)))
    return normals[best], float(offsets[best])


def _least_squares_plane(points: np.ndarray):
    """(normal (3,), offset) minimising the squared point-to-plane distances of (N, 3) points."""
    centre = points.mean(axis=0)
    columns = [np.ascontiguousarray(points[:, axis] - centre[axis]) for axis in range(3)]
    scatter = np.empty((3, 3))
    for i in range(3):  # elementwise sums: BLAS calls here are slow when cores are busy
        for j in range(i, 3):
            scatter[i, j] = scatter[j, i] = float((columns[i] * columns[j]).sum())
    normal = np.linalg.eigh(scatter)[1][:, 0]
    return normal, float(-normal @ centre)
