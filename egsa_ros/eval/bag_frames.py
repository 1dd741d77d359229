"""Camera frames with their ground truth from a ROS 2 bag (sqlite3 or MCAP), via ``rosbags``.

Messages of the configured topics are grouped by header stamp; a frame is complete when
every configured topic the bag has for it has arrived.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional

import numpy as np

from ..data.image_encodings import depth_to_metres, image_to_rgb


@dataclass(frozen=True)
class EvalTopics:
    """Topic names ``egsa-eval`` reads (the ``egsa-synth --bag`` layout by default)."""

    image: str = "/camera/color/image_raw"
    camera_info: str = "/camera/color/camera_info"
    sensor_depth: str = "/camera/depth/image_rect_raw"
    gt_depth: str = "/gt/depth"
    gt_mask: str = "/gt/mask"


@dataclass
class BagFrame:
    """One camera frame and what the bag has about it (None when a topic is absent).

    ``rgb`` (H, W, 3) uint8; depths (H, W) float32 metres with NaN unknown; ``gt_mask``
    (H, W) bool, True on transparent pixels; ``K`` (3, 3); ``camera_in_support`` (4, 4) the
    camera's pose (OpenCV axes) in a frame whose z = 0 plane is the table, z up (rendered
    splits have it; bags do not).
    """

    stamp_ns: int
    rgb: np.ndarray
    gt_depth: Optional[np.ndarray] = None
    gt_mask: Optional[np.ndarray] = None
    sensor_depth: Optional[np.ndarray] = None
    K: Optional[np.ndarray] = None
    camera_in_support: Optional[np.ndarray] = None
    raw: Dict[str, bytes] = field(default_factory=dict)


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _existing(bag: Path) -> Path:
    bag = Path(bag)
    if not bag.exists():
        raise FileNotFoundError(f"bag not found: {bag}")
    return bag


def count_frames(bag: Path, topics: EvalTopics = EvalTopics()) -> int:
    """Number of image messages in the bag (for progress bars)."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    with AnyReader([_existing(bag)], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        return sum(c.msgcount for c in reader.connections if c.topic == topics.image)


def read_bag_frames(bag: Path, topics: EvalTopics = EvalTopics(), *, limit: Optional[int] = None,
                    keep_raw: bool = False) -> Iterator[BagFrame]:
    """Yield :class:`BagFrame` in stamp order. ``keep_raw`` also keeps each topic's CDR bytes
    (for the live player)."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    bag = _existing(bag)
    wanted = {topics.image: "image", topics.camera_info: "info", topics.sensor_depth: "sensor",
              topics.gt_depth: "gt_depth", topics.gt_mask: "gt_mask"}
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        conns = [c for c in reader.connections if c.topic in wanted]
        present = {wanted[c.topic] for c in conns}
        if "image" not in present:
            raise ValueError(f"bag {bag} has no topic {topics.image}; its topics: "
                             f"{sorted({c.topic for c in reader.connections})}")
        pending: Dict[int, Dict[str, object]] = {}
        yielded = 0
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            key = wanted[conn.topic]
            parts = pending.setdefault(_stamp(msg), {})
            parts[key] = msg
            if keep_raw:
                parts.setdefault("raw", {})[conn.topic] = (conn.msgtype, bytes(raw))
            if present <= set(parts):
                stamp = _stamp(msg)
                yield _frame(stamp, pending.pop(stamp))
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
        for stamp in sorted(pending):  # incomplete frames at the end: what they have
            if "image" in pending[stamp] and (limit is None or yielded < limit):
                yield _frame(stamp, pending[stamp])
                yielded += 1


def _frame(stamp: int, parts: Dict[str, object]) -> BagFrame:
    image = parts["image"]
    frame = BagFrame(stamp, image_to_rgb(image.encoding, image.height, image.width, image.step, image.data),
                     raw=parts.get("raw", {}))
    if "gt_depth" in parts:
        m = parts["gt_depth"]
        frame.gt_depth = depth_to_metres(m.encoding, m.height, m.width, m.step, m.data, m.is_bigendian)
    if "gt_mask" in parts:
        m = parts["gt_mask"]
        frame.gt_mask = np.frombuffer(m.data, np.uint8)[: m.height * m.step].reshape(m.height, m.step)[:, : m.width] > 0
    if "sensor" in parts:
        m = parts["sensor"]
        frame.sensor_depth = depth_to_metres(m.encoding, m.height, m.width, m.step, m.data, m.is_bigendian)
    if "info" in parts:
        frame.K = np.asarray(parts["info"].k, np.float64).reshape(3, 3)
    return frame
