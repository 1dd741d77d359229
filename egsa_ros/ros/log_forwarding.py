"""Forward the runtime's Python logging (``egsa_ros.*`` loggers) to a ROS node's logger.

The pipeline warns through the standard ``logging`` module (random weights, engine rebuilds,
graph builds for a new frame size); in a node those lines must reach the console and /rosout
like the node's own.
"""

from __future__ import annotations

import logging

PACKAGE_LOGGER = "egsa_ros"


class RosLogHandler(logging.Handler):
    """A logging handler that writes each record through ``ros_logger`` (an rclpy logger)."""

    def __init__(self, ros_logger) -> None:
        super().__init__(level=logging.INFO)
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"[{record.name}] {record.getMessage()}"
            if record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # a logging failure must never take the node down
            self.handleError(record)


def forward_package_logging(ros_logger) -> RosLogHandler:
    """Attach a :class:`RosLogHandler` to the ``egsa_ros`` logger (INFO and up, not propagated
    further, so lines are not printed twice); undo with :func:`stop_forwarding`."""
    handler = RosLogHandler(ros_logger)
    package = logging.getLogger(PACKAGE_LOGGER)
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    package.propagate = False
    return handler


def stop_forwarding(handler: RosLogHandler) -> None:
    package = logging.getLogger(PACKAGE_LOGGER)
    package.removeHandler(handler)
    if not package.handlers:
        package.propagate = True
