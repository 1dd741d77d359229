"""Camera frames from a folder of images or a ROS 2 bag (sqlite3 or MCAP), ROS-free.

Used for INT8 calibration and benchmarks. Bags are read with ``rosbags`` (pure Python).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .image_encodings import image_to_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def is_bag(path: str | Path) -> bool:
    """A bag directory (with metadata.yaml) or a bare ``.mcap`` / ``.db3`` file."""
    path = Path(path)
    return (path / "metadata.yaml").is_file() or path.suffix in (".mcap", ".db3")


def iter_frames(source: str | Path, *, limit: int | None = None, topic: str | None = None) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames from ``source``.

    Args:
        source: a folder of images (sorted by name; PNG/JPEG/BMP) or a bag.
        limit: stop after this many frames.
        topic: the bag's Image topic; default the first ``sensor_msgs/msg/Image`` topic whose
            name contains ``color``, else the first Image topic.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"frame source not found: {source}")
    frames = _bag_frames(source, topic) if is_bag(source) else _folder_frames(source)
    for count, frame in enumerate(frames):
        if limit is not None and count >= limit:
            return
        yield frame


def _folder_frames(folder: Path) -> Iterator[np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {path}")
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _bag_frames(bag: Path, topic: str | None) -> Iterator[np.ndarray]:
    # rosbags takes ~0.3 s to import and only bags need it; the runtime imports this module (TensorRT calibration)
    from rosbags.highlevel import AnyReader  # noqa: PLC0415 - only bag sources need rosbags
    from rosbags.typesys import Stores, get_typestore  # noqa: PLC0415 - only bag sources need rosbags

    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        images = [c for c in reader.connections if c.msgtype == "sensor_msgs/msg/Image"]
        if topic is not None:
            images = [c for c in images if c.topic == topic]
        elif any("color" in c.topic for c in images):
            images = [c for c in images if "color" in c.topic][:1]
        else:
            images = images[:1]
        if not images:
            raise ValueError(f"no sensor_msgs/msg/Image topic {topic or ''} in bag {bag}")
        for connection, _, raw in reader.messages(connections=images):
            msg = reader.deserialize(raw, connection.msgtype)
            yield image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
