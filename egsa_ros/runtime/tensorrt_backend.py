"""TensorRT backend: a serialized camera-frame engine, guarded by its sidecar.

Written against the documented TensorRT 10 Python API (``deserialize_cuda_engine``,
named I/O tensors, ``set_tensor_address``, ``execute_async_v3``); device buffers are torch
CUDA tensors, so no pycuda is needed. CUDA is checked *before* a TensorRT runtime is
created: creating one without CUDA crashes the process on deserialisation.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..export.tensorrt_engine import (EngineMismatchError, build_engine, cuda_and_tensorrt_status,
                                      read_sidecar, running_identity, sidecar_mismatches)
from .backends import Backend
from .prediction import Prediction, finite_or_nan, stage_timings

LOG = logging.getLogger("egsa_ros.pipeline")


class TensorRTBackend(Backend):
    """Run a TensorRT engine built by ``export/build_engine.py``.

    Args:
        engine: the ``.engine`` file (its sidecar ``.engine.json`` next to it).
        onnx: the camera-frame ONNX graph it was built from; needed for ``rebuild``.
        rebuild: when the sidecar does not match this TensorRT/GPU, rebuild the engine from
            ``onnx`` (same precision) instead of raising :class:`EngineMismatchError`.
        device: CUDA device index.
    """

    def __init__(self, engine: Union[str, Path], *, onnx: Optional[Union[str, Path]] = None,
                 rebuild: bool = False, device: int = 0) -> None:
        usable, reason = cuda_and_tensorrt_status()
        if not usable:
            raise RuntimeError(f"the TensorRT backend cannot run here: {reason}")
        import tensorrt as trt
        import torch

        engine = Path(engine)
        if not engine.is_file():
            raise FileNotFoundError(f"TensorRT engine not found: {engine} (build one with export/build_engine.py)")
        sidecar = read_sidecar(engine)
        problems = sidecar_mismatches(sidecar, running_identity(device))
        if problems:
            if not (rebuild and onnx):
                raise EngineMismatchError(
                    f"engine {engine} does not match this machine:\n  " + "\n  ".join(problems) +
                    f"\nrebuild it: python export/build_engine.py --onnx MODEL.onnx --out {engine} "
                    f"--precision {sidecar.get('precision', 'fp16')} (or pass rebuild=True with onnx=...)")
            LOG.warning("engine %s does not match this machine (%s): rebuilding from %s", engine,
                        "; ".join(problems), onnx)
            build_engine(onnx, engine, precision=sidecar.get("precision", "fp16"), device=device)
            sidecar = read_sidecar(engine)

        self.torch = torch
        self.device = torch.device("cuda", device)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(engine.read_bytes())
        if self.engine is None:
            raise EngineMismatchError(f"TensorRT could not deserialize {engine} (see the TensorRT log); rebuild it")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if self.inputs != ["frame"] or not {"depth", "mask"} <= set(names):
            raise EngineMismatchError(f"{engine} has tensors {names}; expected input 'frame' and outputs "
                                      "'depth', 'mask' (a camera-frame graph from egsa-export)")
        self.frame_shape = tuple(self.engine.get_tensor_shape("frame"))
        self.stream = torch.cuda.Stream(self.device)
        self.sidecar = sidecar
        self.name = f"tensorrt-{sidecar.get('precision', '?')}"
        self.providers = [f"TensorRT {sidecar.get('tensorrt_version')}", sidecar.get("gpu_name", "")]
        self._buffers = {}

    def _buffers_for(self, size):
        """(input, depth, mask) device tensors for frames of ``size`` (H, W)."""
        if size not in self._buffers:
            torch = self.torch
            expected = self.frame_shape[:2]
            if all(d >= 0 for d in expected) and tuple(expected) != tuple(size):
                raise ValueError(f"engine input is {expected[1]}x{expected[0]}, frame is {size[1]}x{size[0]}: "
                                 "build an engine for this size (egsa-export --frame-size, build_engine.py)")
            frame = torch.empty((*size, 3), dtype=torch.uint8, device=self.device)
            depth = torch.empty(size, dtype=torch.float32, device=self.device)
            mask = torch.empty(size, dtype=torch.uint8, device=self.device)
            self._buffers = {size: (frame, depth, mask)}  # one size at a time
        return self._buffers[size]

    def infer(self, rgb: np.ndarray) -> Prediction:
        torch = self.torch
        t0 = time.perf_counter()
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        frame, depth, mask = self._buffers_for(size)
        with torch.cuda.stream(self.stream):
            frame.copy_(torch.from_numpy(rgb).pin_memory(), non_blocking=True)
        self.stream.synchronize()
        t1 = time.perf_counter()
        if any(d < 0 for d in self.frame_shape):
            self.context.set_input_shape("frame", (*size, 3))
        for name, tensor in (("frame", frame), ("depth", depth), ("mask", mask)):
            self.context.set_tensor_address(name, int(tensor.data_ptr()))
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        self.stream.synchronize()
        t2 = time.perf_counter()
        depth_np = finite_or_nan(depth.cpu().numpy())
        mask_np = mask.cpu().numpy()
        t3 = time.perf_counter()
        return Prediction(depth_np, mask_np, stage_timings(t0, t1, t2, t3))
