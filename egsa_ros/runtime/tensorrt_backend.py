"""TensorRT backend: a serialized camera-frame engine, guarded by its sidecar (no torch).

Written against the documented TensorRT 10 Python API (``deserialize_cuda_engine``, named I/O
tensors, ``set_tensor_address``, ``execute_async_v3``); device buffers and copies go through
NVIDIA's ``cuda-python`` (:mod:`egsa_ros.model.cuda_runtime`). CUDA is checked *before* a
TensorRT runtime is created: creating one without CUDA crashes the process on deserialisation.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..model.cuda_runtime import CudaStream, DeviceBuffer
from ..model.tensorrt_engine import (
    EngineMismatchError,
    build_engine,
    cuda_and_tensorrt_status,
    read_sidecar,
    running_identity,
    sidecar_mismatches,
)
from .backend import Backend, Size
from .prediction import Prediction, finite_or_nan, stage_timings

LOG = logging.getLogger("egsa_ros.pipeline")


class TensorRTBackend(Backend):
    """Run a TensorRT engine built by ``egsa-build-engine``.

    Args:
        engine: the ``.engine`` file (its sidecar ``.engine.json`` next to it).
        onnx: the camera-frame ONNX graph it was built from; needed for ``rebuild``.
        rebuild: when the sidecar does not match this TensorRT/GPU, rebuild the engine from
            ``onnx`` (same precision) instead of raising :class:`EngineMismatchError`.
        device: CUDA device index.
    """

    def __init__(
        self, engine: str | Path, *, onnx: str | Path | None = None, rebuild: bool = False, device: int = 0
    ) -> None:
        usable, reason = cuda_and_tensorrt_status()
        if not usable:
            raise RuntimeError(f"the TensorRT backend cannot run here: {reason}")
        import tensorrt as trt  # noqa: PLC0415 - tensorrt exists only on TensorRT machines

        engine = Path(engine)
        if not engine.is_file():
            raise FileNotFoundError(f"TensorRT engine not found: {engine} (build one with egsa-build-engine)")
        sidecar = read_sidecar(engine)
        problems = sidecar_mismatches(sidecar, running_identity(device))
        if problems:
            if not (rebuild and onnx):
                raise EngineMismatchError(
                    f"engine {engine} does not match this machine: "
                    + "; ".join(problems)
                    + f"; rebuild it: egsa-build-engine --onnx MODEL.onnx --out {engine} "
                    f"--precision {sidecar.get('precision', 'fp16')} (or pass rebuild=True with onnx=...)"
                )
            LOG.warning(
                "engine %s does not match this machine (%s): rebuilding from %s", engine, "; ".join(problems), onnx
            )
            build_engine(onnx, engine, precision=sidecar.get("precision", "fp16"), device=device)
            sidecar = read_sidecar(engine)

        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(engine.read_bytes())
        if self.engine is None:
            raise EngineMismatchError(f"TensorRT could not deserialize {engine} (see the TensorRT log); rebuild it")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if self.inputs != ["frame"] or not {"depth", "mask"} <= set(names):
            raise EngineMismatchError(
                f"{engine} has tensors {names}; expected input 'frame' and outputs "
                "'depth', 'mask' (a camera-frame graph from egsa-export)"
            )
        self.frame_shape = tuple(self.engine.get_tensor_shape("frame"))
        self.stream = CudaStream()
        self.sidecar = sidecar
        self.name = f"tensorrt-{sidecar.get('precision', '?')}"
        self.providers = [f"TensorRT {sidecar.get('tensorrt_version')}", sidecar.get("gpu_name", "")]
        self._size: Size | None = None
        self._buffers: dict[str, DeviceBuffer] = {}

    def _buffers_for(self, size: Size) -> dict[str, DeviceBuffer]:
        """Device buffers ``frame``, ``depth``, ``mask`` for frames of ``size`` (H, W); one size at a time."""
        if size != self._size:
            expected = self.frame_shape[:2]
            if all(d >= 0 for d in expected) and tuple(expected) != tuple(size):
                raise ValueError(
                    f"engine input is {expected[1]}x{expected[0]}, frame is {size[1]}x{size[0]}: "
                    "build an engine for this size (egsa-export --frame-size, egsa-build-engine)"
                )
            for buffer in self._buffers.values():
                buffer.free()
            pixels = size[0] * size[1]
            self._buffers = {
                "frame": DeviceBuffer(pixels * 3),
                "depth": DeviceBuffer(pixels * 4),
                "mask": DeviceBuffer(pixels),
            }
            self._size = size
        return self._buffers

    def infer(self, rgb: np.ndarray) -> Prediction:
        t0 = time.perf_counter()
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        buffers = self._buffers_for(size)
        self.stream.upload(buffers["frame"], np.ascontiguousarray(rgb))
        t1 = time.perf_counter()
        if any(d < 0 for d in self.frame_shape):
            self.context.set_input_shape("frame", (*size, 3))
        for name, buffer in buffers.items():
            self.context.set_tensor_address(name, buffer.ptr)
        if not self.context.execute_async_v3(self.stream.address):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        depth = np.empty(size, dtype=np.float32)
        mask = np.empty(size, dtype=np.uint8)
        self.stream.download(depth, buffers["depth"])
        self.stream.download(mask, buffers["mask"])
        self.stream.synchronize()
        t2 = time.perf_counter()
        depth = finite_or_nan(depth)
        t3 = time.perf_counter()
        return Prediction(depth, mask, stage_timings(t0, t1, t2, t3))
