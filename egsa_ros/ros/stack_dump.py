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

ON_SIGNAL = "stacks"
"""Kind of the stack file written on :data:`STACK_SIGNAL` (this module)."""
STUCK_TEARDOWN = "stuck_teardown"
"""Kind of the stack file the teardown guard's C watchdog writes (:mod:`.teardown_guard`)."""


def stack_file_path(pid: int, kind: str, name: str = "egsa_node", stack_dir: str | None = None) -> str:
    """``<stack_dir or the ROS log dir>/<name>_<pid>_<kind>.txt``: where process ``pid`` writes its
    threads' stacks of ``kind`` (:data:`ON_SIGNAL`, :data:`STUCK_TEARDOWN`)."""
    return os.path.join(stack_dir if stack_dir is not None else ros_log_dir(), f"{name}_{pid}_{kind}.txt")


def open_stack_file(kind: str, name: str, stack_dir: str) -> tuple[str | None, IO[str] | None]:
    """This process's stack file of ``kind`` in ``stack_dir`` (made if missing), opened for writing:
    ``(path, file)``, or ``(None, None)`` when the directory is not writable."""
    try:
        os.makedirs(stack_dir, exist_ok=True)
        path = stack_file_path(os.getpid(), kind, name, stack_dir)
        return path, open(path, "w", encoding="utf-8")  # noqa: SIM115 - the caller closes it
    except OSError:
        return None, None


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
        self.path, self._file = open_stack_file(ON_SIGNAL, self.name, self.stack_dir)
        if self._file is None:
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
