"""sensor_msgs/Image payloads <-> numpy, ROS-free (no cv_bridge is installable here).

:func:`image_to_rgb` turns the fields of an Image message (encoding, height, width, step,
data) into an (H, W, 3) uint8 RGB array and raises :class:`ImageDecodeError` with a clear
message for anything it cannot trust (unknown encoding, wrong step, truncated data).
"""
from __future__ import annotations

import numpy as np

# encoding -> (channels, order of R, G, B within a pixel or None for grey)
COLOR_ENCODINGS = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, None),
}


class ImageDecodeError(ValueError):
    """An Image message that cannot be turned into an RGB frame (reason in the message)."""


def image_to_rgb(encoding: str, height: int, width: int, step: int, data) -> np.ndarray:
    """Image message fields -> (height, width, 3) uint8 RGB (a copy, C-contiguous).

    Args:
        encoding: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` or ``mono8``.
        height, width: pixels.
        step: bytes per row (>= width * channels; rows may be padded).
        data: the message's ``data`` (bytes, array.array or numpy uint8).
    """
    if encoding not in COLOR_ENCODINGS:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: {sorted(COLOR_ENCODINGS)}")
    channels, order = COLOR_ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"empty image {width}x{height}")
    if step < width * channels:
        raise ImageDecodeError(f"step {step} < width {width} x {channels} bytes per pixel ({encoding})")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size < step * height:
        raise ImageDecodeError(f"truncated image: {buffer.size} bytes, need step {step} x height {height} = {step * height}")
    rows = buffer[: step * height].reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels)
    if order is None:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    return np.ascontiguousarray(pixels[:, :, list(order)])
