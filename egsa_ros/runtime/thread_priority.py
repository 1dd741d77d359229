"""Run inference at a lower CPU priority than the threads that move messages (Linux, ROS-free).

On a small robot computer the network's threads fill every core, so whatever wakes up next (the
middleware thread that receives a camera frame, the executor, a camera driver, a controller)
waits for a time slice. Raising the inference threads' niceness lets those preempt it at once;
the network still gets every cycle nobody else wants.

ONNX Runtime's and torch's worker threads inherit the niceness of the thread that creates them,
so the model is loaded on a helper thread that has lowered its own priority
(:func:`call_at_niceness`) and the thread that runs inference lowers its own
(:func:`lower_this_thread`). Niceness is per thread on Linux (``setpriority`` with a thread id);
an unprivileged thread can raise it but never lower it again, which is why a helper thread does
the loading and the caller keeps its own priority.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MAX_NICENESS = 19


def thread_niceness(thread_id: int | None = None) -> int:
    """Niceness of a thread of this process (default: the calling thread), -20..19."""
    return os.getpriority(os.PRIO_PROCESS, thread_id or threading.get_native_id())


def lower_this_thread(niceness: int) -> str | None:
    """Raise the calling thread's niceness to ``niceness`` (0..19; never lowers it).

    Returns None on success (or when nothing is to do), else one line saying why it could not.
    """
    if not 0 <= niceness <= MAX_NICENESS:
        raise ValueError(f"niceness must be in [0, {MAX_NICENESS}], got {niceness}")
    if niceness == 0:
        return None
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return "thread priorities are not supported on this platform"
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError as exc:
        return f"cannot set thread niceness {niceness}: {exc.strerror or exc}"
    return None


def call_at_niceness(fn: Callable[[], T], niceness: int) -> tuple[T, str | None]:
    """Call ``fn()`` on a helper thread whose niceness is ``niceness`` and wait for it.

    Threads that ``fn`` starts (ONNX Runtime's intra-op pool) keep that niceness; the calling
    thread's own priority is untouched. Exceptions from ``fn`` are re-raised here.
    Returns ``(fn's result, None)`` or ``(fn's result, why the priority could not be lowered)``.
    """
    if niceness == 0:
        return fn(), None
    box: dict[str, object] = {}

    def run() -> None:
        box["problem"] = lower_this_thread(niceness)
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    helper = threading.Thread(target=run, name="egsa_load", daemon=True)
    helper.start()
    helper.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"], box["problem"]  # type: ignore[return-value]
