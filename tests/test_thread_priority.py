"""Inference threads at a lower CPU priority (egsa_ros.runtime.thread_priority), on real threads."""

from __future__ import annotations

import sys
import threading

import pytest

from egsa_ros.runtime.thread_priority import call_at_niceness, lower_this_thread, thread_niceness

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")


def test_threads_started_by_the_call_inherit_the_niceness_and_the_caller_keeps_its_own():
    before = thread_niceness()
    seen = {}

    def load():
        seen["loader"] = thread_niceness()
        child = threading.Thread(target=lambda: seen.__setitem__("pool", thread_niceness()))
        child.start()
        child.join()
        return "model"

    result, problem = call_at_niceness(load, max(before, 6))
    assert (result, problem) == ("model", None)
    assert seen == {"loader": max(before, 6), "pool": max(before, 6)}
    assert thread_niceness() == before


def test_niceness_zero_runs_on_the_calling_thread():
    caller = threading.get_native_id()
    assert call_at_niceness(threading.get_native_id, 0) == (caller, None)


def test_errors_from_the_call_reach_the_caller():
    def broken():
        raise FileNotFoundError("no checkpoint at /x")

    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        call_at_niceness(broken, 5)


def test_lower_this_thread_only_raises_niceness_and_checks_its_range():
    seen = {}

    def worker():
        seen["first"] = lower_this_thread(9)
        seen["after"] = thread_niceness()
        seen["second"] = lower_this_thread(3)  # lower than now: nothing to do, not an error
        seen["still"] = thread_niceness()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    start = thread_niceness()
    assert seen == {"first": None, "after": max(start, 9), "second": None, "still": max(start, 9)}
    for bad in (-1, 20):
        with pytest.raises(ValueError, match=r"niceness must be in \[0, 19\]"):
            lower_this_thread(bad)
