"""Write rendered frames into a ROS 2 bag (MCAP storage) with ``rosbags`` (no ROS needed).

Topics (one message each per frame, stamps ``1 / fps`` apart, optical frame ids):
- ``/camera/color/image_raw``: sensor_msgs/Image rgb8;
- ``/camera/color/camera_info``: sensor_msgs/CameraInfo (plumb_bob, zero distortion);
- ``/camera/depth/image_rect_raw``: 16UC1 millimetres, the simulated sensor depth (0 = none),
  registered to the colour camera;
- ``/gt/depth``: 32FC1 metres, ground truth (glass included), NaN where unknown (REP 118);
- ``/gt/mask``: mono8, 255 on transparent pixels, 0 elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.writer import CompressionFormat, CompressionMode
from rosbags.typesys import Stores, get_typestore

TOPICS = {
    "/camera/color/image_raw": "sensor_msgs/msg/Image",
    "/camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
    "/camera/depth/image_rect_raw": "sensor_msgs/msg/Image",
    "/gt/depth": "sensor_msgs/msg/Image",
    "/gt/mask": "sensor_msgs/msg/Image",
}
FRAME_ID = "camera_color_optical_frame"


def bag_directory(path: Path) -> Path:
    """rosbag2 directory for ``path`` (``out.mcap`` -> ``out/``, holding ``out.mcap`` and metadata)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix == ".mcap" else path


def write_bag(frame_dirs: list, path: Path, fps: float = 10.0, compress: bool = False) -> Path:
    """Write ``frame_dirs`` (rendered frame directories, in order) to an MCAP rosbag2.

    ``compress``: zstd per message (rosbag2's ``message`` compression mode; rosbags and
    ``ros2 bag`` read it back transparently), about 2x smaller for rendered frames.

    Returns:
        The bag directory. Raises FileExistsError if it exists already.
    """

    ts = get_typestore(Stores.ROS2_KILTED)
    T = ts.types
    Image, CameraInfo = T["sensor_msgs/msg/Image"], T["sensor_msgs/msg/CameraInfo"]
    Header = T["std_msgs/msg/Header"]
    Time, Roi = T["builtin_interfaces/msg/Time"], T["sensor_msgs/msg/RegionOfInterest"]

    def image(header, arr: np.ndarray, encoding: str):
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape[:2]
        return Image(
            header=header,
            height=h,
            width=w,
            encoding=encoding,
            is_bigendian=0,
            step=arr.strides[0],
            data=arr.reshape(-1).view(np.uint8),
        )

    out = bag_directory(path)
    writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
    if compress:
        writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
    with writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=ts) for topic, msgtype in TOPICS.items()}
        for k, fd in enumerate(frame_dirs):
            fd = Path(fd)
            meta = json.loads((fd / "meta.json").read_text())
            stamp_ns = int(round(1e9 + k * 1e9 / fps))
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=FRAME_ID)
            rgb = cv2.cvtColor(cv2.imread(str(fd / "rgb.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            sensor = cv2.imread(str(fd / "depth_sensor.png"), cv2.IMREAD_UNCHANGED).astype(np.uint16)
            gt_mm = cv2.imread(str(fd / "depth_gt.png"), cv2.IMREAD_UNCHANGED).astype(np.float32)
            gt = np.where(gt_mm > 0, gt_mm / 1000.0, np.nan).astype(np.float32)
            semantic = cv2.imread(str(fd / "semantic.png"), cv2.IMREAD_UNCHANGED)
            mask = np.where(semantic == 2, 255, 0).astype(np.uint8)
            K = np.asarray(meta["K"], np.float64)
            P = np.concatenate([K, np.zeros((3, 1))], axis=1)
            info = CameraInfo(
                header=header,
                height=meta["height"],
                width=meta["width"],
                distortion_model="plumb_bob",
                d=np.zeros(5),
                k=K.reshape(-1),
                r=np.eye(3).reshape(-1),
                p=P.reshape(-1),
                binning_x=0,
                binning_y=0,
                roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
            )
            msgs = {
                "/camera/color/image_raw": image(header, rgb, "rgb8"),
                "/camera/color/camera_info": info,
                "/camera/depth/image_rect_raw": image(header, sensor, "16UC1"),
                "/gt/depth": image(header, gt, "32FC1"),
                "/gt/mask": image(header, mask, "mono8"),
            }
            for topic, msg in msgs.items():
                writer.write(conns[topic], stamp_ns, ts.serialize_cdr(msg, TOPICS[topic]))
    return out
