"""``egsa_node``: camera images in; metric depth, glass mask, completed depth and points out.

Topics (relative, remap them): sub ``image`` (or ``image/compressed``), ``camera_info``,
optional ``sensor_depth``; pub ``depth`` (32FC1 m, NaN unknown), ``mask`` (mono8, 255 =
transparent), ``depth_completed``, ``transparent_points`` (PointCloud2, optical frame) and
``/diagnostics``. Every output carries the input image's header. With ``scale_from_table``
the depth (and everything made from it) is rescaled so the table lies at the camera's known
height below it: fixed parameters for a fixed camera, or, with ``camera_pose_source: topic``, a
``camera_pose`` (geometry_msgs/PoseStamped) paired with each image by stamp for a moving one
(the last factor is in the diagnostics).

Threads: the subscription callbacks only store the newest message (latest-frame slot);
one worker thread decodes, runs the pipeline and publishes, so callbacks never block and
lag never builds up. The pipeline (``egsa_ros.runtime``) never sees a message; this node
never sees a tensor.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped  # comes with sensor_msgs, whose messages use it
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from ..data.image_encodings import ImageDecodeError
from .conversions import depth_from_msg, depth_msg, mask_msg, points_msg, rgb_from_msg, stamp_ns
from .frame_slot import LatestFrameSlot
from .node_params import PARAMS, check_value, parse_frame_size
from .node_stats import NodeStats

THROTTLE_S = 5.0


class EGSANode(Node):
    """The EGSA inference node (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("egsa_node", **kwargs)
        for spec in PARAMS:
            self.declare_parameter(spec.name, spec.default, ParameterDescriptor(
                description=spec.description, read_only=not spec.dynamic))
        self.p = {spec.name: self.get_parameter(spec.name).value for spec in PARAMS}
        problems = [f"{n}: {e}" for n, v in self.p.items() if (e := check_value(n, v))]
        if problems:
            raise ValueError("invalid egsa_node parameters:\n  " + "\n  ".join(problems))
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.stats = NodeStats()
        self.pipeline = self._load_pipeline()
        self.camera_info: Optional[CameraInfo] = None
        self.sensor_depths: deque = deque(maxlen=10)
        self.camera_poses: deque = deque(maxlen=100)
        self.slot = LatestFrameSlot()
        self.last_processed = 0.0

        out_qos = self._qos(self.p["output_reliability"])
        self.pub_depth = self.create_publisher(Image, "depth", out_qos)
        self.pub_mask = self.create_publisher(Image, "mask", out_qos)
        self.pub_completed = self.create_publisher(Image, "depth_completed", out_qos)
        self.pub_points = self.create_publisher(PointCloud2, "transparent_points", out_qos)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        in_qos = self._qos(self.p["input_reliability"])
        if self.p["compressed_input"]:
            self.create_subscription(CompressedImage, "image/compressed", self._on_image, in_qos)
        else:
            self.create_subscription(Image, "image", self._on_image, in_qos)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, in_qos)
        if self.p["use_sensor_depth"]:
            depth_qos = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                                   reliability=self._reliability(self.p["input_reliability"]))
            self.create_subscription(Image, "sensor_depth", self._on_sensor_depth, depth_qos)
        if self.p["camera_pose_source"] == "topic":
            self.create_subscription(PoseStamped, "camera_pose", self._on_camera_pose,
                                     QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                                                reliability=self._reliability(self.p["input_reliability"])))
        self.create_timer(self.p["diagnostics_period_s"], self._publish_diagnostics)

        self.worker = threading.Thread(target=self._work, name="egsa_inference", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"ready: model {self.pipeline.model_name}, backend {self.pipeline.backend_name} "
            f"(providers {self.pipeline.backend.providers})")

    # ------------------------------------------------------------------ setup
    def _load_pipeline(self):
        from ..runtime.pipeline import load_pipeline

        model = self.p["model"] or None
        engine = self.p["engine"] or None
        if self.p["backend"] == "tensorrt" and not engine:
            raise ValueError("backend 'tensorrt' needs the 'engine' parameter (a .engine built by build_engine.py)")
        return load_pipeline(model, backend=self.p["backend"], threads=self.p["threads"], engine=engine,
                             frame_size=parse_frame_size(self.p["expected_frame_size"]),
                             flip_average=True if self.p["flip_average"] else None,
                             mask_input_size=parse_frame_size(self.p["mask_input_size"]))

    @staticmethod
    def _reliability(name: str) -> ReliabilityPolicy:
        return ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT

    def _qos(self, reliability: str) -> QoSProfile:
        return QoSProfile(depth=self.p["qos_depth"], history=HistoryPolicy.KEEP_LAST,
                          reliability=self._reliability(reliability))

    def _on_set_parameters(self, params) -> SetParametersResult:
        for param in params:
            error = check_value(param.name, param.value)
            if error:
                return SetParametersResult(successful=False, reason=f"{param.name}: {error}")
        for param in params:
            self.p[param.name] = param.value
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ callbacks (never block)
    def _on_image(self, msg) -> None:
        self.stats.count("frames_in")
        self.slot.put(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_sensor_depth(self, msg: Image) -> None:
        self.sensor_depths.append(msg)

    def _on_camera_pose(self, msg: PoseStamped) -> None:
        self.camera_poses.append(msg)

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            msg = self.slot.take(timeout=0.5)
            if msg is None:
                if self.slot.closed:
                    return
                continue
            try:
                self._process(msg)
            except ImageDecodeError as exc:
                self.stats.count("bad_messages")
                self.get_logger().warning(f"dropped a bad image message: {exc}", throttle_duration_sec=THROTTLE_S)
            except Exception as exc:  # keep running whatever one frame does
                self.stats.count("errors")
                self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}", throttle_duration_sec=THROTTLE_S)

    def _wanted(self):
        """Which outputs are enabled and have at least one subscriber."""
        p = self.p
        return {
            "depth": p["publish_depth"] and self.pub_depth.get_subscription_count() > 0,
            "mask": p["publish_mask"] and self.pub_mask.get_subscription_count() > 0,
            "completed": p["publish_depth_completed"] and p["use_sensor_depth"]
            and self.pub_completed.get_subscription_count() > 0,
            "points": p["publish_points"] and self.pub_points.get_subscription_count() > 0,
        }

    def _process(self, msg) -> None:
        wanted = self._wanted()
        if not any(wanted.values()):
            self.stats.count("skipped_no_subscribers")
            return
        rate = self.p["max_rate_hz"]
        now = time.monotonic()
        if rate > 0 and now - self.last_processed < 1.0 / rate:
            self.stats.count("skipped_rate_limit")
            return
        self.last_processed = now
        rgb = rgb_from_msg(msg)
        pred = self.pipeline(rgb)
        header = msg.header
        if self.p["scale_from_table"]:
            self._scale_from_table(pred, stamp_ns(header))
        if wanted["depth"]:
            self.pub_depth.publish(depth_msg(header, pred.depth))
        if wanted["mask"]:
            self.pub_mask.publish(mask_msg(header, pred.mask))
        if wanted["completed"]:
            self._publish_completed(header, pred)
        if wanted["points"]:
            self._publish_points(header, pred)
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns(header)) / 1e6
        self.stats.frame_done(latency_ms, pred.timings["total"])
        self.stats.set("superseded", self.slot.superseded)

    def _scale_from_table(self, pred, image_ns: int) -> None:
        """Rescale ``pred.depth`` so the table lies at the camera's height below it (see
        ``egsa_ros.runtime.support_plane_scale``); unchanged, counted and logged when refused."""
        from ..runtime.support_plane_scale import support_plane_scale

        info = self.camera_info
        if info is None or (info.height, info.width) != pred.depth.shape:
            self.stats.count("table_scale_skipped")
            self.get_logger().warning("scale_from_table needs camera_info of the image's size: depth left unscaled",
                                      throttle_duration_sec=THROTTLE_S)
            return
        pose = self._camera_up_and_height(image_ns)
        if pose is None:
            return
        up, height = pose
        estimate = support_plane_scale(pred.depth, np.array(info.k), up, height, exclude=pred.mask > 0)
        if not estimate.ok:
            self.stats.count("table_scale_refused")
            self.get_logger().warning(f"scale_from_table refused: {estimate.reason}; depth left unscaled",
                                      throttle_duration_sec=THROTTLE_S)
            return
        pred.depth = pred.depth * np.float32(estimate.scale)
        self.stats.set("table_scale", float(estimate.scale))

    def _camera_up_and_height(self, image_ns: int):
        """(up in the optical frame, height above the table, m) for the image at ``image_ns``, or
        None (counted and logged) when the pose topic has nothing usable for it."""
        from ..runtime.support_plane_scale import pose_matrix, pose_up_and_height, up_from_pitch_roll

        if self.p["camera_pose_source"] == "fixed":
            return up_from_pitch_roll(self.p["camera_pitch_deg"], self.p["camera_roll_deg"]), self.p["camera_height_m"]
        msg = nearest_by_stamp(self.camera_poses, image_ns, self.p["pose_tolerance_ms"] * 1e6)
        if msg is None:
            self.stats.count("table_scale_no_pose")
            self.get_logger().warning("scale_from_table: no camera_pose within pose_tolerance_ms of the image: depth "
                                      "left unscaled", throttle_duration_sec=THROTTLE_S)
            return None
        p, q = msg.pose.position, msg.pose.orientation
        try:
            return pose_up_and_height(pose_matrix([p.x, p.y, p.z], [q.x, q.y, q.z, q.w]))
        except ValueError as exc:
            self.stats.count("bad_camera_pose")
            self.get_logger().warning(f"scale_from_table: bad camera_pose ({exc}): depth left unscaled",
                                      throttle_duration_sec=THROTTLE_S)
            return None

    def _publish_completed(self, header, pred) -> None:
        from ..runtime.depth_completion import CompletionConfig, complete_depth

        sensor_msg = self._paired_sensor_depth(stamp_ns(header))
        if sensor_msg is None:
            self.stats.count("no_paired_sensor_depth")
            self.get_logger().warning("no sensor_depth within sync_tolerance_ms of the image: depth_completed skipped",
                                      throttle_duration_sec=THROTTLE_S)
            return
        try:
            sensor = depth_from_msg(sensor_msg)
        except ImageDecodeError as exc:
            self.stats.count("bad_sensor_depth")
            self.get_logger().warning(f"dropped a bad sensor_depth message: {exc}", throttle_duration_sec=THROTTLE_S)
            return
        if sensor.shape != pred.depth.shape:
            self.stats.count("bad_sensor_depth")
            self.get_logger().warning(f"sensor_depth is {sensor.shape[1]}x{sensor.shape[0]}, image is "
                                      f"{pred.depth.shape[1]}x{pred.depth.shape[0]}: register depth to colour first",
                                      throttle_duration_sec=THROTTLE_S)
            return
        completed = complete_depth(sensor, pred.depth, pred.mask, CompletionConfig(ring_px=self.p["completion_ring_px"]))
        self.pub_completed.publish(depth_msg(header, completed))

    def _paired_sensor_depth(self, image_ns: int):
        return nearest_by_stamp(self.sensor_depths, image_ns, self.p["sync_tolerance_ms"] * 1e6)

    def _publish_points(self, header, pred) -> None:
        from ..runtime.point_cloud import masked_points

        info = self.camera_info
        if info is None:
            self.stats.count("no_camera_info")
            self.get_logger().warning("no camera_info received yet: transparent_points skipped",
                                      throttle_duration_sec=THROTTLE_S)
            return
        if (info.height, info.width) != pred.depth.shape:
            self.stats.count("camera_info_size_mismatch")
            self.get_logger().warning(f"camera_info is {info.width}x{info.height}, image is {pred.depth.shape[1]}x"
                                      f"{pred.depth.shape[0]}: transparent_points skipped",
                                      throttle_duration_sec=THROTTLE_S)
            return
        xyz = masked_points(pred.depth, pred.mask, np.array(info.k), stride=self.p["points_stride"])
        self.pub_points.publish(points_msg(header, xyz))

    # ------------------------------------------------------------------ diagnostics and teardown
    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        problems = snap.get("bad_messages", 0) + snap.get("errors", 0)
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if problems else DiagnosticStatus.OK,
            name="egsa_node: inference", hardware_id=self.pipeline.backend_name,
            message=f"{snap['rate_hz']:.1f} Hz, latency p50 {snap['latency_p50_ms']:.1f} ms"
                    + (f", {int(problems)} bad/failed frames" if problems else ""))
        extra = {"backend": self.pipeline.backend_name, "providers": ",".join(self.pipeline.backend.providers),
                 "model": self.pipeline.model_name}
        status.values = [KeyValue(key=k, value=v) for k, v in self.stats.key_values(extra)]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(array)

    def destroy_node(self) -> None:
        """Stop the worker before the node's publishers go away, then free the model. Safe on a
        node whose construction failed part-way (rclpy may destroy it at shutdown)."""
        slot, worker = getattr(self, "slot", None), getattr(self, "worker", None)
        if slot is not None:
            slot.close()
        if worker is not None and worker.is_alive():
            worker.join(timeout=10.0)
        self.pipeline = None
        super().destroy_node()


def nearest_by_stamp(messages, stamp: int, tolerance_ns: float):
    """The message of ``messages`` (each with a ``header``) whose stamp is nearest ``stamp`` (ns),
    or None if there is none within ``tolerance_ns``."""
    best = min(list(messages), key=lambda m: abs(stamp_ns(m.header) - stamp), default=None)
    if best is None or abs(stamp_ns(best.header) - stamp) > tolerance_ns:
        return None
    return best


def main(args=None) -> int:
    """Entry point of ``egsa_node`` (``ros2 run egsa_ros egsa_node`` / the launch file)."""
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = EGSANode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # parameters, model: say why, exit non-zero
        rclpy.logging.get_logger("egsa_node").fatal(str(exc))
        code = 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    import sys

    sys.exit(main())
