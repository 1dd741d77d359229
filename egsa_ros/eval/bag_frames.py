"""Camera frames with their ground truth from a ROS 2 bag (sqlite3 or MCAP), via ``rosbags``.

Messages of the configured topics are grouped by header stamp; a frame is complete when
every configured topic the bag has for it has arrived. A bag that cannot be read (missing,
empty, truncated, not a bag) raises :class:`BagError` (a ValueError) with one line naming the
file and the problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

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
    gt_depth: np.ndarray | None = None
    gt_mask: np.ndarray | None = None
    sensor_depth: np.ndarray | None = None
    K: np.ndarray | None = None
    camera_in_support: np.ndarray | None = None
    raw: dict[str, bytes] = field(default_factory=dict)

    def focal_px(self) -> float | None:
        """fx in pixels when the camera matrix belongs to this image (else None: the pipeline
        then keeps the depth of its canonical camera)."""
        if self.K is None:
            return None
        K = np.asarray(self.K, np.float64)
        fx, cx, cy = float(K[0, 0]), float(K[0, 2]), float(K[1, 2])
        h, w = self.rgb.shape[:2]
        if not (np.isfinite(fx) and fx > 0 and 0 <= cx <= w and 0 <= cy <= h):
            return None
        return fx


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class BagError(ValueError):
    """A bag that cannot be read; the message names the file and the problem (one line)."""


def _existing(bag: Path) -> Path:
    bag = Path(bag)
    if not bag.exists():
        raise FileNotFoundError(f"bag not found: {bag}")
    return bag


def _bag_error(bag: Path, exc: Exception) -> BagError:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return BagError(f"cannot read bag {bag}: {text}")


def count_frames(bag: Path, topics: EvalTopics = EvalTopics()) -> int:
    """Number of image messages in the bag (for progress bars)."""
    bag = _existing(bag)
    try:
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
            return sum(c.msgcount for c in reader.connections if c.topic == topics.image)
    except Exception as exc:  # rosbags raises its own types (AnyReaderError, ReaderError, ...) for bad files
        raise _bag_error(bag, exc) from exc


def read_bag_frames(
    bag: Path, topics: EvalTopics = EvalTopics(), *, limit: int | None = None, keep_raw: bool = False
) -> Iterator[BagFrame]:
    """Yield :class:`BagFrame` in stamp order. ``keep_raw`` also keeps each topic's CDR bytes
    (for the live player). Raises FileNotFoundError or :class:`BagError`."""
    bag = _existing(bag)
    try:
        yield from _read(bag, topics, limit, keep_raw)
    except BagError:
        raise
    except Exception as exc:  # a truncated or corrupt bag fails anywhere while reading: one line
        raise _bag_error(bag, exc) from exc


def _read(bag: Path, topics: EvalTopics, limit: int | None, keep_raw: bool) -> Iterator[BagFrame]:
    wanted = {
        topics.image: "image",
        topics.camera_info: "info",
        topics.sensor_depth: "sensor",
        topics.gt_depth: "gt_depth",
        topics.gt_mask: "gt_mask",
    }
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        conns = [c for c in reader.connections if c.topic in wanted]
        present = {wanted[c.topic] for c in conns}
        if "image" not in present:
            raise BagError(
                f"bag {bag} has no topic {topics.image}; its topics: {sorted({c.topic for c in reader.connections})}"
            )
        pending: dict[int, dict[str, object]] = {}
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


def _frame(stamp: int, parts: dict[str, object]) -> BagFrame:
    image = parts["image"]
    frame = BagFrame(
        stamp, image_to_rgb(image.encoding, image.height, image.width, image.step, image.data), raw=parts.get("raw", {})
    )
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
