"""Real ROS 2 (rclpy from the wheels) exchange between two processes, loopback only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from egsa_ros.ros.loopback import FASTDDS_PROFILE

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels (ros-kilted-rclpy) not installed")
from sensor_msgs.msg import Image  # noqa: E402

PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node("egsa_test_publisher")
    pub = node.create_publisher(Image, "egsa_test/image", 10)
    frame = (np.arange(480 * 640 * 3) % 251).astype(np.uint8)
    deadline = time.monotonic() + 20.0
    sent = 0
    while time.monotonic() < deadline and sent < 200:
        msg = Image(height=480, width=640, encoding="rgb8", step=640 * 3)
        msg.header.frame_id = f"frame_{sent}"
        msg.data = frame.tobytes()
        pub.publish(msg)
        sent += 1
        time.sleep(0.05)
    node.destroy_node()
    rclpy.shutdown()
    """
)


def test_suite_forces_loopback_discovery():
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == str(FASTDDS_PROFILE)
    assert "127.0.0.1" in FASTDDS_PROFILE.read_text()
    assert "ROS_LOCALHOST_ONLY" not in os.environ


@pytest.mark.ros
def test_image_crosses_between_two_processes(ros_domain):
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER], env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    rclpy.init()
    node = rclpy.create_node("egsa_test_listener")
    received = []
    node.create_subscription(Image, "egsa_test/image", received.append, 10)
    try:
        deadline = time.monotonic() + 25.0
        while len(received) < 3 and time.monotonic() < deadline and proc.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.kill()
        out = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert len(received) >= 3, f"no images arrived on domain {ros_domain}; publisher said:\n{out}"
    msg = received[-1]
    data = np.frombuffer(msg.data, dtype=np.uint8)
    assert (msg.height, msg.width, msg.encoding) == (480, 640, "rgb8")
    expected = (np.arange(480 * 640 * 3) % 251).astype(np.uint8)
    np.testing.assert_array_equal(data, expected)
    assert msg.header.frame_id.startswith("frame_")


def test_domain_ids_up_to_232_are_accepted():
    from egsa_ros.ros.loopback import loopback_environment

    assert loopback_environment({"HOME": "/tmp"}, domain_id=232)["ROS_DOMAIN_ID"] == "232"
    with pytest.raises(ValueError, match="0..232"):
        loopback_environment({"HOME": "/tmp"}, domain_id=233)
