"""egsa_node's lifecycle, parameter files and diagnostics, driven from this (client) process
through the node's real services (change_state, get_state, get/set/describe_parameters)."""

from __future__ import annotations

import glob
import os
import re
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 wheels (ros-kilted-rclpy) not installed")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from egsa_ros.data.generated import tabletop_frame  # noqa: E402
from egsa_ros.ros.node_process import start_node, stop_node  # noqa: E402

H, W = 96, 128
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def niceness_by_thread(pid: int) -> dict[int, int]:
    """{thread id: niceness} of a running process (Linux /proc; field 19 of each task's stat)."""
    from pathlib import Path

    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        out[int(task.name)] = int(stat[stat.rindex(")") + 2 :].split()[16])
    return out


class Client:
    """The test's rclpy node: calls egsa_node's services, publishes images, records outputs."""

    def __init__(self, ns: str, proc):
        rclpy.init()
        self.ns, self.proc = ns, proc
        self.node = rclpy.create_node("egsa_lifecycle_client")
        self.depth, self.diag = [], []
        self.node.create_subscription(Image, f"{ns}/depth/image", self.depth.append, RELIABLE)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        self.pub = self.node.create_publisher(Image, f"{ns}/image", RELIABLE)

    def call(self, srv_type, service: str, request, timeout: float = 60.0):
        client = self.node.create_client(srv_type, f"{self.ns}/egsa_node/{service}")
        assert client.wait_for_service(timeout_sec=60), f"{service} never appeared"
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
        assert future.done(), f"{service} did not answer"
        return future.result()

    def state(self) -> int:
        return self.call(GetState, "get_state", GetState.Request()).current_state.id

    def change(self, transition_id: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return self.call(ChangeState, "change_state", request, timeout=120).success

    def set(self, name: str, value):
        kinds = {
            bool: ("PARAMETER_BOOL", "bool_value"),
            int: ("PARAMETER_INTEGER", "integer_value"),
            float: ("PARAMETER_DOUBLE", "double_value"),
            str: ("PARAMETER_STRING", "string_value"),
        }
        kind, field = kinds[type(value)]
        pv = ParameterValue(type=getattr(ParameterType, kind), **{field: value})
        result = self.call(
            SetParameters, "set_parameters", SetParameters.Request(parameters=[Parameter(name=name, value=pv)])
        ).results[0]
        return result.successful, result.reason

    def spin(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition() and self.proc.poll() is None:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def send(self, stamp_s: float) -> None:
        msg = Image(height=H, width=W, encoding="rgb8", step=W * 3)
        msg.header.stamp.sec = int(stamp_s)
        msg.header.frame_id = "lifecycle_test_camera"
        msg.data = tabletop_frame(int(stamp_s), H, W).tobytes()
        self.pub.publish(msg)

    def answered(self, stamp_s: float, timeout: float) -> bool:
        for _ in range(int(timeout / 0.5)):
            self.send(stamp_s)
            if self.spin(lambda: any(m.header.stamp.sec == int(stamp_s) for m in self.depth), 0.5):
                return True
        return False

    def last_status(self):
        for array in reversed(self.diag):
            for status in array.status:
                if status.name == f"{self.ns}/egsa_node: inference":
                    return status
        return None

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown()


@pytest.mark.ros
@pytest.mark.slow
def test_lifecycle_transitions_through_the_services_and_stale_diagnostics(ros_domain):
    ns = "/egsa_lifecycle"
    base_nice = os.getpriority(os.PRIO_PROCESS, 0)  # the node inherits it (CI may run niced)
    assert base_nice < 19, "this test needs a process niceness below 19"
    inference_nice = min(19, base_nice + 5)
    proc = start_node(
        ns,
        {
            "autostart": False,
            "model": "/nonexistent/model_dir",
            "backend": "onnxruntime",
            "expected_frame_size": f"{H}x{W}",
            "diagnostics_period_s": 0.3,
            "stale_timeout_s": 1.0,
            "threads": 2,
            "inference_nice": inference_nice,
        },
    )
    client = Client(ns, proc)
    try:
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert not client.change(Transition.TRANSITION_CONFIGURE)  # the model does not exist: FAILURE
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert client.set("model", "tiny") == (True, "")  # start-up parameters: while unconfigured
        assert client.change(Transition.TRANSITION_CONFIGURE)
        assert client.state() == State.PRIMARY_STATE_INACTIVE
        ok, reason = client.set("threads", 3)
        assert not ok and "applied at configure" in reason
        assert not client.answered(1.0, timeout=1.5)  # inactive: no subscriptions, no output

        assert client.change(Transition.TRANSITION_ACTIVATE)
        assert client.state() == State.PRIMARY_STATE_ACTIVE
        assert client.spin(lambda: (s := client.last_status()) is not None and s.level == DiagnosticStatus.STALE, 10)
        assert "no image" in client.last_status().message
        assert client.answered(2.0, timeout=30), "no depth while active"
        assert client.spin(lambda: client.last_status().level == DiagnosticStatus.OK, 10), client.last_status()
        status = client.last_status()
        assert status.hardware_id == "lifecycle_test_camera"
        assert {kv.key for kv in status.values} >= {"input_rate_hz", "output_rate_hz", "window_s", "frames_in"}
        # inference_nice: the worker and ONNX Runtime's pool thread yield; the rest keep priority 0
        nice = niceness_by_thread(proc.pid)
        assert nice[proc.pid] == base_nice and sum(n == inference_nice for n in nice.values()) >= 2, nice
        assert sum(n == base_nice for n in nice.values()) >= 2, nice  # main + the middleware's threads

        assert client.change(Transition.TRANSITION_DEACTIVATE)
        assert client.state() == State.PRIMARY_STATE_INACTIVE
        count = len(client.depth)
        assert not client.answered(3.0, timeout=1.5) and len(client.depth) == count
        assert client.change(Transition.TRANSITION_CLEANUP)
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert client.set("threads", 3) == (True, "")
    finally:
        out = stop_node(proc, timeout_s=30, then=client.close)
    assert proc.returncode == 0, out[-3000:]
    assert "configure failed: cannot load the model" in out and "Traceback" not in out, out[-3000:]
    # the runtime's Python logging reaches the node's logger (and so /rosout)
    assert re.search(r"\[INFO\] \[[\d.]+\] \[egsa_lifecycle\.egsa_node\]: \[egsa_ros\.pipeline\]", out), out[-3000:]


@pytest.mark.ros
def test_params_file_applies_under_a_namespace_with_integers_for_floats(ros_domain, tmp_path):
    """launch/egsa.params.yaml (keyed /**) loaded through rcl for a node in a namespace: the
    values come back over the parameter service, an integer given for a float as a double."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "launch" / "egsa.params.yaml").read_text()
    text = re.sub(r"(?m)^    max_rate_hz: .*$", "    max_rate_hz: 12", text)
    text = re.sub(r"(?m)^    points_stride: .*$", "    points_stride: 3", text)
    params = tmp_path / "egsa.params.yaml"
    params.write_text(text)
    ns = "/egsa_params_ns"
    proc = start_node(ns, {"autostart": False}, ["--params-file", str(params)])
    client = Client(ns, proc)
    try:
        values = client.call(
            GetParameters, "get_parameters", GetParameters.Request(names=["max_rate_hz", "points_stride", "backend"])
        ).values
        assert values[0].type == ParameterType.PARAMETER_DOUBLE and values[0].double_value == 12.0
        assert values[1].integer_value == 3 and values[2].string_value == "auto"
        (described,) = client.call(
            DescribeParameters, "describe_parameters", DescribeParameters.Request(names=["max_rate_hz"])
        ).descriptors
        (span,) = described.floating_point_range
        assert (span.from_value, span.to_value) == (0.0, 1000.0) and described.dynamic_typing
    finally:
        out = stop_node(proc, timeout_s=30, then=client.close)
    assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]


def test_a_frame_failing_because_ros_is_stopping_ends_the_worker_without_an_error(ros_domain, capfd):
    """A frame that fails while ROS runs is counted and logged, and the worker goes on; one that
    fails because the context was shut down (a signal mid-frame: its publish cannot succeed) ends
    the worker without an error line (seen on Jazzy at shutdown)."""
    import threading  # noqa: PLC0415

    from egsa_ros.ros.frame_slot import LatestFrameSlot  # noqa: PLC0415
    from egsa_ros.ros.node import EGSANode  # noqa: PLC0415

    context = rclpy.Context()
    rclpy.init(context=context)
    node = EGSANode(context=context)

    def publish_fails(*_args, **_kwargs):
        raise RuntimeError("publisher's context is invalid")

    node._process = publish_fails
    try:
        slot = LatestFrameSlot()
        slot.put((None, b"frame 1"))
        worker = threading.Thread(target=node._work, args=(slot,))
        worker.start()
        deadline = time.monotonic() + 10
        while node.stats.snapshot().get("errors", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker.is_alive(), "a failed frame must not stop the worker while ROS runs"
        slot.close()
        worker.join(5)
        assert node.stats.snapshot().get("errors", 0) == 1
        assert "frame failed: RuntimeError: publisher's context is invalid" in capfd.readouterr().err

        context.shutdown()
        slot = LatestFrameSlot()
        slot.put((None, b"frame 2"))
        worker = threading.Thread(target=node._work, args=(slot,))
        worker.start()
        worker.join(5)
        assert not worker.is_alive() and not slot.closed, "the worker stops by itself once ROS stops"
        assert node.stats.snapshot().get("errors", 0) == 1
        assert "frame failed" not in capfd.readouterr().err
    finally:
        node.destroy_node()
        context.try_shutdown()


def _fast_dds_threads() -> int:
    """Threads of this process that Fast DDS started (named ``dds.*``): a participant runs ~8-11."""
    names = glob.glob("/proc/self/task/*/comm")
    count = 0
    for name in names:
        try:
            with open(name, encoding="utf-8") as stream:
                count += stream.read().startswith("dds.")
        except OSError:  # the thread ended between listing and reading
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc (Linux)")
def test_destroying_the_node_destroys_its_dds_participant(ros_domain):
    """rclpy's LifecycleNode.destroy_node leaves its state machine holding the rcl node, so the
    DDS participant outlived the node until interpreter exit, where a Fast DDS deadlock once hung
    the process. EGSANode.destroy_node takes the participant down with the node."""
    from egsa_ros.ros.node import EGSANode  # noqa: PLC0415

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        # The baseline: a plain node's participant comes and goes (Fast DDS keeps a process-wide
        # thread or two once it has run).
        rclpy.create_node("egsa_baseline", context=context).destroy_node()
        baseline = _fast_dds_threads()
        node = EGSANode(context=context)
        assert _fast_dds_threads() > baseline, "a participant runs threads of its own"
        node.destroy_node()
        assert _fast_dds_threads() == baseline
    finally:
        context.try_shutdown()
