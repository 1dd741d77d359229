"""ROS 2 messages <-> numpy arrays (the package's own: no ROS 2 cv_bridge is installable here).

Decoding is delegated to the ROS-free :mod:`egsa_ros.data.image_encodings`; this module
only reads message fields and builds output messages. Outputs follow REP 118: depth is
32FC1 metres with NaN for unknown; the mask is mono8 with 255 on transparent pixels.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image, PointCloud2, PointField

from ..data.image_encodings import compressed_to_rgb, depth_to_metres, image_to_rgb


def stamp_ns(header) -> int:
    """A header's stamp in integer nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def rgb_from_msg(msg) -> np.ndarray:
    """Image or CompressedImage -> (H, W, 3) uint8 RGB (raises ImageDecodeError)."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg.format, msg.data)
    return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)


def depth_from_msg(msg: Image) -> np.ndarray:
    """16UC1 (mm) or 32FC1 (m) Image -> (H, W) float32 metres, NaN unknown."""
    return depth_to_metres(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)


def depth_msg(header, depth: np.ndarray) -> Image:
    """(H, W) float32 metres -> 32FC1 Image (little endian) with ``header``."""
    depth = np.ascontiguousarray(depth, dtype="<f4")
    msg = Image(
        header=header,
        height=depth.shape[0],
        width=depth.shape[1],
        encoding="32FC1",
        is_bigendian=0,
        step=depth.shape[1] * 4,
    )
    msg.data = depth.tobytes()
    return msg


def mask_msg(header, mask: np.ndarray) -> Image:
    """(H, W) 0/1 mask -> mono8 Image, 255 on transparent pixels, with ``header``."""
    mono = np.ascontiguousarray(mask, dtype=np.uint8) * np.uint8(255)
    msg = Image(
        header=header, height=mono.shape[0], width=mono.shape[1], encoding="mono8", is_bigendian=0, step=mono.shape[1]
    )
    msg.data = mono.tobytes()
    return msg


def points_msg(header, xyz: np.ndarray) -> PointCloud2:
    """(N, 3) float32 xyz metres -> unordered PointCloud2 (fields x, y, z) with ``header``."""
    xyz = np.ascontiguousarray(xyz, dtype="<f4").reshape(-1, 3)
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    msg = PointCloud2(
        header=header,
        height=1,
        width=xyz.shape[0],
        fields=fields,
        is_bigendian=False,
        point_step=12,
        row_step=12 * xyz.shape[0],
        is_dense=True,
    )
    msg.data = xyz.tobytes()
    return msg


def points_from_msg(msg: PointCloud2) -> np.ndarray:
    """A PointCloud2 written by :func:`points_msg` -> (N, 3) float32."""
    return np.frombuffer(msg.data, dtype="<f4").reshape(-1, 3)
