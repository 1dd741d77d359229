"""ROS 2 messages <-> numpy arrays (the package's own: no ROS 2 cv_bridge is installable here).

Decoding is delegated to the ROS-free :mod:`egsa_ros.data.image_encodings`; this module
only reads message fields and builds output messages. Outputs follow REP 118: depth is
32FC1 metres with NaN for unknown; the mask is mono8 with 255 on transparent pixels.
Transparent points are x, y, z float32 plus ``instance`` uint32 (0 = no object); transparent
objects are visualization_msgs markers (a DELETEALL first, then a cylinder and a label each).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from ..data.image_encodings import compressed_to_rgb, depth_to_metres, image_to_rgb
from .cdr_header import image_cdr

POINT_DTYPE = np.dtype({"names": ["x", "y", "z", "instance"], "formats": ["<f4", "<f4", "<f4", "<u4"]})
"""One transparent point: x, y, z float32 metres (optical frame), ``instance`` uint32 object id."""
OBJECTS_NS, LABELS_NS = "transparent_objects", "transparent_object_sizes"
LABEL_HEIGHT_M = 0.02


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


def header_msg(stamp_ns: int, frame_id: str) -> Header:
    """A std_msgs Header from an integer-nanosecond stamp and a frame id."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def depth_image_cdr(stamp_ns: int, frame_id: str, depth: np.ndarray) -> bytes:
    """(H, W) float32 metres -> a serialized 32FC1 Image (little endian), for ``publish(bytes)``."""
    depth = np.ascontiguousarray(depth, dtype="<f4")
    height, width = depth.shape
    return image_cdr(stamp_ns, frame_id, height, width, "32FC1", width * 4, depth.data)


def mask_image_cdr(stamp_ns: int, frame_id: str, mask: np.ndarray) -> bytes:
    """(H, W) 0/1 mask -> a serialized mono8 Image, 255 on transparent pixels."""
    mono = np.ascontiguousarray(mask, dtype=np.uint8) * np.uint8(255)
    height, width = mono.shape
    return image_cdr(stamp_ns, frame_id, height, width, "mono8", width, mono.data)


def points_msg(header, xyz: np.ndarray, instances: np.ndarray | None = None) -> PointCloud2:
    """(N, 3) float32 xyz metres (+ (N,) instance ids, 0 = none; all 0 when None) -> unordered
    PointCloud2 (fields x, y, z float32, instance uint32; 16 bytes a point) with ``header``."""
    xyz = np.asarray(xyz, dtype=np.float32).reshape(-1, 3)
    points = np.zeros(len(xyz), POINT_DTYPE)
    points["x"], points["y"], points["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    if instances is not None:
        points["instance"] = instances
    kinds = {"x": PointField.FLOAT32, "y": PointField.FLOAT32, "z": PointField.FLOAT32, "instance": PointField.UINT32}
    fields = [PointField(name=n, offset=POINT_DTYPE.fields[n][1], datatype=kind, count=1) for n, kind in kinds.items()]
    msg = PointCloud2(
        header=header,
        height=1,
        width=len(points),
        fields=fields,
        is_bigendian=False,
        point_step=POINT_DTYPE.itemsize,
        row_step=POINT_DTYPE.itemsize * len(points),
        is_dense=True,
    )
    msg.data = points.tobytes()
    return msg


def points_from_msg(msg: PointCloud2) -> np.ndarray:
    """A PointCloud2 written by :func:`points_msg` -> (N, 3) float32 xyz."""
    points = np.frombuffer(msg.data, dtype=POINT_DTYPE)
    return np.stack([points["x"], points["y"], points["z"]], axis=1)


def point_instances_from_msg(msg: PointCloud2) -> np.ndarray:
    """A PointCloud2 written by :func:`points_msg` -> (N,) uint32 instance ids."""
    return np.frombuffer(msg.data, dtype=POINT_DTYPE)["instance"].copy()


def objects_msg(header, boxes) -> MarkerArray:
    """Transparent objects -> MarkerArray: a DELETEALL marker (old objects vanish), then per
    object a semi-transparent CYLINDER (pose = its axis point at half height, z axis up the
    table's normal; scale = width, width, height, metres) and a TEXT_VIEW_FACING label with its
    size above it; ids = instance ids, every marker with ``header``.

    Args:
        boxes: :class:`~egsa_ros.runtime.frame_geometry.ObjectBox` items.
    """
    markers = [Marker(header=header, ns=OBJECTS_NS, id=0, action=Marker.DELETEALL)]
    for box in boxes:
        cylinder = Marker(header=header, ns=OBJECTS_NS, id=int(box.instance_id), type=Marker.CYLINDER)
        _set_pose(cylinder, box.centre, box.orientation_xyzw)
        cylinder.scale.x = cylinder.scale.y = float(box.width_m)
        cylinder.scale.z = float(box.height_m)
        cylinder.color.r, cylinder.color.g, cylinder.color.b, cylinder.color.a = 0.3, 0.8, 1.0, 0.5
        label = Marker(header=header, ns=LABELS_NS, id=int(box.instance_id), type=Marker.TEXT_VIEW_FACING)
        up = _rotate_z(box.orientation_xyzw)
        _set_pose(label, np.asarray(box.centre) + (0.5 * box.height_m + LABEL_HEIGHT_M) * up, (0.0, 0.0, 0.0, 1.0))
        label.scale.z = LABEL_HEIGHT_M
        label.color.r = label.color.g = label.color.b = label.color.a = 1.0
        label.text = _size_text(box)
        markers += [cylinder, label]
    return MarkerArray(markers=markers)


def _set_pose(marker: Marker, position, orientation_xyzw) -> None:
    p, q = marker.pose.position, marker.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    q.x, q.y, q.z, q.w = (float(v) for v in orientation_xyzw)


def _rotate_z(q) -> np.ndarray:
    """(3,) the z axis turned by the unit quaternion ``q`` (x, y, z, w)."""
    x, y, z, w = (float(v) for v in q)
    return np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])


def _size_text(box) -> str:
    """``"2: 7.0 x 10.0 cm"`` (instance id: width x height; ">=" where the image border cuts the object)."""
    width = (">=" if box.width_is_lower_bound else "") + f"{100 * box.width_m:.1f}"
    height = (">=" if box.height_is_lower_bound else "") + f"{100 * box.height_m:.1f}"
    return f"{box.instance_id}: {width} x {height} cm"
