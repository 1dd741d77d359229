"""Procedural bitmaps made in memory (no files): table textures and environment maps.

Every function takes a ``numpy.random.Generator`` and returns a float32 (H, W, 3) array of
linear RGB values, so the same generator state gives the same bitmap.
"""

from __future__ import annotations

import cv2
import numpy as np

TABLE_TEXTURES = ("wood", "checker", "noise")
ENV_KINDS = ("sky", "studio")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """(size, size) value noise in [0, 1]: random ``cells`` x ``cells`` grid, bicubic upsampled."""
    grid = rng.random((cells, cells)).astype(np.float32)
    return np.clip(cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _colour(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, 3).astype(np.float32)


def wood_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Wood-like stripes: sine rings warped by smooth noise between two browns."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    warp = _smooth_noise(rng, size, 6) * rng.uniform(0.5, 2.0)
    freq = rng.uniform(10, 30)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (freq * yy + 3.0 * warp + 0.3 * np.sin(6 * xx)))
    rings = rings ** rng.uniform(1.0, 3.0)
    light = np.array([0.45, 0.28, 0.14], np.float32) * rng.uniform(0.6, 1.4)
    dark = light * rng.uniform(0.35, 0.7)
    img = dark + (light - dark) * rings[..., None]
    return np.clip(img * (0.9 + 0.2 * _smooth_noise(rng, size, 32)[..., None]), 0, 1)


def checker_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Checkerboard of two random colours, 4 to 16 squares across."""
    n = int(rng.integers(4, 17))
    yy, xx = np.mgrid[0:size, 0:size] * n // size
    a, b = _colour(rng, 0.05, 0.8), _colour(rng, 0.05, 0.8)
    return np.where(((xx + yy) % 2 == 0)[..., None], a, b).astype(np.float32)


def noise_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Multi-octave value noise mixing two random colours (stone/laminate look)."""
    total = sum(_smooth_noise(rng, size, c) * w for c, w in ((4, 0.5), (16, 0.3), (64, 0.2)))
    a, b = _colour(rng, 0.05, 0.7), _colour(rng, 0.05, 0.7)
    return (a + (b - a) * total[..., None]).astype(np.float32)


def table_texture(kind: str, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One of :data:`TABLE_TEXTURES` as a (size, size, 3) float32 linear-RGB bitmap."""
    makers = {"wood": wood_texture, "checker": checker_texture, "noise": noise_texture}
    if kind not in makers:
        raise ValueError(f"unknown table texture {kind!r}; expected one of {TABLE_TEXTURES}")
    return makers[kind](rng, size)


def environment_map(kind: str, rng: np.random.Generator, width: int = 256) -> np.ndarray:
    """Equirectangular (width/2, width, 3) float32 radiance map, row 0 = zenith.

    ``sky``: horizon-to-zenith blue gradient over a darker ground, plus a sun-like blob.
    ``studio``: grey gradient with 2 to 4 bright rectangular softboxes above the horizon
    (the sharp highlights that make glass visible).
    """
    h = width // 2
    v = (np.arange(h, dtype=np.float32) + 0.5) / h  # 0 zenith .. 1 nadir
    u = (np.arange(width, dtype=np.float32) + 0.5) / width
    vv, uu = np.meshgrid(v, u, indexing="ij")
    up = np.clip(1.0 - 2.0 * vv, 0.0, 1.0)[..., None]  # 1 at zenith, 0 at horizon and below
    if kind == "sky":
        zenith = np.array([0.25, 0.45, 0.9], np.float32) * rng.uniform(0.6, 1.4)
        horizon = np.array([0.85, 0.9, 1.0], np.float32) * rng.uniform(0.6, 1.4)
        ground = _colour(rng, 0.1, 0.35)
        img = np.where(vv[..., None] < 0.5, horizon + (zenith - horizon) * up**0.6, ground)
        su, sv = rng.uniform(0, 1), rng.uniform(0.1, 0.4)
        d2 = ((uu - su + 0.5) % 1.0 - 0.5) ** 2 * 4 + (vv - sv) ** 2
        img = img + 40.0 * np.exp(-d2 / 2e-4)[..., None]
    elif kind == "studio":
        base = rng.uniform(0.15, 0.5)
        img = np.full((h, width, 3), base, np.float32) * (0.4 + 0.6 * up + 0.2)
        for _ in range(int(rng.integers(2, 5))):
            cu, cv = rng.uniform(0, 1), rng.uniform(0.1, 0.45)
            hu, hv = rng.uniform(0.02, 0.08), rng.uniform(0.03, 0.1)
            box = (np.abs((uu - cu + 0.5) % 1.0 - 0.5) < hu) & (np.abs(vv - cv) < hv)
            img[box] = rng.uniform(4.0, 15.0) * _colour(rng, 0.8, 1.0)
    else:
        raise ValueError(f"unknown environment {kind!r}; expected one of {ENV_KINDS}")
    return np.ascontiguousarray(img, dtype=np.float32)
