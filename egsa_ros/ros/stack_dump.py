"""Every thread's Python stack on request: a running egsa_node writes them to a file on SIGUSR1.

For a node that does not stop when asked (SIGINT ignored, seen very rarely in tests: the process
never reached its bounded teardown, so the teardown guard could not say where it was), the one who
waits for it sends SIGUSR1 before killing it and reads the file
(``<ROS log dir>/egsa_node_<pid>_stacks.txt``; :func:`egsa_ros.ros.node_process.stop_node` does).
:mod:`faulthandler` writes the stacks from its C signal handler, so it works while a thread holds
the interpreter lock inside a C call. At a clean exit the file is removed unless it holds stacks.
Also usable by hand: ``kill -USR1 <pid>``.
"""

from __future__ import annotations

import faulthandler
import os
import signal
from typing import IO

from .ros_dirs import ros_log_dir

STACK_SIGNAL = getattr(signal, "SIGUSR1", None)
"""The signal that asks for the stacks (None where the platform has no SIGUSR1)."""


def stack_dump_path(pid: int, name: str = "egsa_node", stack_dir: str | None = None) -> str:
    """``<stack_dir or the ROS log dir>/<name>_<pid>_stacks.txt``: where process ``pid`` writes its
    stacks on :data:`STACK_SIGNAL`."""
    return os.path.join(stack_dir if stack_dir is not None else ros_log_dir(), f"{name}_{pid}_stacks.txt")


class StackDumpOnSignal:
    """Registered by :meth:`start`, unregistered (file removed if empty) by :meth:`close`."""

    def __init__(self, name: str = "egsa_node", stack_dir: str | None = None) -> None:
        self.name = name
        self.stack_dir = stack_dir if stack_dir is not None else ros_log_dir()
        self.path: str | None = None
        self._file: IO[str] | None = None

    def start(self) -> StackDumpOnSignal:
        """Register the handler; without a writable log directory (or SIGUSR1) it does nothing."""
        if STACK_SIGNAL is None:
            return self
        try:
            os.makedirs(self.stack_dir, exist_ok=True)
            self.path = stack_dump_path(os.getpid(), self.name, self.stack_dir)
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError:
            self.path, self._file = None, None
            return self
        faulthandler.register(STACK_SIGNAL, file=self._file, all_threads=True)
        return self

    def close(self) -> None:
        if self._file is None:
            return
        faulthandler.unregister(STACK_SIGNAL)
        self._file.close()
        self._file = None
        try:
            if os.path.getsize(self.path) == 0:
                os.remove(self.path)
        except OSError:
            pass
