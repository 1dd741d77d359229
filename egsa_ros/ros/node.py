"""``egsa_node``: camera images in; metric depth, glass mask, completed depth, points and objects out.

A managed (lifecycle) node. ``configure`` checks the parameters, loads the model and builds the
graph for ``expected_frame_size``; ``activate`` subscribes and enables the publishers;
``deactivate`` stops processing; ``cleanup`` frees the model. With ``autostart`` (default) the
node configures and activates itself, so ``ros2 run egsa_ros egsa_node`` just works.

Topics (relative, remap them): sub ``image`` (or ``image/compressed``), ``camera_info``,
optional ``sensor_depth`` and ``camera_pose``; pub, in image_transport's camera-publisher
layout, ``depth/image`` (32FC1 m, NaN unknown), ``mask/image`` (mono8, 255 = transparent),
``depth_completed/image``, each with a ``camera_info`` beside it (the camera's, with the
output's header), ``transparent_points`` (PointCloud2, optical frame, x y z + instance id),
``transparent_objects`` (MarkerArray: the glass geometry's objects) and ``/diagnostics``.
Every output carries the input image's header.

Threads: subscriptions take serialized messages; the callbacks only read the header fields,
drop (and count) malformed messages and keep the newest good frame (latest-frame slot). One
worker thread deserialises that frame, runs :func:`egsa_ros.runtime.frame_processing.process_frame`
and publishes, so callbacks never block, lag never builds up and junk never displaces a good
frame. The per-frame decisions live in that ROS-free module; this node is wiring, QoS,
parameters and one skip-and-count helper (:meth:`EGSANode.skip`).
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
import threading
import time
from collections import deque

import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.signals import uninstall_signal_handlers
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from visualization_msgs.msg import MarkerArray

from ..data.image_encodings import compressed_to_rgb, image_to_rgb
from ..runtime.frame_processing import (
    FrameSettings,
    camera_model,
    compressed_problem,
    depth_image_problem,
    image_problem,
    process_frame,
)
from ..runtime.thread_priority import call_at_niceness, lower_this_thread
from .cdr_header import CdrError, compressed_image_fields, image_fields
from .conversions import (
    depth_from_msg,
    depth_image_cdr,
    header_msg,
    mask_image_cdr,
    objects_msg,
    points_msg,
    stamp_ns,
)
from .frame_slot import LatestFrameSlot
from .log_forwarding import forward_package_logging, stop_forwarding
from .node_params import PARAMS, SPECS, convert, parse_frame_size
from .node_stats import ERROR, OK, STALE, WARN, HealthLimits, NodeStats, health
from .ros_dirs import ros_home
from .stack_dump import StackDumpOnSignal
from .stderr_capture import captured_stderr
from .teardown_guard import TeardownGuard

THROTTLE_S = 5.0
OUTPUTS = ("depth", "mask", "depth_completed")  # each published as <name>/image + <name>/camera_info
LEVELS = {
    OK: DiagnosticStatus.OK,
    WARN: DiagnosticStatus.WARN,
    ERROR: DiagnosticStatus.ERROR,
    STALE: DiagnosticStatus.STALE,
}
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (multi-line messages joined with ' | ')."""
    text = " | ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _descriptor(spec) -> ParameterDescriptor:
    desc = ParameterDescriptor(
        description=spec.description + ("" if spec.dynamic else " (applied at configure)"), dynamic_typing=True
    )
    if spec.low is not None and isinstance(spec.default, float):
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)
        ]
    elif spec.low is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return desc


class EGSANode(LifecycleNode):
    """The EGSA inference node (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("egsa_node", **kwargs)
        self.stats = NodeStats()
        self.configured = self.active = self.autostarting = False
        self.configure_error = ""
        self._declare_problems: dict[str, str] = {}
        self.p: dict[str, object] = {}
        self._declare_parameters()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.pipeline = None
        self.camera = None  # (CameraModel, CameraInfo) of the newest valid camera_info
        self.sensor_depths: deque = deque(maxlen=10)  # (stamp ns, serialized Image)
        self.camera_poses: deque = deque(maxlen=100)  # (stamp ns, (xyz, xyzw))
        self.slot: LatestFrameSlot | None = None
        self.worker: threading.Thread | None = None
        self.pubs: dict[str, object] = {}
        self.pub_diag = None
        self._subs: list = []
        self._diag_timer = None
        self.last_processed = 0.0
        self.camera_frame_id = ""
        self.last_bad = ""
        self._distortion_warned = False
        self._throttle: dict[str, list] = {}  # key -> [last log time, lines suppressed since]
        self._throttle_lock = threading.Lock()
        self._log_handler = forward_package_logging(self.get_logger())

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        """Declare every parameter (dynamic typing, numeric ranges) and convert the given values."""
        overrides = getattr(self, "_parameter_overrides", {})
        for spec in PARAMS:
            try:
                self.declare_parameter(spec.name, spec.default, _descriptor(spec))
            except ParameterException as exc:  # an override outside the range: keep the default, refuse configure
                given = overrides.get(spec.name)
                error = convert(spec.name, given.value)[1] if given is not None else None
                self._declare_problems[spec.name] = error or one_line(exc)
                self.declare_parameter(spec.name, spec.default, _descriptor(spec), ignore_override=True)
        normalise = []
        for spec in PARAMS:
            raw = self.get_parameter(spec.name).value
            value, error = convert(spec.name, raw)
            self.p[spec.name] = spec.default if error else value
            if not error and type(value) is not type(raw):  # 10 given for a float: store 10.0
                normalise.append(Parameter(spec.name, value=value))
        if normalise:
            self.set_parameters(normalise)

    def parameter_problems(self) -> list:
        """One ``name: why`` text per unacceptable parameter value."""
        problems = []
        for spec in PARAMS:
            if spec.name in self._declare_problems:
                problems.append(f"{spec.name}: {self._declare_problems[spec.name]}")
                continue
            error = convert(spec.name, self.get_parameter(spec.name).value)[1]
            if error:
                problems.append(f"{spec.name}: {error}")
        return problems

    def _on_set_parameters(self, params) -> SetParametersResult:
        converted = {}
        for param in params:
            spec = SPECS.get(param.name)
            if spec is None:  # use_sim_time, qos overrides: not ours
                continue
            value, error = convert(param.name, param.value)
            if error:
                return SetParametersResult(successful=False, reason=f"{param.name}: {error}")
            if self.configured and not spec.dynamic and value != self.p.get(param.name):
                return SetParametersResult(
                    successful=False,
                    reason=f"{param.name} is applied at configure: deactivate and clean up the node first",
                )
            converted[param.name] = value
        for name, value in converted.items():
            self.p[name] = value
            self._declare_problems.pop(name, None)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        problems = self.parameter_problems()
        if problems:
            return self._fail("configure", "invalid egsa_node parameters: " + "; ".join(problems))
        try:
            # the runtime's worker threads inherit the loading thread's priority (inference_nice)
            self.pipeline, priority_problem = call_at_niceness(self._load_pipeline, self.p["inference_nice"])
        except Exception as exc:  # checkpoint, engine, backend: say which and why, never a traceback
            return self._fail("configure", f"cannot load the model: {one_line(exc)}")
        if priority_problem:
            self.get_logger().warning(f"inference_nice {self.p['inference_nice']} not applied: {priority_problem}")
        fallback = getattr(self.pipeline, "fallback_reason", None)
        if fallback:
            self.get_logger().warning(f"engine fallback: {fallback}")
        out_qos = self._qos(self.p["output_reliability"])
        for name in OUTPUTS:
            self.pubs[name] = self.create_lifecycle_publisher(Image, f"{name}/image", out_qos)
            self.pubs[f"{name}_info"] = self.create_lifecycle_publisher(CameraInfo, f"{name}/camera_info", out_qos)
        self.pubs["points"] = self.create_lifecycle_publisher(PointCloud2, "transparent_points", out_qos)
        self.pubs["objects"] = self.create_lifecycle_publisher(MarkerArray, "transparent_objects", out_qos)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.configured = True
        self.get_logger().info(f"configured: model {self.pipeline.model_name}, backend {self.pipeline.backend_name}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # enables the publishers
        if result != SUCCESS:
            return result
        self.slot = LatestFrameSlot()
        in_qos = self._qos(self.p["input_reliability"])
        if self.p["compressed_input"]:
            self._subs.append(
                self.create_subscription(CompressedImage, "image/compressed", self._on_compressed, in_qos, raw=True)
            )
        else:
            self._subs.append(self.create_subscription(Image, "image", self._on_image, in_qos, raw=True))
        self._subs.append(self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, in_qos, raw=True))
        reliability = self._reliability(self.p["input_reliability"])
        if self.p["use_sensor_depth"]:
            self._subs.append(
                self.create_subscription(
                    Image,
                    "sensor_depth",
                    self._on_sensor_depth,
                    QoSProfile(
                        depth=max(10, self.p["qos_depth"]), history=HistoryPolicy.KEEP_LAST, reliability=reliability
                    ),
                    raw=True,
                )
            )
        if self.p["camera_pose_source"] == "topic":
            self._subs.append(
                self.create_subscription(
                    PoseStamped,
                    "camera_pose",
                    self._on_camera_pose,
                    QoSProfile(
                        depth=max(100, self.p["qos_depth"]), history=HistoryPolicy.KEEP_LAST, reliability=reliability
                    ),
                    raw=True,
                )
            )
        self.worker = threading.Thread(target=self._work, args=(self.slot,), name="egsa_inference", daemon=True)
        self.worker.start()
        self._diag_timer = self.create_timer(self.p["diagnostics_period_s"], self._publish_diagnostics)
        self.active = True
        self.get_logger().info(
            f"ready: model {self.pipeline.model_name}, backend {self.pipeline.backend_name} "
            f"(providers {self.pipeline.backend.providers})"
        )
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._free()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free()
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._free()
        return SUCCESS

    def _fail(self, transition: str, reason: str) -> TransitionCallbackReturn:
        """FAILURE with the reason: logged here for a lifecycle manager's request, by ``main``
        (one FATAL line) when autostarting."""
        self.configure_error = reason
        if not self.autostarting:
            self.get_logger().error(f"{transition} failed: {reason}")
        return FAILURE

    def _stop_processing(self) -> None:
        """Unsubscribe, stop the worker, stop diagnostics (active -> inactive)."""
        self.active = False
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        if self.slot is not None:
            self.slot.close()
        if self.worker is not None and self.worker.is_alive():
            self.worker.join(timeout=10.0)
        self.worker = None
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None

    def _free(self) -> None:
        """Drop publishers and the model (inactive -> unconfigured)."""
        for pub in self.pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self.pubs = {}
        if self.pub_diag is not None:
            self.destroy_publisher(self.pub_diag)
            self.pub_diag = None
        self.pipeline = None
        self.camera = None
        self.sensor_depths.clear()
        self.camera_poses.clear()
        self.configured = False

    def _load_pipeline(self):
        # Deferred: the runtime (ONNX Runtime and friends) loads only when the node is configured.
        from ..runtime.pipeline import load_pipeline  # noqa: PLC0415 - the runtime loads at configure

        engine = self.p["engine"] or None
        if self.p["backend"] == "tensorrt" and not engine:
            raise ValueError("backend 'tensorrt' needs the 'engine' parameter (a .engine built by egsa-build-engine)")
        kwargs = dict(
            backend=self.p["backend"],
            threads=self.p["threads"],
            engine=engine,
            frame_size=parse_frame_size(self.p["expected_frame_size"]),
            flip_average=True if self.p["flip_average"] else None,
            mask_input_size=parse_frame_size(self.p["mask_input_size"]),
        )
        accepted = inspect.signature(load_pipeline).parameters
        for name in ("allow_random_weights", "engine_fallback"):
            if name in accepted:
                kwargs[name] = self.p[name]
        if self.p["backend"] == "tensorrt" and self.p["onnx"]:
            kwargs.update(onnx=self.p["onnx"], rebuild=True)  # a mismatched engine is rebuilt, not refused
        if self.p["backend"] == "onnxruntime" or (self.p["backend"] == "auto" and not engine):
            kwargs["trt_cache_dir"] = self.p["trt_cache_dir"] or default_trt_cache_dir()
        pipeline = load_pipeline(self.p["model"] or None, **kwargs)
        pipeline.set_canonical_view(
            self.p["canonical_view"] and pipeline.has_canonical_view, self.p["canonical_view_period"]
        )
        return pipeline

    @staticmethod
    def _reliability(name: str) -> ReliabilityPolicy:
        return ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT

    def _qos(self, reliability: str) -> QoSProfile:
        return QoSProfile(
            depth=self.p["qos_depth"], history=HistoryPolicy.KEEP_LAST, reliability=self._reliability(reliability)
        )

    # ------------------------------------------------------------------ skip, count, say why (throttled)
    def skip(self, key: str, reason: str, *, error: bool = False, throttle_key: str | None = None) -> None:
        """Count ``key`` and log ``reason`` at most once per THROTTLE_S per ``throttle_key`` (default
        ``key``), saying how many lines were held back since: the one place where something is refused."""
        self.stats.count(key)
        now = time.monotonic()
        with self._throttle_lock:
            entry = self._throttle.setdefault(throttle_key or key, [-THROTTLE_S, 0])
            if now - entry[0] < THROTTLE_S:
                entry[1] += 1
                return
            held_back, entry[0], entry[1] = entry[1], now, 0
        text = reason + (f" ({held_back} more since the last report)" if held_back else "")
        # One call site per severity: rclpy refuses a second severity from the same line.
        if error:
            self.get_logger().error(text)
        else:
            self.get_logger().warning(text)

    def bad_message(self, topic: str, reason: str) -> None:
        """A malformed message on ``topic``: one category (``bad_messages``), one counter per topic."""
        self.last_bad = f"{topic}: {reason}"
        self.stats.count(f"bad_messages.{topic}")
        self.skip("bad_messages", f"dropped a bad {topic} message: {reason}", throttle_key=f"bad_messages.{topic}")

    # ------------------------------------------------------------------ callbacks (cheap, never block)
    def _on_image(self, raw: bytes) -> None:
        self._offer(
            "image", raw, image_fields, lambda f: image_problem(f.encoding, f.height, f.width, f.step, f.data_len)
        )

    def _on_compressed(self, raw: bytes) -> None:
        self._offer(
            "image/compressed",
            raw,
            compressed_image_fields,
            lambda f: compressed_problem(f.encoding, f.data_len, f.data_head, f.data_tail),
        )

    def _offer(self, topic: str, raw: bytes, read_fields, problem_of) -> None:
        arrived_ns = self.get_clock().now().nanoseconds
        try:
            fields = read_fields(raw)
        except CdrError as exc:
            self.stats.input_arrived()
            self.bad_message(topic, str(exc))
            return
        self.stats.input_arrived((arrived_ns - fields.stamp_ns) / 1e6)
        problem = problem_of(fields)
        if problem:
            self.bad_message(topic, problem)
            return
        self.camera_frame_id = fields.frame_id
        slot = self.slot
        if slot is not None:  # a compressed image is verified only by decoding it: older frames stay behind it
            dropped = slot.put((fields, raw), verified=not self.p["compressed_input"])
            if dropped:
                self.stats.count("superseded", dropped)

    def _on_camera_info(self, raw: bytes) -> None:
        try:
            msg = deserialize_message(raw, CameraInfo)
            model = camera_model(msg.k, msg.d, msg.height, msg.width)
        except Exception as exc:  # undecodable bytes or invalid calibration
            self.bad_message("camera_info", str(exc) if isinstance(exc, ValueError) else one_line(exc))
            return
        if model.distorted and not self._distortion_warned:
            self._distortion_warned = True
            self.get_logger().warning(
                f"camera_info reports lens distortion ({msg.distortion_model} {list(msg.d)}): "
                "transparent_points use the pinhole model and ignore it; feed rectified "
                "images (image_proc) for exact points"
            )
        self.camera = (model, msg)

    def _on_sensor_depth(self, raw: bytes) -> None:
        try:
            f = image_fields(raw)
        except CdrError as exc:
            self.bad_message("sensor_depth", str(exc))
            return
        problem = depth_image_problem(f.encoding, f.height, f.width, f.step, f.data_len)
        if problem:
            self.bad_message("sensor_depth", problem)
            return
        self.sensor_depths.append((f.stamp_ns, raw))

    def _on_camera_pose(self, raw: bytes) -> None:
        try:
            msg = deserialize_message(raw, PoseStamped)
        except Exception as exc:
            self.bad_message("camera_pose", one_line(exc))
            return
        p, q = msg.pose.position, msg.pose.orientation
        self.camera_poses.append((stamp_ns(msg.header), ((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))))

    # ------------------------------------------------------------------ worker
    def _work(self, slot: LatestFrameSlot) -> None:
        lower_this_thread(self.p["inference_nice"])  # a failure was reported at configure
        while True:
            fallbacks, fresher = slot.fallbacks_used, slot.fresher_waits
            item = slot.take(timeout=0.5, fresher_within_s=self.p["fresh_frame_wait_ms"] / 1000.0)
            if item is None:
                if slot.closed:
                    return
                continue
            if slot.fresher_waits != fresher:
                self.stats.count("fresh_frame_waits")
            taken_at, queue_wait_ms = time.monotonic(), slot.last_taken_age_s * 1000.0
            if slot.fallbacks_used != fallbacks:  # a newer frame proved unusable: this older one stands in
                self.stats.count("recovered_displaced_frames")
            try:
                usable = self._process(*item, taken_at=taken_at, queue_wait_ms=queue_wait_ms)
            except Exception as exc:  # keep running whatever one frame does
                if not self.context.ok():  # ROS is stopping (a signal): the frame's publish fails; stop quietly
                    return
                self.skip("errors", f"frame failed: {one_line(exc)}", error=True)
                usable = True
            if usable:  # the older frames behind it are not needed any more
                dropped = slot.processed()
                if dropped:
                    self.stats.count("superseded", dropped)

    def _wanted(self) -> dict[str, bool]:
        """Which outputs are enabled and have at least one subscriber."""
        p, pubs = self.p, self.pubs

        def listened(name):
            pub = pubs.get(name)
            return pub is not None and pub.get_subscription_count() > 0

        wanted = {
            "depth": p["publish_depth"] and listened("depth"),
            "mask": p["publish_mask"] and listened("mask"),
            "depth_completed": p["publish_depth_completed"] and p["use_sensor_depth"] and listened("depth_completed"),
            "points": p["publish_points"] and listened("points"),
            "objects": p["publish_objects"] and p["glass_geometry"] and listened("objects"),
        }
        for name in OUTPUTS:
            wanted[f"{name}_info"] = wanted[name] and listened(f"{name}_info")
        return wanted

    def _process(self, fields, raw: bytes, *, taken_at: float, queue_wait_ms: float) -> bool:
        """Run one frame and publish; False when the frame proved unusable (it could not be
        decoded: counted as a bad message), True when it was used or skipped. ``taken_at``
        (time.monotonic()) and ``queue_wait_ms``: when the worker took it and how long it waited."""
        wanted = self._wanted()
        if not any(wanted.values()):
            self.stats.count("skipped_no_subscribers")
            return True
        rate = self.p["max_rate_hz"]
        now = time.monotonic()
        if rate > 0 and now - self.last_processed < 1.0 / rate:
            self.stats.count("skipped_rate_limit")
            return True
        compressed = self.p["compressed_input"]
        topic = "image/compressed" if compressed else "image"
        rgb = self._decode(topic, fields, raw, compressed)
        if rgb is None:  # counted as a bad message; the worker takes the next newest frame
            return False
        self.last_processed = now
        p = self.p
        settings = FrameSettings(
            want_completed=wanted["depth_completed"],
            want_points=wanted["points"],
            want_camera_info=any(wanted[f"{name}_info"] for name in OUTPUTS),
            scale_from_table=p["scale_from_table"],
            camera_pose_source=p["camera_pose_source"],
            camera_height_m=p["camera_height_m"],
            camera_pitch_deg=p["camera_pitch_deg"],
            camera_roll_deg=p["camera_roll_deg"],
            pose_tolerance_ms=p["pose_tolerance_ms"],
            sync_tolerance_ms=p["sync_tolerance_ms"],
            completion_ring_px=p["completion_ring_px"],
            points_stride=p["points_stride"],
            glass_geometry="auto" if p["glass_geometry"] else "off",
            plane_source=p["plane_source"],
            sensor_veto=p["geometry_sensor_veto"],
            refine_depth_on_glass=p["refine_depth_on_glass"],
            want_objects=wanted["objects"],
            want_depth=wanted["depth"],
        )
        camera = self.camera
        result = process_frame(
            self.pipeline,
            rgb,
            fields.stamp_ns,
            settings,
            camera=camera[0] if camera else None,
            sensor_depths=list(self.sensor_depths),
            decode_depth=self._decode_sensor_depth,
            poses=list(self.camera_poses),
        )
        for skip in result.skips:
            if skip.key == "bad_sensor_depth":
                self.bad_message("sensor_depth", skip.reason)
            else:
                self.skip(skip.key, skip.reason)
        self._publish(fields, result, wanted, camera[1] if camera and result.camera is camera[0] else None)
        if result.table_scale is not None:
            self.stats.set("table_scale", result.table_scale)
        if self.pipeline.options.canonical_view_focal is not None:  # this frame's factor (1.0: none needed)
            view_scale = self.pipeline.last_view_scale
            self.stats.set("canonical_view_scale", 1.0 if view_scale is None else view_scale)
        if result.objects is not None:
            self.stats.count_many(result.geometry_counts)
            self.stats.set("glass_geometry_plane", result.objects.plane_summary)
        latency_ms = (self.get_clock().now().nanoseconds - fields.stamp_ns) / 1e6
        processing_ms = (time.monotonic() - taken_at) * 1000.0
        self.stats.frame_done(latency_ms, result.inference_ms, queue_wait_ms, processing_ms)
        return True

    def _decode(self, topic: str, fields, raw: bytes, compressed: bool):
        """(H, W, 3) uint8 RGB from the serialized image's payload (no message object is built),
        or None (counted as a bad message). Decoder chatter on stderr (libjpeg, libpng) is
        captured and reported through the throttled log."""
        payload = fields.payload(raw)
        try:
            if not compressed:
                return image_to_rgb(fields.encoding, fields.height, fields.width, fields.step, payload)
            with captured_stderr() as said:
                rgb = compressed_to_rgb(fields.encoding, payload)
        except ValueError as exc:
            detail = " ".join(said[0].split())[:200] if compressed and said and said[0].strip() else ""
            self.bad_message(topic, f"{exc}" + (f" (decoder: {detail})" if detail else ""))
            return None
        if said and said[0].strip():
            self.skip("decoder_warnings", f"decoder warnings for a {topic} frame: {' '.join(said[0].split())[:200]}")
        return rgb

    @staticmethod
    def _decode_sensor_depth(raw: bytes):
        try:
            msg = deserialize_message(raw, Image)
        except Exception as exc:
            raise ValueError(f"cannot deserialise: {one_line(exc)}") from exc
        return depth_from_msg(msg)

    def _publish(self, fields, result, wanted, info: CameraInfo | None) -> None:
        """Every wanted output with the input image's stamp and frame id; the images go out as
        serialized bytes (:func:`~egsa_ros.ros.cdr_header.image_cdr`)."""
        stamp, frame = fields.stamp_ns, fields.frame_id
        images = {
            "depth": lambda: depth_image_cdr(stamp, frame, result.depth),
            "mask": lambda: mask_image_cdr(stamp, frame, result.mask),
            "depth_completed": lambda: depth_image_cdr(stamp, frame, result.completed),
        }
        header = header_msg(stamp, frame)
        for name in OUTPUTS:
            if not wanted[name] or (name == "depth_completed" and result.completed is None):
                continue
            self.pubs[name].publish(images[name]())
            if wanted[f"{name}_info"] and info is not None:
                info.header = header
                self.pubs[f"{name}_info"].publish(info)
        if wanted["points"] and result.points is not None:
            self.pubs["points"].publish(points_msg(header, result.points, result.point_instances))
        if wanted["objects"] and result.boxes is not None:
            self.pubs["objects"].publish(objects_msg(header, result.boxes))

    # ------------------------------------------------------------------ diagnostics and teardown
    def _publish_diagnostics(self) -> None:
        p = self.p
        window, span = self.stats.tick(p["diagnostics_window_s"])
        last = self.stats.last_input
        since = None if last is None else time.monotonic() - last
        fallback = getattr(self.pipeline, "fallback_reason", None) if self.pipeline is not None else None
        level, message = health(
            window,
            span,
            since,
            any(self._wanted().values()),
            HealthLimits(p["stale_timeout_s"], p["min_input_rate_hz"], p["min_output_rate_hz"]),
            fallback,
        )
        status = DiagnosticStatus(
            level=LEVELS[level],
            name=f"{self.get_fully_qualified_name()}: inference",
            hardware_id=p["hardware_id"] or self.camera_frame_id or "camera (no image yet)",
            message=message,
        )
        extra = {
            "window_s": f"{span:.1f}",
            "input_rate_hz": f"{window.get('frames_in', 0) / max(span, 1e-6):.2f}",
            "output_rate_hz": f"{window.get('frames_processed', 0) / max(span, 1e-6):.2f}",
            "last_bad_message": self.last_bad,
        }
        if self.pipeline is not None:
            extra.update(
                backend=self.pipeline.backend_name,
                model=self.pipeline.model_name,
                providers=",".join(self.pipeline.backend.providers),
                engine_fallback=fallback or "none",
            )
        status.values = [KeyValue(key=k, value=v) for k, v in self.stats.key_values(extra)]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        if self.pub_diag is not None:
            self.pub_diag.publish(array)

    def destroy_node(self) -> None:
        """Stop the worker before the node's publishers go away, then free the model."""
        self._stop_processing()
        self.pipeline = None
        stop_forwarding(self._log_handler)
        super().destroy_node()
        # rclpy's LifecycleNode.destroy_node leaves the lifecycle state machine, which holds the
        # rcl node: the node, and with it the process's DDS participant, would be destroyed only
        # by the garbage collector at interpreter exit, where a stuck middleware (seen: a Fast DDS
        # discovery deadlock) holds the interpreter lock and nothing can bound it.
        state_machine = getattr(self, "_state_machine", None)
        if state_machine is not None:
            state_machine.destroy_when_not_in_use()


def default_trt_cache_dir() -> str:
    """``$ROS_HOME/egsa_ros/ort_trt_cache`` (ROS_HOME defaults to ~/.ros)."""
    return os.path.join(ros_home(), "egsa_ros", "ort_trt_cache")


def params_file_problem(argv) -> str | None:
    """Why a ``--params-file`` in ``argv`` cannot be read (missing, not YAML, not a mapping), or None.
    Checked before rcl sees it, so the user gets one line instead of rcl's parser errors."""
    argv = list(argv)
    for flag, path in zip(argv, argv[1:]):
        if flag != "--params-file":
            continue
        try:
            with open(path, encoding="utf-8") as stream:
                data = yaml.safe_load(stream)
        except OSError as exc:
            return f"cannot read --params-file {path}: {exc.strerror}"
        except yaml.YAMLError as exc:
            return f"--params-file {path} is not valid YAML: {' '.join(str(exc).split())}"
        if not isinstance(data, dict):
            return f"--params-file {path} must map node names to 'ros__parameters', got {type(data).__name__}"
    return None


def main(args=None) -> int:
    """Entry point of ``egsa_node`` (``ros2 run egsa_ros egsa_node`` / the launch file).

    Exit codes: 0 after a clean stop, 2 when it cannot start (ROS arguments, parameters, model),
    each with one line saying why.
    """
    problem = params_file_problem(sys.argv if args is None else args)
    if problem:
        print(f"[FATAL] [egsa_node]: {problem}", file=sys.stderr)
        return 2
    try:
        with captured_stderr() as said:  # rcl prints its own parse errors; they go into our one line
            rclpy.init(args=args)
    except Exception as exc:  # bad --ros-args (remaps, log level, params file rcl cannot parse)
        print(
            f"[FATAL] [egsa_node]: cannot start ROS 2 (check --ros-args / --params-file): {one_line(exc)}",
            file=sys.stderr,
        )
        return 2
    if said and said[0].strip():
        sys.stderr.write(said[0])
    node = executor = None
    code = 0
    stacks = StackDumpOnSignal().start()  # SIGUSR1: every thread's stack to the ROS log dir
    try:
        # Made before the node says "ready": a signal right after that must not hit the
        # executor's construction (rclpy then prints an ignored exception from its __del__).
        executor = SingleThreadedExecutor()
        node = EGSANode()
        executor.add_node(node)
        started = True
        if node.p["autostart"]:
            node.autostarting = True
            for transition in (node.trigger_configure, node.trigger_activate):
                if transition() != SUCCESS:
                    started = False
                    if rclpy.ok():  # (not ok: stopped by a signal while starting, a clean stop)
                        node.get_logger().fatal(node.configure_error or f"{transition.__name__} failed")
                        code = 2
                    break
            node.autostarting = False
        if started:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # anything else at start-up: one line, not a traceback
        if rclpy.ok():
            rclpy.logging.get_logger("egsa_node").fatal(one_line(exc))
            code = 2
        # else: a signal shut the context down while starting (spin then fails): a clean stop
    finally:
        # The teardown is bounded as a whole: the middleware underneath has been seen, very
        # rarely, never to return; the process then still exits with this code, saying so.
        guard = TeardownGuard(code).start()
        try:
            # rclpy handles SIGINT/SIGTERM in a thread of its own that triggers the executor's
            # guard conditions; stop it first (it finishes the signal it is handling) so that it
            # never touches a guard condition the executor is destroying (seen: a rare segfault,
            # or a hang in try_shutdown, when the signal came right after "ready").
            uninstall_signal_handlers()
            # Shutting down: a second Ctrl-C / SIGTERM must not interrupt the ordered teardown
            # (worker, node, context), which is bounded (the worker join times out; the guard).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if executor is not None:
                executor.shutdown()
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        finally:
            guard.cancel()
            stacks.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
