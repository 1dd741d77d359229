"""Live replay: the bag played into a ROS 2 graph, egsa_node as a separate process, outputs recorded.

Everything stays on loopback in a private ROS domain: the graph exists only for the
evaluation. End-to-end latency = the time an output arrives here minus the stamp the
player gave its input (both this machine's system clock).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..model.config import get_preset
from ..ros.loopback import loopback_environment
from ..ros.node_process import start_node, stop_node
from ..viz import panel
from .accumulate import EvalAccumulator
from .bag_frames import EvalTopics, read_bag_frames
from .report import write_report

NS = "/egsa_eval"
DEFAULT_DOMAIN = 77
DEFAULT_TOPICS = EvalTopics()


def evaluate_live(
    bag: Path,
    out_dir: Path,
    *,
    topics: EvalTopics = DEFAULT_TOPICS,
    model: str | None = None,
    backend: str = "auto",
    threads: int = 2,
    flip_average: bool = False,
    mask_input_size: tuple[int, int] | None = None,
    canonical_view: bool = True,
    sensor_veto: bool = True,
    rate: float = 1.0,
    panels: int = 4,
    limit: int | None = None,
    progress: bool = True,
    startup_timeout_s: float = 120.0,
) -> dict:
    """Play ``bag`` into egsa_node (a subprocess) and evaluate what it publishes."""
    loopback_environment(os.environ, domain_id=int(os.environ.get("EGSA_EVAL_DOMAIN", DEFAULT_DOMAIN)))
    frames = list(read_bag_frames(bag, topics, limit=limit, keep_raw=True))
    if not frames:
        raise ValueError(f"no frames in {bag}")
    has_sensor = any(f.sensor_depth is not None for f in frames)
    height, width = frames[0].rgb.shape[:2]
    params = {
        "backend": backend,
        "threads": threads,
        "use_sensor_depth": has_sensor,
        "input_reliability": "reliable",
        "qos_depth": 1,
        "expected_frame_size": f"{height}x{width}",
        "flip_average": bool(flip_average),
        "canonical_view": bool(canonical_view),
        "geometry_sensor_veto": bool(sensor_veto),
    }
    if mask_input_size:
        params["mask_input_size"] = "{}x{}".format(*mask_input_size)
    if model:
        params["model"] = model
    node_proc = start_node(NS, params)
    try:
        recorded, played, node_name = _run_graph(frames, topics, rate, node_proc, progress, startup_timeout_s)
    finally:
        node_log = stop_node(node_proc)
    (Path(out_dir)).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "egsa_node.log").write_text(node_log)
    return _evaluate(frames, recorded, played, bag, out_dir, panels, model, node_name)


def _run_graph(frames, topics: EvalTopics, rate: float, node_proc, progress: bool, startup_timeout_s: float):
    # ROS only in live mode: egsa-eval --offline works where no ROS 2 wheels are installed.
    import rclpy  # noqa: PLC0415
    from diagnostic_msgs.msg import DiagnosticArray  # noqa: PLC0415
    from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: PLC0415
    from sensor_msgs.msg import Image  # noqa: PLC0415

    from ..ros.bag_player import BagPlayer  # noqa: PLC0415

    rclpy.init()
    node = rclpy.create_node("egsa_eval_player")
    recorded: dict[str, dict[int, tuple]] = {"depth": {}, "mask": {}, "depth_completed": {}}
    diag: list = []

    def recorder(name):
        def on_msg(msg):
            stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
            recorded[name][stamp] = (node.get_clock().now().nanoseconds, msg)

        return on_msg

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    for name in recorded:
        node.create_subscription(Image, f"{NS}/{name}/image", recorder(name), qos)
    node.create_subscription(DiagnosticArray, "/diagnostics", diag.append, 10)
    remap = {
        topics.image: f"{NS}/image",
        topics.camera_info: f"{NS}/camera_info",
        topics.sensor_depth: f"{NS}/sensor_depth",
    }
    raw_frames = [(f.stamp_ns, {t: v for t, v in f.raw.items() if t in remap}) for f in frames]
    player = BagPlayer(node, raw_frames, remap, rate=rate)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while time.monotonic() < deadline and not (diag and player.subscribers_ready(topics.image)):
            rclpy.spin_once(node, timeout_sec=0.1)
            if node_proc.poll() is not None:
                raise RuntimeError("egsa_node exited during start-up:\n" + node_proc.stdout.read().decode()[-3000:])
        if not diag:
            raise RuntimeError(f"egsa_node did not come up within {startup_timeout_s:.0f} s")
        node_name = _diag_value(diag, "backend")
        start = time.monotonic()
        played = []
        for i, due in enumerate(tqdm(player.due_times(), desc="egsa-eval live", unit="frame", disable=not progress)):
            while time.monotonic() - start < due:
                rclpy.spin_once(node, timeout_sec=min(0.005, max(0.0, due - (time.monotonic() - start))))
            played.append(player.send(i))
        quiet_since, seen = time.monotonic(), 0  # let the last outputs arrive: stop after 3 s without one
        while time.monotonic() - quiet_since < 3.0 and len(recorded["depth"]) < len(played):
            rclpy.spin_once(node, timeout_sec=0.05)
            if len(recorded["depth"]) != seen:
                quiet_since, seen = time.monotonic(), len(recorded["depth"])
        return recorded, {stamp: player.stamp_map[stamp] for stamp in played}, node_name
    finally:
        node.destroy_node()
        rclpy.shutdown()


def _diag_value(diag, key: str) -> str:
    for array in reversed(diag):
        for status in array.status:
            for kv in status.values:
                if kv.key == key:
                    return kv.value
    return ""


def _evaluate(frames, recorded, played, bag, out_dir, panels, model, backend) -> dict:
    from ..ros.conversions import depth_from_msg  # noqa: PLC0415 - sensor_msgs: live mode only

    by_stamp = {f.stamp_ns: f for f in frames}
    acc = EvalAccumulator()
    images, latencies = [], []
    cfg = get_preset("default_small")  # display range only
    for new_stamp, old_stamp in played.items():
        if new_stamp not in recorded["depth"]:
            continue
        received_ns, depth_msg = recorded["depth"][new_stamp]
        frame = by_stamp[old_stamp]
        depth = depth_from_msg(depth_msg)
        mask_entry = recorded["mask"].get(new_stamp)
        mask = (
            (np.frombuffer(mask_entry[1].data, np.uint8).reshape(depth.shape) > 0).astype(np.uint8)
            if mask_entry
            else np.zeros(depth.shape, np.uint8)
        )
        completed_entry = recorded["depth_completed"].get(new_stamp)
        completed = depth_from_msg(completed_entry[1]) if completed_entry else None
        latency = (received_ns - new_stamp) / 1e6
        latencies.append(latency)
        acc.add(
            depth,
            mask,
            frame.gt_depth,
            frame.gt_mask,
            latency_ms=latency,
            completed=completed,
            sensor=frame.sensor_depth,
        )
        if len(images) < panels:
            images.append(panel(frame.rgb, depth, mask, cfg.d_min, cfg.d_max, frame.gt_depth))
    result = dict(
        acc.result(),
        mode="live",
        bag=str(bag),
        model=model or "bundled default",
        backend=backend,
        frames_played=len(played),
        dropped_frames=len(played) - acc.frames,
    )
    result["report"] = str(write_report(out_dir, result, images, {"end-to-end latency": latencies}))
    return result
