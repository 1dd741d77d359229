"""Table materials, window exteriors and light colours of the ``v2`` generator.

Bitmaps are float32 (H, W, 3) linear RGB made in memory from a ``numpy.random.Generator``
(the same state gives the same bitmap); photo textures crop the packaged training photos of
:mod:`egsa_ros.data.photos`.
"""

from __future__ import annotations

import cv2
import numpy as np

from egsa_ros.data.photos import available_photos, linear_texture
from egsa_ros.data.synth.textures import _colour, _smooth_noise, checker_texture, noise_texture, wood_texture


def marble_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Light stone with dark, turbulent veins."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    turb = sum(_smooth_noise(rng, size, c) * w for c, w in ((4, 1.0), (12, 0.5), (32, 0.25)))
    ang = rng.uniform(0, np.pi)
    veins = np.abs(np.sin(2 * np.pi * (rng.uniform(1.5, 4.0) * (np.cos(ang) * xx + np.sin(ang) * yy) + 2.5 * turb)))
    veins = veins ** rng.uniform(0.2, 0.5)
    base = _colour(rng, 0.55, 0.9)
    vein = base * rng.uniform(0.15, 0.5)
    return np.clip(vein + (base - vein) * veins[..., None], 0, 1).astype(np.float32)


def tiles_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Square tiles with grout lines, each tile slightly different in tone."""
    n = int(rng.integers(3, 9))
    cell = size / n
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grout = np.minimum(xx % cell, yy % cell) < rng.uniform(1.5, 4.0)
    tone = rng.uniform(0.85, 1.15, (n, n)).astype(np.float32)
    ti = np.minimum((yy // cell).astype(int), n - 1), np.minimum((xx // cell).astype(int), n - 1)
    colour = _colour(rng, 0.2, 0.85)
    img = colour * tone[ti][..., None]
    return np.where(grout[..., None], _colour(rng, 0.3, 0.7), np.clip(img, 0, 1)).astype(np.float32)


def cloth_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Woven cloth: a fine over-under thread pattern in one colour, sometimes plaid."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(2.5, 6.0)
    weave = 0.75 + 0.25 * np.sign(np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period))
    colour = _colour(rng, 0.05, 0.8)
    img = colour * weave[..., None]
    if rng.random() < 0.4:  # plaid bands
        band = rng.uniform(16, 64)
        stripes = ((xx // band) % 2 == 0) | ((yy // band) % 2 == 0)
        img = np.where(stripes[..., None], img, img * _colour(rng, 0.3, 1.0))
    return np.clip(img * (0.9 + 0.2 * _smooth_noise(rng, size, 24)[..., None]), 0, 1).astype(np.float32)


def stripes_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Parallel stripes of two or three colours at a random angle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ang = rng.uniform(0, np.pi)
    k = int(rng.integers(2, 4))
    idx = (np.floor((np.cos(ang) * xx + np.sin(ang) * yy) * rng.uniform(4, 20)) % k).astype(int)
    colours = np.stack([_colour(rng, 0.05, 0.85) for _ in range(k)])
    return colours[idx].astype(np.float32)


def dots_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Polka dots on a plain ground."""
    n = int(rng.integers(4, 12))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) * n / size
    d = np.hypot(xx % 1 - 0.5, yy % 1 - 0.5)
    dot = d < rng.uniform(0.15, 0.4)
    return np.where(dot[..., None], _colour(rng, 0.05, 0.85), _colour(rng, 0.05, 0.85)).astype(np.float32)


def brushed_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Brushed metal reflectance (grey streaks), for a conductor table's specular tint."""
    streaks = rng.normal(0.0, 1.0, (size, 1)).astype(np.float32)
    streaks = cv2.GaussianBlur(np.repeat(streaks, size, axis=1), (0, 0), 1.5)
    tone = 0.75 + 0.06 * streaks / (np.abs(streaks).max() + 1e-6)
    tint = _colour(rng, 0.85, 1.0)
    return np.clip(tone[..., None] * tint, 0, 1).astype(np.float32)


def plain_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One colour with faint low-frequency variation (lacquered or laminate tops)."""
    return np.clip(_colour(rng, 0.03, 0.85) * (0.95 + 0.1 * _smooth_noise(rng, size, 6)[..., None]), 0, 1).astype(
        np.float32
    )


def granite_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Speckled stone: a ground colour with dense dark and light grains of 1-3 pixels."""
    img = np.tile(_colour(rng, 0.15, 0.7), (size, size, 1))
    dark, light = (rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.3)), (rng.uniform(1.2, 1.6), rng.uniform(0.05, 0.2))
    for tone, share in (dark, light):
        grains = (rng.random((size, size)) < share).astype(np.uint8)
        if rng.random() < 0.5:  # coarser grains
            grains = cv2.dilate(grains, np.ones((2, 2), np.uint8))
        img = np.where(grains[..., None] > 0, img * tone, img)
    return np.clip(img, 0, 1).astype(np.float32)


def terrazzo_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Terrazzo: chips of two to four colours, 3-14 pixels across, scattered on a plain ground."""
    img = np.tile(_colour(rng, 0.4, 0.9), (size, size, 1))
    palette = [_colour(rng, 0.05, 0.9) for _ in range(int(rng.integers(2, 5)))]
    for _ in range(int(rng.integers(150, 500))):
        centre = (int(rng.integers(size)), int(rng.integers(size)))
        axes = (int(rng.integers(2, 8)), int(rng.integers(2, 8)))
        colour = [float(c) for c in palette[int(rng.integers(len(palette)))]]
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return np.clip(img, 0, 1).astype(np.float32)


def concrete_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Grey concrete: soft blotches, fine grain and a few small dark pores."""
    tone = sum(_smooth_noise(rng, size, c) * w for c, w in ((3, 0.5), (10, 0.3), (40, 0.2)))
    grey = rng.uniform(0.3, 0.7) * _colour(rng, 0.9, 1.0)
    img = grey * (0.8 + 0.4 * tone[..., None]) * (0.95 + 0.1 * rng.random((size, size, 1)))
    pores = rng.random((size, size)) < rng.uniform(0.001, 0.006)
    img = np.where(pores[..., None], img * 0.3, img)
    return np.clip(img, 0, 1).astype(np.float32)


def planks_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Floor-board planks: wood grain per plank, each plank its own tone, thin dark seams between."""
    n = int(rng.integers(3, 8))
    width = size / n
    grain = wood_texture(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    plank = np.minimum((xx // width).astype(int), n - 1)
    tone = rng.uniform(0.75, 1.25, n).astype(np.float32)
    img = grain * tone[plank][..., None]
    seam = (xx % width) < rng.uniform(1.0, 2.5)
    return np.clip(np.where(seam[..., None], img * 0.35, img), 0, 1).astype(np.float32)


def photo_texture(rng: np.random.Generator, size: int = 256, photo: str | None = None) -> np.ndarray:
    """A crop of the packaged training photo named ``photo`` (value noise when it is not installed)."""
    installed = {p.name for p in available_photos("train")}
    if photo is None or photo not in installed:
        return noise_texture(rng, size)
    return linear_texture(photo, size, rng)


TABLE_MAKERS = {
    "wood": wood_texture,
    "checker": checker_texture,
    "noise": noise_texture,
    "marble": marble_texture,
    "tiles": tiles_texture,
    "cloth": cloth_texture,
    "stripes": stripes_texture,
    "dots": dots_texture,
    "metal": brushed_texture,
    "glossy": plain_texture,
    "photo": photo_texture,
    "granite": granite_texture,
    "terrazzo": terrazzo_texture,
    "concrete": concrete_texture,
    "planks": planks_texture,
}
"""Table material name -> bitmap maker (see :mod:`egsa_ros.data.synth.families` for which split draws which)."""


def table_bitmap(kind: str, rng: np.random.Generator, size: int = 256, photo: str | None = None) -> np.ndarray:
    """The (size, size, 3) float32 bitmap of table material ``kind`` (``photo``: the photo's name)."""
    if kind not in TABLE_MAKERS:
        raise ValueError(f"unknown table material {kind!r}; expected one of {sorted(TABLE_MAKERS)}")
    if kind == "photo":
        return photo_texture(rng, size, photo)
    return TABLE_MAKERS[kind](rng, size)


def window_exterior(rng: np.random.Generator, photo: str | None, size: int = 128) -> np.ndarray:
    """What a window shows: a sky gradient over a blurred green/grey skyline, or a crop of the
    training photo named ``photo`` (when installed).

    Returned as relative radiance (H, W, 3) float32 in about [0, 1]; the emitter scales it.
    """
    if photo is not None and photo in {p.name for p in available_photos("train")}:
        return photo_texture(rng, size, photo)
    v = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    sky = np.array([0.55, 0.7, 1.0], np.float32) * (1.0 - 0.4 * v) + 0.1
    horizon = rng.uniform(0.45, 0.8) * size
    skyline = horizon + 0.15 * size * (_smooth_noise(rng, size, 8)[0] - 0.5)
    rows = np.arange(size, dtype=np.float32)[:, None]
    ground = (rows > skyline[None, :])[..., None]
    img = np.where(ground, _colour(rng, 0.05, 0.35), sky)
    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)


def kelvin_to_rgb(kelvin: float) -> list:
    """Relative linear RGB of a black body at ``kelvin``, normalised so 6500 K is white (1, 1, 1).

    Planck's law sampled at 610, 550 and 465 nm (stand-ins for the R, G, B primaries), divided by
    the same at 6500 K, then scaled so the largest channel is 1.
    """
    wavelengths = np.array([610e-9, 550e-9, 465e-9])
    c2 = 1.4388e-2  # second radiation constant, metre kelvin

    def planck(t: float) -> np.ndarray:
        return 1.0 / (wavelengths**5 * (np.exp(c2 / (wavelengths * t)) - 1.0))

    rgb = planck(float(kelvin)) / planck(6500.0)
    return [float(c) for c in rgb / rgb.max()]
