"""Training augmentation: the table of a rendered frame re-patterned with a real photograph.

On the out-of-distribution renders most of the pixels wrongly marked as glass lie on the held-out
table materials (marble, tiles), and in-distribution on the photo-textured tables: the network has
seen few table patterns. This gives it more without rendering again: the table's pixels (label
``table``) are multiplied by the pattern of a random crop of a packaged train photo, normalised to
mean 1 over those pixels, so the rendered shading, shadows, caustics and highlights stay and only
the pattern changes. Glass keeps what the renderer saw through it (the old pattern, refracted), as
glass on a patterned table shows a displaced pattern; labels, depth and intrinsics are unchanged.
No torch: training data code only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from .photos import available_photos, load_photo, photos_in, random_crop

TABLE_CLASS = 1
"""Class id of the table in training labels (``egsa_ros.data.synthetic_frames.SYNTHETIC_CLASSES``)."""
MIN_TABLE_PIXELS = 16
"""Frames with fewer table pixels are left as they are (nothing to normalise over)."""
PATTERN_RANGE = (0.25, 2.5)
"""Limits of the pattern's per-pixel gain: a black or white speck of the photo does not blank the
table."""
MAX_SIDE_PX = 640
"""Photos are kept at most this long (longer side), enough for crops at network input size."""


def table_photos(photo_set: int) -> tuple[np.ndarray, ...]:
    """The glass-free TRAIN photos of ``photo_set`` installed here, as (h, w, 3) uint8 RGB with the
    longer side at most :data:`MAX_SIDE_PX` (held-out photos are never used).

    Raises:
        FileNotFoundError: none of them is installed (names the packages).
    """
    photos = available_photos("train", negatives_only=True, photo_set=photo_set)
    if not photos:
        packages = sorted({p.package for p in photos_in("train", photo_set=photo_set)})
        raise FileNotFoundError(f"no train photo of photo set {photo_set} is installed (packages: {packages})")
    out = []
    for photo in photos:
        image = load_photo(photo)
        scale = MAX_SIDE_PX / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        out.append(image)
    return tuple(out)


def retexture_table(
    rgb: np.ndarray, labels: np.ndarray, texture: np.ndarray, strength: float, table_class: int = TABLE_CLASS
) -> np.ndarray:
    """The frame with its table pixels patterned by ``texture``.

    Args:
        rgb: (H, W, 3) uint8 RGB frame.
        labels: (H, W) int class ids.
        texture: (H, W, 3) uint8 RGB pattern (a photo crop at the frame's size).
        strength: 0..1: 0 keeps the frame, 1 applies the full pattern.
        table_class: the table's class id.
    Returns:
        (H, W, 3) uint8; pixels of other classes are returned unchanged (bit for bit).
    """
    if rgb.shape[:2] != labels.shape or texture.shape != rgb.shape:
        raise ValueError(f"rgb {rgb.shape}, labels {labels.shape} and texture {texture.shape} must match")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    table = labels == table_class
    if int(table.sum()) < MIN_TABLE_PIXELS:
        return rgb
    pattern = texture[table].astype(np.float32) + 1.0
    pattern = np.clip(pattern / pattern.mean(axis=0), *PATTERN_RANGE)
    gain = 1.0 + np.float32(strength) * (pattern - 1.0)
    out = rgb.copy()
    out[table] = np.clip(rgb[table].astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    return out


def random_table_texture(
    sample: Mapping[str, Any], rng: np.random.Generator, photos: Sequence[np.ndarray], min_strength: float = 0.5
) -> dict[str, Any]:
    """``sample`` (a training sample dict with ``rgb`` and ``labels``) with its table re-patterned by a
    random crop (1/5 to all of the shorter side, flipped half the time) of one of ``photos``
    ((h, w, 3) uint8 RGB each), at a strength drawn from [``min_strength``, 1]."""
    if not photos:
        raise ValueError("no photos to pattern the table with")
    height, width = sample["labels"].shape
    photo = photos[int(rng.integers(len(photos)))]
    texture = random_crop(photo, (width, height), rng, min_scale=0.2)
    strength = float(rng.uniform(min_strength, 1.0))
    return dict(sample, rgb=retexture_table(sample["rgb"], sample["labels"], texture, strength))
