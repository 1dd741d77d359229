"""Keep ROS 2 (Fast DDS) traffic on 127.0.0.1.

DDS discovery multicasts on every interface by default. Every process of ours that starts
rclpy on a build, test or demo machine calls :func:`apply_loopback_environment` first (the
test suite does it in ``tests/conftest.py``).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

#: Largest domain id whose RTPS ports (7400 + 250 x id + offsets) stay below 65536 (the ROS 2 limit).
MAX_DOMAIN_ID = 232
#: The Fast DDS profile that limits UDP to 127.0.0.1 and enlarges the SHM segment.
FASTDDS_PROFILE = Path(__file__).with_name("fastdds_loopback.xml")


def loopback_environment(
    env: MutableMapping[str, str] | None = None, *, domain_id: int | None = None
) -> MutableMapping[str, str]:
    """Set the loopback-only ROS variables in ``env`` (default: ``os.environ``) and return it.

    Sets ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, ``FASTDDS_DEFAULT_PROFILES_FILE``,
    ``RMW_IMPLEMENTATION=rmw_fastrtps_cpp``, ``ROS_HOME`` (rcutils needs HOME or ROS_HOME),
    and ``ROS_DOMAIN_ID`` when ``domain_id`` is given. ``ROS_LOCALHOST_ONLY`` is removed: it is
    deprecated and ignored on Kilted.
    """
    env = os.environ if env is None else env
    if not FASTDDS_PROFILE.is_file():
        raise FileNotFoundError(f"Fast DDS loopback profile missing: {FASTDDS_PROFILE}")
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    env["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    env.pop("ROS_LOCALHOST_ONLY", None)
    env.pop("ROS_STATIC_PEERS", None)
    if not env.get("ROS_HOME"):
        env["ROS_HOME"] = str(Path(env.get("HOME") or "/tmp") / ".ros")
    if domain_id is not None:
        if not 0 <= int(domain_id) <= MAX_DOMAIN_ID:
            raise ValueError(f"ROS_DOMAIN_ID must be 0..{MAX_DOMAIN_ID} for Fast DDS, got {domain_id}")
        env["ROS_DOMAIN_ID"] = str(int(domain_id))
    return env
