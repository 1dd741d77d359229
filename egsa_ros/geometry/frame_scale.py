"""Pixel thresholds that keep their meaning on every frame size.

The geometry's pixel counts (speck size, smallest piece, edge margin, smallest object) were chosen
on 192x256 frames, the network's own size. A camera frame of another size shows the same scene
with more (or fewer) pixels: the network's mask, upsampled to a 480x640 frame, turns a speck of 8
network pixels into 50 frame pixels. So each threshold is stated at 192x256 and scaled with the
frame: areas by the ratio of pixel counts, lengths by its square root.
"""

from __future__ import annotations

import math

REFERENCE_SHAPE = (192, 256)
"""(H, W) at which the geometry's pixel thresholds are stated."""


def frame_scale(shape: tuple[int, ...]) -> float:
    """Linear scale of an (H, W, ...) frame against :data:`REFERENCE_SHAPE` (1.0 at 192x256,
    2.5 at 480x640)."""
    height, width = int(shape[0]), int(shape[1])
    return math.sqrt(height * width / (REFERENCE_SHAPE[0] * REFERENCE_SHAPE[1]))


def scaled_area(pixels: int, scale: float) -> int:
    """An area threshold stated at the reference size, for a frame of linear ``scale`` (>= 1 pixel)."""
    return max(1, round(pixels * scale * scale))


def scaled_length(pixels: int, scale: float) -> int:
    """A length threshold stated at the reference size, for a frame of linear ``scale`` (>= 1 pixel)."""
    return max(1, round(pixels * scale))
