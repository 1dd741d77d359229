"""Build TensorRT engines from camera-frame ONNX graphs, with a sidecar that guards their use.

Written against the documented TensorRT 10 Python API (``tensorrt`` module, explicit-batch
networks, ``build_serialized_network``, ``execute_async_v3``). TensorRT's builder cannot be
installed on our CI machines, so what runs there is the pure-Python part: the sidecar
record and its comparison with the running TensorRT/GPU (:func:`sidecar_mismatches`).

Precision: ``fp32``; ``fp16`` with every Canny layer pinned to fp32 (fp16 changes the edge
map: IoU 0.91-0.96 against fp32); ``int8`` (with fp16 fallback and fp32 Canny) calibrated on frames
read from a folder of images or a ROS 2 bag. A timing cache makes rebuilds fast; ``dla_core``
targets a Jetson DLA with GPU fallback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..data.frame_sources import iter_frames
from .checkpoint_info import sha256_file
from .config import ModelConfig
from .cuda_runtime import CudaStream, DeviceBuffer, cuda_status, device_identity
from .graph_metadata import graph_configs, read_frame_metadata
from .inference_options import InferenceOptions, split_legacy_config

LOG = logging.getLogger("egsa_ros.tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")
SIDECAR_FORMAT_VERSION = 1
# Fields that must match between an engine's sidecar and the running system: TensorRT
# engines are specific to the TensorRT version and the GPU architecture that built them.
MATCHING_FIELDS = ("tensorrt_version", "gpu_compute_capability", "gpu_name")


class EngineMismatchError(RuntimeError):
    """The engine was built by another TensorRT version or for another GPU."""


def sidecar_path(engine_path: str | Path) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def read_sidecar(engine_path: str | Path) -> dict:
    """The sidecar of an engine; clear errors when it is missing or unreadable."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise EngineMismatchError(
            f"engine {engine_path} has no sidecar {path.name}: it was not built by "
            "egsa_ros's build_engine.py, so its TensorRT version and GPU are unknown; rebuild it"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EngineMismatchError(f"sidecar {path} is not valid JSON ({exc}); rebuild the engine") from exc
    if data.get("sidecar_format_version") != SIDECAR_FORMAT_VERSION:
        raise EngineMismatchError(
            f"sidecar {path} has format {data.get('sidecar_format_version')}, "
            f"expected {SIDECAR_FORMAT_VERSION}; rebuild the engine"
        )
    return data


def sidecar_mismatches(sidecar: dict, running: dict) -> list[str]:
    """Human-readable differences between an engine's sidecar and the running system.

    Args:
        sidecar: the engine's sidecar (``read_sidecar``).
        running: :func:`running_identity` of this machine.
    Returns an empty list when the engine can be used here.
    """
    problems = []
    for key in MATCHING_FIELDS:
        if str(sidecar.get(key)) != str(running.get(key)):
            problems.append(f"{key}: engine built with {sidecar.get(key)!r}, running {running.get(key)!r}")
    return problems


def running_identity(device: int = 0) -> dict[str, str]:
    """TensorRT version and GPU name / compute capability of this machine (needs both)."""
    import tensorrt as trt  # noqa: PLC0415 - tensorrt exists only on TensorRT machines

    return {"tensorrt_version": trt.__version__, **device_identity(device)}


def cuda_and_tensorrt_status() -> tuple[bool, str]:
    """(usable, reason): whether TensorRT can run here. Checks CUDA *before* touching
    TensorRT's runtime: creating one without a CUDA device crashes the process later."""
    usable, reason = cuda_status()
    if not usable:
        return False, reason
    try:
        import tensorrt  # noqa: F401, PLC0415 - only to see whether TensorRT is installed here
    except ImportError as exc:
        return (
            False,
            f"the tensorrt Python package is not installed ({exc}); install TensorRT 10 (JetPack or pip tensorrt)",
        )
    return True, "ok"


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    *,
    precision: str = "fp16",
    workspace_mb: int = 2048,
    timing_cache: str | Path | None = None,
    dla_core: int | None = None,
    calibration: str | Path | None = None,
    calibration_frames: int = 64,
    fp32_scope: str = "canny",
    dynamic_shapes: Sequence[tuple[int, int]] | None = None,
    device: int = 0,
) -> Path:
    """Build a serialized TensorRT engine from a camera-frame ONNX graph and write its sidecar.

    Args:
        onnx_path: graph written by ``egsa-export``.
        engine_path: output ``.engine`` (sidecar: ``<engine>.json``).
        precision: ``fp32`` | ``fp16`` | ``int8``.
        workspace_mb: builder workspace memory-pool limit, MiB.
        timing_cache: file to read and update (speeds rebuilds; created if missing).
        dla_core: build for this DLA core (Jetson), with GPU fallback for unsupported layers.
        calibration: folder of images or ROS 2 bag of camera frames, for ``int8``.
        calibration_frames: frames used for INT8 calibration.
        fp32_scope: layers whose name contains this string run in fp32 (the Canny path).
        dynamic_shapes: (min, opt, max) frame sizes (H, W) for a dynamic graph.
        device: CUDA device index.
    Returns the engine path.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and calibration is None:
        raise ValueError("int8 needs calibration frames: pass a folder of images or a bag (--calibration)")
    usable, reason = cuda_and_tensorrt_status()
    if not usable:
        raise RuntimeError(f"cannot build a TensorRT engine here: {reason}")
    import tensorrt as trt  # noqa: PLC0415 - tensorrt exists only on TensorRT machines

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    meta = read_frame_metadata(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "\n  ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT's ONNX parser rejected {onnx_path}:\n  {errors}")
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        LOG.info("engine input %s %s %s", tensor.name, tuple(tensor.shape), tensor.dtype)
    for i in range(network.num_outputs):
        tensor = network.get_output(i)
        LOG.info("engine output %s %s %s", tensor.name, tuple(tensor.shape), tensor.dtype)

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
        pinned = pin_layers_fp32(network, fp32_scope)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        LOG.info("%d layers matching %r pinned to fp32", pinned, fp32_scope)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        frames = list(iter_calibration_frames(calibration, network.get_input(0).shape, calibration_frames))
        config.int8_calibrator = make_calibrator(frames, engine_path.with_suffix(".calib"))
    if dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    input_shape = tuple(network.get_input(0).shape)
    if any(d < 0 for d in input_shape):
        lo, opt, hi = dynamic_shapes or ((192, 256), (480, 640), (1080, 1920))
        profile = builder.create_optimization_profile()
        profile.set_shape(network.get_input(0).name, (*lo, 3), (*opt, 3), (*hi, 3))
        config.add_optimization_profile(profile)
    cache = None
    if timing_cache is not None:
        timing_cache = Path(timing_cache)
        cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
        config.set_timing_cache(cache, ignore_mismatch=False)

    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see the TensorRT log above)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    if cache is not None:
        timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    sidecar = dict(
        running_identity(device),
        sidecar_format_version=SIDECAR_FORMAT_VERSION,
        precision=precision,
        input_shape=list(input_shape),
        onnx_sha256=sha256_file(onnx_path),
        onnx_file=onnx_path.name,
        dla_core=dla_core,
        fp32_scope=fp32_scope,
        build_seconds=round(time.perf_counter() - start, 1),
        frame_size=meta["egsa.frame_size"],
        model_name=meta.get("egsa.model_name", ""),
        egsa_package_version=meta.get("egsa.package_version", ""),
        model_config=json.loads(meta["egsa.model_config"]),
        graph_metadata={k: v for k, v in meta.items() if k.startswith("egsa.")},
    )
    sidecar_path(engine_path).write_text(json.dumps(sidecar, indent=2))
    return engine_path


def pin_layers_fp32(network, scope: str) -> int:
    """Set precision and float output types to fp32 on every layer whose name contains ``scope``."""
    import tensorrt as trt  # noqa: PLC0415 - tensorrt exists only on TensorRT machines

    floats = (trt.float32, trt.float16)
    count = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if scope.lower() not in layer.name.lower():
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            if layer.get_output(j).dtype in floats:
                layer.set_output_type(j, trt.float32)
        count += 1
    return count


def iter_calibration_frames(source: str | Path, input_shape: Sequence[int], limit: int) -> Iterable[np.ndarray]:
    """(H, W, 3) uint8 RGB frames for INT8 calibration, resized to the engine's input size."""
    height, width = int(input_shape[0]), int(input_shape[1])
    for frame in iter_frames(source, limit=limit):
        if frame.shape[:2] != (height, width):
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        yield np.ascontiguousarray(frame)


def make_calibrator(frames: list[np.ndarray], cache_file: Path):
    """An ``IInt8EntropyCalibrator2`` feeding ``frames`` one at a time (batch 1)."""
    import tensorrt as trt  # noqa: PLC0415 - tensorrt exists only on TensorRT machines

    if not frames:
        raise ValueError("no calibration frames were read")

    class FrameCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            self.buffer = DeviceBuffer(frames[0].nbytes)
            self.stream = CudaStream()

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names):
            if self.index >= len(frames):
                return None
            self.stream.upload(self.buffer, np.ascontiguousarray(frames[self.index]))
            self.stream.synchronize()
            self.index += 1
            return [self.buffer.ptr]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            cache_file.write_bytes(bytes(cache))

    return FrameCalibrator()


def engine_configs(sidecar: dict) -> tuple[ModelConfig, InferenceOptions]:
    """(architecture, test-time options) of an engine from its sidecar (older sidecars: from
    their ``model_config``, which then held the test-time options too)."""
    if sidecar.get("graph_metadata"):
        return graph_configs(sidecar["graph_metadata"])
    arch, options = split_legacy_config(sidecar["model_config"])
    return ModelConfig.from_dict(arch), options
