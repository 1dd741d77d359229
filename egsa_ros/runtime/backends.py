"""Inference backends behind one interface: ``infer(net_in) -> (depth, logits)``.

``net_in`` is (1, 3, h, w) float32 RGB 0..255 at the network size; outputs are numpy arrays
(1, 1, h, w) metres and (1, K, h, w) logits. Available here: ``torch`` (CPU/CUDA) and
``onnxruntime`` (records the providers that really run). ``tensorrt`` is planned with the
export issue and raises a clear error until then.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

BACKENDS = ("torch", "onnxruntime", "tensorrt")


class Backend:
    """Base class: ``name``, ``providers`` (what actually runs) and ``infer``."""

    name: str = "base"
    providers: List[str] = []

    def infer(self, net_in: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


class TorchBackend(Backend):
    """Runs the :class:`EGSANet` module directly (eval mode, no grad)."""

    def __init__(self, network: torch.nn.Module, *, device: str = "cpu", threads: Optional[int] = None) -> None:
        if threads:
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        self.network = network.eval().to(self.device)
        if self.device.type == "cpu":
            # channels_last: oneDNN convolutions skip layout reorders (~20 % faster here).
            self.network = self.network.to(memory_format=torch.channels_last)
        self.name = f"torch-{self.device.type}"
        self.providers = [self.device.type]

    def infer(self, net_in: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            depth, logits = self.network(torch.from_numpy(net_in).to(self.device))
        return depth.cpu().numpy(), logits.cpu().numpy()


class OnnxRuntimeBackend(Backend):
    """Runs an exported ONNX graph; ``providers`` lists what ONNX Runtime really uses."""

    def __init__(self, onnx_path: Path, *, threads: Optional[int] = None,
                 providers: Optional[List[str]] = None, spin: bool = False) -> None:
        """``spin``: let idle ONNX Runtime threads busy-wait between runs. Off by default:
        on a robot the CPU is shared with the ROS executor and drivers, and spinning threads
        of one session slow every other process down."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        available = ort.get_available_providers()
        wanted = providers or ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(onnx_path), options,
                                            providers=[p for p in wanted if p in available])
        # onnxruntime-gpu lists GPU providers even without a GPU and silently falls back:
        # only get_providers() tells what runs.
        self.providers = self.session.get_providers()
        self.name = "onnxruntime-" + self.providers[0].replace("ExecutionProvider", "").lower()
        self.onnx_path = Path(onnx_path)

    def infer(self, net_in: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        depth, logits = self.session.run(["depth", "seg_logits"], {"rgb": net_in})
        return depth, logits


def make_backend(name: str, network: torch.nn.Module, *, workdir: Path, threads: Optional[int] = None) -> Backend:
    """Build backend ``name`` for ``network`` (ONNX files are written under ``workdir``)."""
    if name == "torch":
        return TorchBackend(network, threads=threads)
    if name == "onnxruntime":
        from ..export.onnx_export import export_network_onnx

        path = export_network_onnx(network, Path(workdir) / "network.onnx")
        return OnnxRuntimeBackend(path, threads=threads)
    if name == "tensorrt":
        raise RuntimeError(
            "the TensorRT backend is not implemented yet (it comes with the export/runtime issue); "
            "use backend='onnxruntime' or 'torch'")
    raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
