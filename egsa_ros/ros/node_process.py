"""Start egsa_node as a separate process and stop it cleanly (for egsa-eval, benchmarks, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from .stack_dump import ON_SIGNAL, STACK_SIGNAL, STUCK_TEARDOWN, stack_file_path

STACK_WAIT_S = 2.0
"""Seconds :func:`stop_node` gives a node that did not stop to write its stacks before killing it."""


def start_node(
    namespace: str, params: dict[str, object], extra_args: Sequence[str] = (), domain_id: int | None = None
) -> subprocess.Popen:
    """``python -m egsa_ros.ros.node`` in ``namespace`` with ``-p name:=value`` for each param.

    The child inherits this process's environment (apply the loopback environment first), with
    ``ROS_DOMAIN_ID`` replaced by ``domain_id`` when given. stdout and stderr are captured
    together; read them with :func:`stop_node`.
    """
    cmd = [sys.executable, "-m", "egsa_ros.ros.node", "--ros-args", "-r", f"__ns:={namespace}"]
    for name, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        cmd += ["-p", f"{name}:={text}"]
    env = dict(os.environ)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    return subprocess.Popen(cmd + list(extra_args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop_node(proc: subprocess.Popen, timeout_s: float = 30.0, then: Callable[[], object] | None = None) -> str:
    """SIGINT (the node shuts down in order), kill after ``timeout_s``; returns its output.

    ``then`` (the caller's own ROS participant's teardown) runs once the node has gone, whatever
    happened: a node and a peer leaving at the same moment can deadlock Fast DDS in the node's
    teardown. Give ``timeout_s`` more than the node's own teardown bound (20 s, ``teardown_guard``):
    a node stuck in its teardown then ends itself and leaves its threads' stacks in the ROS log dir,
    which this appends to the output (the node's environment is taken to be this process's). A node
    that has not even begun its teardown by then is asked for its stacks (SIGUSR1,
    :mod:`.stack_dump`) before it is killed; they are appended too.
    """
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out = proc.communicate(timeout=timeout_s)[0]
        except subprocess.TimeoutExpired:
            if STACK_SIGNAL is not None:
                proc.send_signal(STACK_SIGNAL)
                time.sleep(STACK_WAIT_S)  # faulthandler writes them at once, from its C handler
            proc.kill()
            out = proc.communicate()[0]
    finally:
        if then is not None:
            then()
    text = out.decode(errors="replace")
    for kind, what in (
        (STUCK_TEARDOWN, "stacks of the stuck teardown"),
        (ON_SIGNAL, "stacks the node wrote on SIGUSR1 (asked for when it had not stopped)"),
    ):
        path = stack_file_path(proc.pid, kind)
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                text += f"\n[{what}, {path}]\n" + f.read()
    return text
