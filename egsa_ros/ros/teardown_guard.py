"""A bound on a process's teardown: the process exits even if its teardown never returns.

egsa_node's teardown (worker, node, executor, ROS context) is ordered and normally takes well
under a second; its own steps are bounded (the worker join times out). What is not bounded is the
middleware underneath: very rarely, destroying the DDS participant deadlocks inside Fast DDS
(seen: the participant's destruction waiting on a discovery callback that waits on the
participant, when other participants leave at the same moment). A node that cannot start, or was
asked to stop, must still exit, so that a launch file's respawn or a supervisor sees it go.

Two layers, because a call stuck in C may hold Python's interpreter lock:
- after ``limit_s``, a Python timer thread prints one line and ends the process with the code the
  teardown would have returned (works whenever the lock is free);
- ``C_GRACE_S`` later, :mod:`faulthandler`'s C watchdog, which needs no lock, writes every
  thread's Python stack to ``<ROS log dir>/egsa_node_<pid>_stuck_teardown.txt`` and ends the
  process with exit code 1 (the file, empty, is removed when the teardown finishes in time).
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
from typing import IO

from .ros_dirs import ros_log_dir
from .stack_dump import STUCK_TEARDOWN, open_stack_file

TEARDOWN_LIMIT_S = 15.0
"""Seconds a teardown may take before the guard ends the process (the worker join alone may
take 10 s when an inference is in flight)."""

C_GRACE_S = 5.0
"""Seconds after ``limit_s`` at which the lock-free C watchdog ends the process."""


class TeardownGuard:
    """Armed by :meth:`start`, disarmed by :meth:`cancel` (see the module docstring). When it fires,
    no further cleanup runs: that is the point, the cleanup is what is stuck."""

    def __init__(
        self, code: int, limit_s: float = TEARDOWN_LIMIT_S, name: str = "egsa_node", stack_dir: str | None = None
    ) -> None:
        if limit_s <= 0:
            raise ValueError(f"limit_s must be > 0, got {limit_s}")
        self.code, self.limit_s, self.name = code, limit_s, name
        self.stack_dir = stack_dir if stack_dir is not None else ros_log_dir()
        self.stack_path: str | None = None
        self._stack_file: IO[str] | None = None
        self._timer = threading.Timer(limit_s, self._expire)
        self._timer.daemon = True

    def start(self) -> TeardownGuard:
        self._timer.start()
        # Without a writable log directory the C watchdog writes to stderr instead.
        self.stack_path, self._stack_file = open_stack_file(STUCK_TEARDOWN, self.name, self.stack_dir)
        faulthandler.dump_traceback_later(
            self.limit_s + C_GRACE_S, exit=True, file=self._stack_file if self._stack_file is not None else sys.stderr
        )
        return self

    def cancel(self) -> None:
        self._timer.cancel()
        faulthandler.cancel_dump_traceback_later()
        if self._stack_file is not None:
            self._stack_file.close()
            self._stack_file = None
            try:
                os.remove(self.stack_path)
            except OSError:
                pass

    def _expire(self) -> None:
        try:
            sys.stderr.write(
                f"[WARN] [{self.name}]: shutdown still running after {self.limit_s:g} s "
                f"(stuck in the ROS 2 middleware); exiting with code {self.code}\n"
            )
            sys.stderr.flush()
        finally:
            os._exit(self.code)
