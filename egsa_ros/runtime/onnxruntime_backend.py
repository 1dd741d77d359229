"""ONNX Runtime backend: camera-frame graphs from files, or exported on demand.

Graphs come from a mapping ``{(H, W): static graph, None: dynamic graph}`` (what ``egsa-export``
writes and what a checkpoint ships in ``graphs/``) and, for frame sizes none of them serves,
from an optional ``export(size, path)`` callable (the torch path: the network is exported for
that size on first use). This module never imports torch.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .backend import Backend, PerSizeCache, Size
from .prediction import Prediction, finite_or_nan, stage_timings

DEFAULT_ORT_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
GraphExporter = Callable[[Size, Path], Path]


class OnnxRuntimeBackend(Backend):
    """Runs camera-frame ONNX graphs; ``providers`` lists what ONNX Runtime really uses.

    Args:
        graphs: ``{(H, W): path}`` static graphs and/or ``{None: path}`` one dynamic graph.
        export: ``export(size, path) -> path`` writes a graph for a frame size no file serves
            (None: such frames raise ``ValueError``).
        threads: intra-op threads, None for ONNX Runtime's default.
        providers: execution providers in order of preference; default TensorRT EP, CUDA,
            CPU, filtered to those installed.
        spin: let idle ONNX Runtime threads busy-wait between runs. Off by default: on a
            robot the CPU is shared with the ROS executor and drivers, and spinning threads
            of one session slow every other process down.
        trt_cache_dir: engine cache directory for ONNX Runtime's TensorRT execution provider
            (engines are built once per graph and GPU, then reused across restarts).
    """

    def __init__(
        self,
        graphs: Mapping[Size | None, str | Path] | None = None,
        *,
        export: GraphExporter | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
        spin: bool = False,
        trt_cache_dir: str | Path | None = None,
    ) -> None:
        self.graphs = {size: Path(path) for size, path in (graphs or {}).items()}
        if not self.graphs and export is None:
            raise ValueError("OnnxRuntimeBackend needs graph files or an exporter")
        self.export = export
        self.threads, self.spin = threads, spin
        self.trt_cache_dir = Path(trt_cache_dir) if trt_cache_dir else None
        available = ort.get_available_providers()
        self.requested_providers = [p for p in (providers or DEFAULT_ORT_PROVIDERS) if p in available]
        if not self.requested_providers:
            raise ValueError(f"none of the providers {providers} is available; installed: {available}")
        self.providers = list(self.requested_providers)
        self.name = "onnxruntime"
        self._sessions = PerSizeCache(self._session_for)
        self._shared_session = None

    @property
    def graph_frame_size(self) -> Size | None:
        """The only frame size this backend can serve (one static graph, no exporter), else None."""
        static = [size for size in self.graphs if size is not None]
        if self.export is None and None not in self.graphs and len(static) == 1:
            return static[0]
        return None

    def _provider_options(self) -> list:
        """Providers with options (TensorRT EP: engine cache) for ``InferenceSession``."""
        out = []
        for name in self.requested_providers:
            if name == "TensorrtExecutionProvider" and self.trt_cache_dir is not None:
                self.trt_cache_dir.mkdir(parents=True, exist_ok=True)
                out.append((name, {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(self.trt_cache_dir)}))
            else:
                out.append(name)
        return out

    def _new_session(self, path: Path) -> ort.InferenceSession:
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = int(self.threads)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=self._provider_options())
        # onnxruntime-gpu lists GPU providers even without a GPU and silently falls back:
        # only get_providers() tells what runs.
        self.providers = session.get_providers()
        self.name = "onnxruntime-" + self.providers[0].replace("ExecutionProvider", "").lower()
        return session

    def _session_for(self, size: Size) -> ort.InferenceSession:
        if size in self.graphs:
            return self._new_session(self.graphs[size])
        if None in self.graphs:  # one dynamic graph serves every other size
            if self._shared_session is None:
                self._shared_session = self._new_session(self.graphs[None])
            return self._shared_session
        if self.export is not None:
            # The file is only needed while the session loads (no external data): don't keep it.
            with tempfile.TemporaryDirectory(prefix="egsa_pipeline_") as workdir:
                return self._new_session(self.export(size, Path(workdir) / "frame.onnx"))
        served = ", ".join(f"{w}x{h}" for h, w in self.graphs)
        raise ValueError(
            f"no camera-frame graph for {size[1]}x{size[0]} frames (these graphs serve {served}): export one for "
            f"this size (`egsa-export --frame-size {size[0]}x{size[1]}`) or a dynamic graph (`--dynamic`)"
        )

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
