"""Inference backends behind one interface: ``infer(rgb) -> Prediction``.

Every backend runs the same camera-frame graph (:class:`~egsa_ros.export.frame_graph.CameraFrameModel`:
uint8 frame in; resize, Canny, network, upsampling and argmax inside; depth + mask out), so
the only per-pixel work left in Python is copying the result out.

- ``torch``: the module itself on CPU or CUDA; on CUDA optionally fp16 (Canny stays fp32)
  and CUDA graphs (one capture per frame size).
- ``onnxruntime``: the exported graph, providers TensorRT EP -> CUDA -> CPU (whatever is
  installed); ``providers`` records what ONNX Runtime really runs.
- ``tensorrt``: a serialized engine (:mod:`egsa_ros.runtime.tensorrt_backend`).

Graphs are static-shape: a backend built from a network prepares one graph per frame size
on first use (a few seconds; the pipeline warms up the expected size at load time).
"""
from __future__ import annotations

import logging
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np
import torch

from .prediction import Prediction, finite_or_nan, stage_timings

LOG = logging.getLogger("egsa_ros.pipeline")
BACKENDS = ("torch", "onnxruntime", "tensorrt")
Size = Tuple[int, int]


class Backend:
    """Base class: ``name``, ``providers`` (what actually runs) and ``infer``."""

    name: str = "base"
    providers: List[str] = []

    def infer(self, rgb: np.ndarray) -> Prediction:  # pragma: no cover - interface
        """rgb: (H, W, 3) uint8 C-contiguous RGB -> :class:`Prediction` at (H, W)."""
        raise NotImplementedError

    def prepare(self, frame_size: Size) -> None:
        """Build whatever a frame of ``frame_size`` (H, W) needs, so its first frame is fast."""


class _PerSizeCache:
    """Keeps the graphs of the last ``capacity`` frame sizes (a camera rarely changes size)."""

    def __init__(self, build: Callable[[Size], object], capacity: int = 4) -> None:
        self.build = build
        self.capacity = int(capacity)
        self.items: "OrderedDict[Size, object]" = OrderedDict()

    def get(self, size: Size):
        if size not in self.items:
            if self.items:
                LOG.info("egsa_ros: new frame size %dx%d, preparing its graph", size[1], size[0])
            self.items[size] = self.build(size)
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)
        self.items.move_to_end(size)
        return self.items[size]


class TorchBackend(Backend):
    """Runs the camera-frame module directly (eval mode, inference mode).

    Args:
        network: an :class:`EGSANet`.
        device: ``cpu`` or ``cuda[:N]``.
        threads: CPU threads (``torch.set_num_threads``), None to leave as is.
        fp16: run the network under fp16 autocast (CUDA only); Canny stays fp32.
        cuda_graphs: capture one CUDA graph per frame size and replay it (CUDA only).
        edge_phase: ``rgb`` | ``depth`` | None (config default).
    """

    def __init__(self, network: torch.nn.Module, *, device: str = "cpu", threads: Optional[int] = None,
                 fp16: bool = False, cuda_graphs: bool = False, edge_phase: Optional[str] = None) -> None:
        from ..export.frame_graph import CameraFrameModel

        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
        if (fp16 or cuda_graphs) and self.device.type != "cuda":
            raise ValueError("fp16 and cuda_graphs need device='cuda'")
        if threads:
            torch.set_num_threads(int(threads))
        self.network = network.eval().to(self.device)
        if self.device.type == "cpu":
            # channels_last: oneDNN convolutions skip layout reorders (~20 % faster here).
            self.network = self.network.to(memory_format=torch.channels_last)
        self.fp16, self.cuda_graphs = bool(fp16), bool(cuda_graphs)
        self.name = f"torch-{self.device.type}" + ("-fp16" if fp16 else "") + ("-cudagraph" if cuda_graphs else "")
        self.providers = [self.device.type]
        self._modules = _PerSizeCache(lambda size: CameraFrameModel(self.network, size, edge_phase=edge_phase))
        self._graphs = _PerSizeCache(self._capture) if cuda_graphs else None

    def _run(self, module, frame: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=self.fp16):
            depth, mask = module(frame)
        return depth.float(), mask

    def _capture(self, size: Size):
        """(static input, static outputs, CUDA graph) for frames of ``size``."""
        module = self._modules.get(size)
        static_in = torch.zeros((*size, 3), dtype=torch.uint8, device=self.device)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up on a side stream, as CUDA graph capture requires
                self._run(module, static_in)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._run(module, static_in)
        return static_in, static_out, graph

    def prepare(self, frame_size: Size) -> None:
        self._modules.get(tuple(frame_size))
        if self._graphs is not None:
            self._graphs.get(tuple(frame_size))

    def infer(self, rgb: np.ndarray) -> Prediction:
        t0 = time.perf_counter()
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        frame = torch.from_numpy(rgb)
        if self.device.type == "cuda":
            frame = frame.pin_memory().to(self.device, non_blocking=True)
            torch.cuda.synchronize(self.device)
        t1 = time.perf_counter()
        if self._graphs is not None:
            static_in, (depth, mask), graph = self._graphs.get(size)
            static_in.copy_(frame)
            graph.replay()
        else:
            depth, mask = self._run(self._modules.get(size), frame)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        depth_np, mask_np = depth.cpu().numpy(), mask.cpu().numpy()
        depth_np = finite_or_nan(depth_np)
        t3 = time.perf_counter()
        return Prediction(depth_np, mask_np, stage_timings(t0, t1, t2, t3))


DEFAULT_ORT_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


class OnnxRuntimeBackend(Backend):
    """Runs camera-frame ONNX graphs; ``providers`` lists what ONNX Runtime really uses.

    Args:
        source: an :class:`EGSANet` (graphs are exported per frame size on first use) or the
            path of a camera-frame ``.onnx`` written by ``egsa-export`` (static: that size only;
            dynamic: any size).
        threads: intra-op threads, None for ONNX Runtime's default.
        providers: execution providers in order of preference; default TensorRT EP, CUDA,
            CPU, filtered to those installed.
        spin: let idle ONNX Runtime threads busy-wait between runs. Off by default: on a
            robot the CPU is shared with the ROS executor and drivers, and spinning threads
            of one session slow every other process down.
        edge_phase: ``rgb`` | ``depth`` | None, when exporting from a network.
    """

    def __init__(self, source: Union[torch.nn.Module, str, Path], *, threads: Optional[int] = None,
                 providers: Optional[List[str]] = None, spin: bool = False,
                 edge_phase: Optional[str] = None) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.threads, self.spin, self.edge_phase = threads, spin, edge_phase
        available = ort.get_available_providers()
        self.requested_providers = [p for p in (providers or DEFAULT_ORT_PROVIDERS) if p in available]
        if not self.requested_providers:
            raise ValueError(f"none of the providers {providers} is available; installed: {available}")
        self.providers = list(self.requested_providers)
        self.name = "onnxruntime"
        self.network: Optional[torch.nn.Module] = None
        self.onnx_path: Optional[Path] = None
        self.graph_frame_size: Optional[Size] = None  # None: dynamic
        if isinstance(source, torch.nn.Module):
            self.network = source.eval()
        else:
            from ..export.onnx_export import read_frame_metadata

            self.onnx_path = Path(source)
            meta = read_frame_metadata(self.onnx_path)
            if meta["egsa.frame_size"] != "dynamic":
                h, w = (int(v) for v in meta["egsa.frame_size"].split("x"))
                self.graph_frame_size = (h, w)
            self.metadata = meta
        self._sessions = _PerSizeCache(self._session_for)
        self._shared_session = None

    def _new_session(self, path: Path):
        options = self._ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = int(self.threads)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = self._ort.InferenceSession(str(path), options, providers=self.requested_providers)
        # onnxruntime-gpu lists GPU providers even without a GPU and silently falls back:
        # only get_providers() tells what runs.
        self.providers = session.get_providers()
        self.name = "onnxruntime-" + self.providers[0].replace("ExecutionProvider", "").lower()
        return session

    def _session_for(self, size: Size):
        if self.network is not None:
            from ..export.onnx_export import export_frame_onnx

            # The file is only needed while the session loads (no external data): don't keep it.
            with tempfile.TemporaryDirectory(prefix="egsa_pipeline_") as workdir:
                path = export_frame_onnx(self.network, Path(workdir) / "frame.onnx", size,
                                         edge_phase=self.edge_phase, simplify=False, check=False)
                return self._new_session(path)
        if self.graph_frame_size is None:  # one dynamic graph serves every size
            if self._shared_session is None:
                self._shared_session = self._new_session(self.onnx_path)
            return self._shared_session
        if size != self.graph_frame_size:
            gh, gw = self.graph_frame_size
            raise ValueError(
                f"{self.onnx_path} was exported for {gw}x{gh} frames, got {size[1]}x{size[0]}: export one for "
                f"this size (`egsa-export --frame-size {size[0]}x{size[1]}`) or a dynamic graph (`--dynamic`)")
        return self._new_session(self.onnx_path)

    def prepare(self, frame_size: Size) -> None:
        self._sessions.get(tuple(frame_size))

    def infer(self, rgb: np.ndarray) -> Prediction:
        t0 = time.perf_counter()
        session = self._sessions.get((int(rgb.shape[0]), int(rgb.shape[1])))
        t1 = time.perf_counter()
        depth, mask = session.run(["depth", "mask"], {"frame": rgb})
        t2 = time.perf_counter()
        depth = finite_or_nan(depth)
        t3 = time.perf_counter()
        return Prediction(depth, mask, stage_timings(t0, t1, t2, t3))


def make_backend(name: str, network: Optional[torch.nn.Module], *, threads: Optional[int] = None,
                 **options) -> Backend:
    """Build backend ``name`` for ``network``; ``options`` go to the backend's constructor.

    For ``tensorrt`` pass ``engine=PATH`` (and optionally ``onnx=PATH`` to rebuild a
    mismatched engine), see :class:`~egsa_ros.runtime.tensorrt_backend.TensorRTBackend`.
    """
    if name == "torch":
        return TorchBackend(network, threads=threads, **options)
    if name == "onnxruntime":
        return OnnxRuntimeBackend(options.pop("onnx", None) or network, threads=threads, **options)
    if name == "tensorrt":
        from .tensorrt_backend import TensorRTBackend

        return TensorRTBackend(**options)
    raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")

