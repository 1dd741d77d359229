"""Play recorded messages into a live ROS 2 graph with their original timing (no rosbag2 here).

Messages are published as serialized CDR bytes (rclpy accepts them unchanged). With
``restamp`` every frame's messages get one new header stamp, taken from the player node's
clock when the frame is sent, so subscribers can measure latency as receive time minus
stamp; ``stamp_map`` maps new stamps back to the recorded ones.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.typesys import Stores, get_typestore

# One frame: (recorded stamp ns, {topic: (msgtype, cdr bytes)})
Frame = tuple[int, dict[str, tuple[str, bytes]]]


def message_class(msgtype: str):
    """``sensor_msgs/msg/Image`` -> the rclpy message class."""
    package, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


class BagPlayer:
    """Publishes frames on ``remap[topic]`` (default the recorded topic) at ``rate`` x speed.

    Args:
        node: the rclpy node that owns the publishers.
        frames: recorded frames in stamp order.
        remap: recorded topic -> topic to publish on.
        rate: playback speed factor (1.0 = original timing).
        restamp: replace header stamps with the send time (see the module docstring).
    """

    def __init__(
        self, node: Node, frames: Sequence[Frame], remap: dict[str, str], *, rate: float = 1.0, restamp: bool = True
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.node, self.frames, self.rate, self.restamp = node, list(frames), float(rate), restamp
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {}
        for _, messages in self.frames:
            for topic, (msgtype, _) in messages.items():
                if topic not in self.publishers:
                    self.publishers[topic] = node.create_publisher(message_class(msgtype), remap.get(topic, topic), qos)
        self.stamp_map: dict[int, int] = {}
        self.sent_ns: list[int] = []

    def subscribers_ready(self, topic: str) -> bool:
        return topic in self.publishers and self.publishers[topic].get_subscription_count() > 0

    def due_times(self) -> list[float]:
        """Seconds after the start at which each frame is due."""
        t0 = self.frames[0][0] if self.frames else 0
        return [(stamp - t0) / 1e9 / self.rate for stamp, _ in self.frames]

    def send(self, index: int) -> int:
        """Publish frame ``index`` now; returns the stamp it carries (ns)."""
        recorded, messages = self.frames[index]
        stamp = self.node.get_clock().now().nanoseconds if self.restamp else recorded
        self.stamp_map[stamp] = recorded
        for topic, (msgtype, raw) in messages.items():
            if self.restamp:
                msg = self.typestore.deserialize_cdr(raw, msgtype)
                msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 1_000_000_000, stamp % 1_000_000_000
                raw = bytes(self.typestore.serialize_cdr(msg, msgtype))
            self.publishers[topic].publish(raw)
        self.sent_ns.append(time.monotonic_ns())
        return stamp
