"""The teardown guard ends a process whose teardown is stuck: with the intended exit code and one
line when the interpreter lock is free, through the C watchdog (exit 1, the stacks in a file) when
a C call holds it; disarmed in time, it does nothing and leaves no file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from egsa_ros.ros.ros_dirs import ros_log_dir
from egsa_ros.ros.teardown_guard import C_GRACE_S, TeardownGuard

STUCK_IN_PYTHON = """
import time
from egsa_ros.ros.teardown_guard import TeardownGuard
TeardownGuard({code}, limit_s=0.5, stack_dir={dir!r}).start()
time.sleep(60)  # a teardown that never returns (the interpreter lock is free while it sleeps)
"""

STUCK_IN_C_HOLDING_THE_LOCK = """
import ctypes
from egsa_ros.ros.teardown_guard import TeardownGuard
TeardownGuard(2, limit_s=0.5, stack_dir={dir!r}).start()
ctypes.PyDLL(None).sleep(60)  # libc sleep called WITHOUT releasing the interpreter lock
"""

DISARMED = """
import sys, time
from egsa_ros.ros.teardown_guard import TeardownGuard
guard = TeardownGuard(5, limit_s=0.5, stack_dir={dir!r}).start()
guard.cancel()
time.sleep(0.5 + {grace} + 1.0)  # past both limits: neither layer may fire
print("finished")
sys.exit(0)
"""


def _run(code: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    return done, time.monotonic() - start


@pytest.mark.parametrize("exit_code", [0, 2])
def test_a_teardown_stuck_in_python_ends_with_the_intended_code_and_one_line(exit_code, tmp_path):
    done, took = _run(STUCK_IN_PYTHON.format(code=exit_code, dir=str(tmp_path)))
    assert done.returncode == exit_code, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("[WARN] [egsa_node]: shutdown still running after 0.5 s"), lines
    assert f"exiting with code {exit_code}" in lines[0]
    assert took < 30.0  # well before the 60 s sleep ended (the interpreter's start included)


def test_a_teardown_stuck_in_c_holding_the_interpreter_lock_still_ends(tmp_path):
    done, took = _run(STUCK_IN_C_HOLDING_THE_LOCK.format(dir=str(tmp_path)))
    assert done.returncode == 1, done  # faulthandler's watchdog: the Python layer could not run
    assert "shutdown still running" not in done.stderr
    [stack_file] = list(tmp_path.glob("egsa_node_*_stuck_teardown.txt"))
    stacks = stack_file.read_text()
    assert stacks.startswith("Timeout (") and 'File "<string>", line 5' in stacks, stacks[:500]  # the stuck line
    assert took < 30.0


def test_a_guard_cancelled_in_time_does_nothing_and_leaves_no_file(tmp_path):
    done, _ = _run(DISARMED.format(dir=str(tmp_path), grace=C_GRACE_S))
    assert done.returncode == 0 and done.stdout.strip() == "finished" and done.stderr.strip() == "", done
    assert list(tmp_path.iterdir()) == []


def test_a_limit_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="limit_s must be > 0"):
        TeardownGuard(2, limit_s=0)


def test_the_stack_file_goes_where_ros_writes_its_logs(monkeypatch, tmp_path):
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "logs"))
    assert ros_log_dir() == str(tmp_path / "logs")
    monkeypatch.delenv("ROS_LOG_DIR")
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "home"))
    assert ros_log_dir() == str(tmp_path / "home" / "log")


def test_stop_node_appends_the_stacks_a_stuck_teardown_left(tmp_path, monkeypatch):
    from egsa_ros.ros.node_process import stop_node

    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", "print('bye')"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.wait(10)
    (tmp_path / f"egsa_node_{proc.pid}_stuck_teardown.txt").write_text('File "x.py", line 3 in teardown\n')
    (tmp_path / "egsa_node_1_stuck_teardown.txt").write_text("another process's stacks\n")
    out = stop_node(proc, timeout_s=5)
    assert out.startswith("bye") and "line 3 in teardown" in out and "another process" not in out
    other = subprocess.Popen([sys.executable, "-c", "print('fine')"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    other.wait(10)  # (a SIGINT while Python starts would leave no output)
    assert stop_node(other, timeout_s=10).strip() == "fine"


def test_stop_node_asks_a_node_that_ignores_sigint_for_its_stacks(tmp_path, monkeypatch):
    """A process stuck before its teardown (SIGINT has no effect) writes every thread's stack on
    SIGUSR1 (egsa_ros.ros.stack_dump, as egsa_node registers it); stop_node appends them."""
    from egsa_ros.ros.node_process import stop_node
    from egsa_ros.ros.stack_dump import ON_SIGNAL, STACK_SIGNAL, StackDumpOnSignal, stack_file_path

    if STACK_SIGNAL is None:
        pytest.skip("no SIGUSR1 on this platform")
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path))
    child = (
        "import signal, sys, time\n"
        "from egsa_ros.ros.stack_dump import StackDumpOnSignal\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "StackDumpOnSignal().start()\n"
        "def stuck_in_the_middleware():\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "stuck_in_the_middleware()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout.readline().strip() == b"ready"
    out = stop_node(proc, timeout_s=1.0)
    assert proc.returncode == -9
    assert "wrote on SIGUSR1" in out and "stuck_in_the_middleware" in out, out
    # A clean close removes the empty file; one that holds stacks stays.
    dump = StackDumpOnSignal(stack_dir=str(tmp_path)).start()
    path = stack_file_path(os.getpid(), ON_SIGNAL, stack_dir=str(tmp_path))
    assert dump.path == path and os.path.isfile(path)
    dump.close()
    assert not os.path.exists(path)
