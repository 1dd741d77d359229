"""Where ROS 2 keeps its files on this machine, resolved from the environment as ROS 2 does."""

from __future__ import annotations

import os


def ros_home() -> str:
    """``$ROS_HOME``, else ``~/.ros``."""
    return os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")


def ros_log_dir() -> str:
    """Where ROS 2 writes its log files: ``$ROS_LOG_DIR``, else ``$ROS_HOME/log``, else ``~/.ros/log``."""
    return os.environ.get("ROS_LOG_DIR") or os.path.join(ros_home(), "log")
