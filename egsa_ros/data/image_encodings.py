"""sensor_msgs/Image payloads <-> numpy, ROS-free (no cv_bridge is installable here).

:func:`image_to_rgb` turns the fields of an Image message (encoding, height, width, step,
data) into an (H, W, 3) uint8 RGB array, :func:`depth_to_metres` does the same for depth
images (16UC1 millimetres or 32FC1 metres) and :func:`compressed_to_rgb` for
CompressedImage payloads. Anything they cannot trust (unknown encoding, wrong step,
truncated data, odd width for YUV 4:2:2, undecodable JPEG) raises :class:`ImageDecodeError`
with a clear message.
"""

from __future__ import annotations

import cv2
import numpy as np

# encoding -> (bytes per pixel, OpenCV conversion to RGB or None when it is RGB already)
COLOR_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}


# YUV 4:2:2, 2 bytes per pixel. ROS's "yuv422" is UYVY byte order, "yuv422_yuy2" is YUYV.
YUV422_ENCODINGS = {"uyvy": "UYVY", "yuv422": "UYVY", "yuyv": "YUYV", "yuv422_yuy2": "YUYV"}
DEPTH_ENCODINGS = {"16UC1": ("<u2", 0.001), "mono16": ("<u2", 0.001), "32FC1": ("<f4", 1.0)}
SUPPORTED_ENCODINGS = sorted(list(COLOR_ENCODINGS) + list(YUV422_ENCODINGS))


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
    if encoding in YUV422_ENCODINGS:
        return _yuv422_to_rgb(YUV422_ENCODINGS[encoding], height, width, step, data)
    if encoding not in COLOR_ENCODINGS:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: {SUPPORTED_ENCODINGS}")
    channels, to_rgb = COLOR_ENCODINGS[encoding]
    pixels = np.ascontiguousarray(_rows(height, width, step, data, channels, encoding).reshape(height, width, channels))
    if to_rgb is None:
        return pixels.copy()  # owned and writeable, whatever the payload was
    return cv2.cvtColor(pixels, to_rgb)  # OpenCV: ~100x faster than numpy fancy indexing


def _rows(height: int, width: int, step: int, data, bytes_per_pixel: int, encoding: str) -> np.ndarray:
    """(height, width * bytes_per_pixel) uint8 view of the payload, row padding dropped."""
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"empty image {width}x{height}")
    if step < width * bytes_per_pixel:
        raise ImageDecodeError(f"step {step} < width {width} x {bytes_per_pixel} bytes per pixel ({encoding})")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size < step * height:
        raise ImageDecodeError(
            f"truncated image: {buffer.size} bytes, need step {step} x height {height} = {step * height}"
        )
    return buffer[: step * height].reshape(height, step)[:, : width * bytes_per_pixel]


def _yuv422_to_rgb(order: str, height: int, width: int, step: int, data) -> np.ndarray:
    if width % 2:
        raise ImageDecodeError(f"YUV 4:2:2 needs an even width, got {width}")
    packed = np.ascontiguousarray(_rows(height, width, step, data, 2, order).reshape(height, width, 2))
    code = cv2.COLOR_YUV2RGB_UYVY if order == "UYVY" else cv2.COLOR_YUV2RGB_YUYV
    return cv2.cvtColor(packed, code)


def depth_to_metres(encoding: str, height: int, width: int, step: int, data, is_bigendian: int = 0) -> np.ndarray:
    """A depth Image's fields -> (height, width) float32 metres, NaN where unknown.

    16UC1 / mono16 are millimetres (0 = no return); 32FC1 is metres (NaN, inf, <= 0 =
    unknown, REP 118).
    """
    if encoding not in DEPTH_ENCODINGS:
        raise ImageDecodeError(f"unsupported depth encoding {encoding!r}; supported: {sorted(DEPTH_ENCODINGS)}")
    dtype, scale = DEPTH_ENCODINGS[encoding]
    dtype = np.dtype(dtype).newbyteorder(">" if is_bigendian else "<")
    rows = _rows(height, width, step, data, dtype.itemsize, encoding)
    values = np.ascontiguousarray(rows).view(dtype).reshape(height, width).astype(np.float32) * np.float32(scale)
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


def compressed_to_rgb(fmt: str, data) -> np.ndarray:
    """A CompressedImage's ``format`` and ``data`` (JPEG or PNG) -> (H, W, 3) uint8 RGB."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size == 0:
        raise ImageDecodeError(f"empty compressed image (format {fmt!r})")
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(f"cannot decode compressed image (format {fmt!r}, {buffer.size} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
