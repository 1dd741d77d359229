"""Exact per-pixel labels by casting one ray through every pixel centre.

- first hit (glass included) -> ground-truth z-depth, semantic and instance masks;
- the same ray continued straight through glass until a non-glass surface -> the surface a
  depth camera measures behind glass (the raw material of the simulated sensor depth).

Works on scalar variants (a Python loop, fine for small images) and JIT variants
(one vectorized call per pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egsa_ros.data.synth.variant import is_vectorized

GLASS_CLASS = 2
CONTINUE_EPS_M = 1e-4
"""Step past a glass hit before casting on, metres."""
MAX_GLASS_LAYERS = 12


@dataclass
class PixelLabels:
    """Per-pixel results, all (H, W).

    depth_gt: float32 z (metres, along the optical axis) of the first hit, 0 where no hit.
    depth_behind_glass: float32 z of the first non-glass hit along the same ray, 0 if none.
    semantic: uint8 class of the first hit (see ``SEMANTIC_CLASSES``); instance: uint16.
    """

    depth_gt: np.ndarray
    depth_behind_glass: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray


def _shape_keys(mi, scene) -> tuple[dict, list]:
    """Map from a hit-shape key (pointer id or shape id string) to the index in scene.shapes()."""
    shapes = list(scene.shapes())
    if is_vectorized(mi):
        import drjit as dr  # noqa: PLC0415 - drjit loads with mitsuba, only to render

        keys = {int(np.array(dr.reinterpret_array(mi.UInt32, mi.ShapePtr(s)))[0]): i for i, s in enumerate(shapes)}
    else:
        keys = {s.id(): i for i, s in enumerate(shapes)}
    return keys, shapes


def _primary_rays(mi, sensor, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions (N, 3), N = H*W row-major, through pixel centres."""
    n = width * height
    if is_vectorized(mi):
        import drjit as dr  # noqa: PLC0415 - drjit loads with mitsuba, only to render

        idx = dr.arange(mi.UInt32, n)
        pos = mi.Point2f((mi.Float(idx % width) + 0.5) / width, (mi.Float(idx // width) + 0.5) / height)
        ray, _ = sensor.sample_ray(0.0, 0.5, pos, mi.Point2f(0.5, 0.5))
        return np.array(ray.o, np.float64).T.reshape(n, 3), np.array(ray.d, np.float64).T.reshape(n, 3)
    o = np.empty((n, 3))
    d = np.empty((n, 3))
    i = 0
    for y in range(height):
        for x in range(width):
            film_pos = mi.Point2f((x + 0.5) / width, (y + 0.5) / height)
            ray, _ = sensor.sample_ray(0.0, 0.5, film_pos, mi.Point2f(0.5, 0.5))
            o[i], d[i] = ray.o, ray.d
            i += 1
    return o, d


def _intersect(mi, scene, keys: dict, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances t (inf on miss) and shape indices (-1 on miss) for rays (N, 3)."""
    n = len(o)
    t = np.full(n, np.inf)
    idx = np.full(n, -1, np.int64)
    if n == 0:
        return t, idx
    if is_vectorized(mi):
        import drjit as dr  # noqa: PLC0415 - drjit loads with mitsuba, only to render

        F = mi.Float
        ray = mi.Ray3f(mi.Point3f(F(o[:, 0]), F(o[:, 1]), F(o[:, 2])), mi.Vector3f(F(d[:, 0]), F(d[:, 1]), F(d[:, 2])))
        si = scene.ray_intersect(ray)
        valid = np.array(si.is_valid(), bool)
        ptr = np.array(dr.reinterpret_array(mi.UInt32, si.shape))
        t[valid] = np.array(si.t, np.float64)[valid]
        idx[valid] = [keys.get(int(p), -1) for p in ptr[valid]]
        return t, idx
    for i in range(n):
        si = scene.ray_intersect(mi.Ray3f(mi.Point3f(*o[i]), mi.Vector3f(*d[i])))
        if si.is_valid():
            t[i] = si.t
            idx[i] = keys.get(si.shape.id(), -1)
    return t, idx


def cast_labels(scene, labels: dict, width: int, height: int, c2w: np.ndarray) -> PixelLabels:
    """Label every pixel of the scene's first sensor.

    Args:
        scene: a loaded Mitsuba scene. labels: shape id -> (semantic, instance).
        width, height: image size, pixels. c2w: 4x4 OpenCV camera-to-world (for z).
    """
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only to render

    keys, shapes = _shape_keys(mi, scene)
    sem_of = np.array([labels.get(s.id(), (0, 0))[0] for s in shapes] + [0], np.uint8)
    inst_of = np.array([labels.get(s.id(), (0, 0))[1] for s in shapes] + [0], np.uint16)
    eye, fwd = np.asarray(c2w)[:3, 3], np.asarray(c2w)[:3, 2]

    o, d = _primary_rays(mi, scene.sensors()[0], width, height)
    t, idx = _intersect(mi, scene, keys, o, d)
    hit = np.isfinite(t)
    p = o + d * np.where(hit, t, 0.0)[:, None]
    depth_gt = np.where(hit, (p - eye) @ fwd, 0.0)
    semantic, instance = sem_of[idx], inst_of[idx]  # idx -1 -> the trailing 0 entry

    # Continue straight through glass to the first opaque surface.
    behind = depth_gt.copy()
    todo = np.flatnonzero(semantic == GLASS_CLASS)
    origin = p.copy()
    for _ in range(MAX_GLASS_LAYERS):
        if todo.size == 0:
            break
        origin[todo] = origin[todo] + d[todo] * CONTINUE_EPS_M
        tt, ii = _intersect(mi, scene, keys, origin[todo], d[todo])
        ok = np.isfinite(tt)
        origin[todo[ok]] = origin[todo[ok]] + d[todo[ok]] * tt[ok, None]
        behind[todo[~ok]] = 0.0
        behind[todo[ok]] = (origin[todo[ok]] - eye) @ fwd
        todo = todo[ok][sem_of[ii[ok]] == GLASS_CLASS]
    behind[todo] = 0.0  # still inside glass after MAX_GLASS_LAYERS: unknown

    shape = (height, width)
    return PixelLabels(
        depth_gt.reshape(shape).astype(np.float32),
        behind.reshape(shape).astype(np.float32),
        semantic.reshape(shape),
        instance.reshape(shape),
    )
