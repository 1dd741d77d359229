"""Export to ONNX (opset 17, legacy TorchScript exporter) and check the result.

- :func:`~egsa_ros.model.frame_onnx.export_frame_onnx` (re-exported here): the deployed
  camera-frame graph; :func:`frame_parity` compares ONNX Runtime with torch on it.
- :func:`export_network_onnx`: the bare network, ``rgb`` (B, 3, H, W) float32 0..255 in,
  ``depth`` (B, 1, H, W) and ``seg_logits`` (B, K, H, W) out (used to test every preset and
  fusion variant); :func:`onnx_parity` compares it with torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ..model.frame_onnx import OPSET, export_frame_onnx, quiet_tracing
from ..model.graph_metadata import read_frame_metadata

__all__ = [
    "OPSET",
    "export_frame_onnx",
    "export_network_onnx",
    "export_network_with_edges_onnx",
    "frame_parity",
    "onnx_op_types",
    "onnx_parity",
    "quiet_tracing",
    "read_frame_metadata",
]


class _InferenceWrapper(torch.nn.Module):
    """Fixes the edge phase so the exported graph has a single tensor input."""

    def __init__(self, model: torch.nn.Module, edge_phase: str | None) -> None:
        super().__init__()
        self.model = model
        self.edge_phase = edge_phase

    def forward(self, rgb: torch.Tensor):
        out = self.model(rgb, edge_phase=self.edge_phase)
        return out.depth, out.seg_logits  # tracing exports tensors, not the NetOutput dataclass


def export_network_onnx(
    model: torch.nn.Module,
    path: str | Path,
    *,
    input_size: tuple[int, int] | None = None,
    batch: int = 1,
    edge_phase: str | None = None,
    check: bool = True,
) -> Path:
    """Export ``model`` (an :class:`EGSANet`) in eval mode to ``path`` at opset 17, static shapes.

    Args:
        model: the network; it is switched to eval mode (and left there).
        path: output ``.onnx`` file (parent folders are created).
        input_size: (H, W) of the graph input; default ``model.config.input_size``.
        batch: static batch size.
        edge_phase: ``rgb`` | ``depth`` | None (the config's inference phase).
        check: run ``onnx.checker.check_model(full_check=True)`` on the result.

    Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = input_size or tuple(model.config.input_size)
    model.eval()
    wrapper = _InferenceWrapper(model, edge_phase).eval()
    dummy = torch.full((batch, 3, h, w), 128.0)
    with torch.no_grad(), quiet_tracing():
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["rgb"],
            output_names=["depth", "seg_logits"],
            do_constant_folding=True,
        )
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    return path


def onnx_parity(
    model: torch.nn.Module, path: str | Path, rgb: torch.Tensor, *, edge_phase: str | None = None, threads: int = 2
) -> dict[str, float]:
    """Run the ONNX file in ONNX Runtime (CPU) and torch on ``rgb``; return max abs differences.

    Returns ``{"depth_max_abs_m": ..., "seg_max_abs": ..., "mask_agreement": ...}``, where
    mask agreement is the fraction of pixels whose argmax class agrees.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model.eval()
    with torch.no_grad():
        out = model(rgb, edge_phase=edge_phase)
        depth_t, seg_t = out.depth, out.seg_logits
    depth_o, seg_o = session.run(["depth", "seg_logits"], {"rgb": rgb.numpy().astype(np.float32)})
    return {
        "depth_max_abs_m": float(np.abs(depth_o - depth_t.numpy()).max()),
        "seg_max_abs": float(np.abs(seg_o - seg_t.numpy()).max()),
        "mask_agreement": float((seg_o.argmax(1) == seg_t.numpy().argmax(1)).mean()),
    }


def onnx_op_types(path: str | Path) -> dict[str, int]:
    """Count the node types of an ONNX graph (for operator checks and reports)."""
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def frame_parity(
    frame_model: torch.nn.Module, path: str | Path, frame: np.ndarray, *, threads: int = 2
) -> dict[str, float]:
    """ONNX Runtime (CPU) vs torch on one (H, W, 3) uint8 frame through the camera-frame graph.

    Returns ``depth_max_abs_m`` and ``mask_agreement`` (fraction of equal mask pixels).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        depth_t, mask_t = frame_model(torch.from_numpy(np.ascontiguousarray(frame)))
    depth_o, mask_o = session.run(["depth", "mask"], {"frame": frame})
    if depth_o.shape != tuple(depth_t.shape) or mask_o.dtype != np.uint8:
        raise AssertionError(f"ONNX outputs {depth_o.shape} {mask_o.dtype} do not match torch {tuple(depth_t.shape)}")
    return {
        "depth_max_abs_m": float(np.abs(depth_o - depth_t.numpy()).max()),
        "mask_agreement": float((mask_o == mask_t.numpy()).mean()),
    }


class _WithExternalEdges(torch.nn.Module):
    """The network with its RGB edge map as a second graph input (Canny computed outside)."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, rgb: torch.Tensor, edges: torch.Tensor):
        out = self.network(rgb, rgb_edges=edges)
        return out.depth, out.seg_logits


def export_network_with_edges_onnx(network: torch.nn.Module, path: str | Path) -> Path:
    """Export the bare network with inputs ``rgb`` (1, 3, h, w) float 0..255 and ``edges``
    (1, 1, h, w) {0, 1} (the deployment that runs ``cv2.Canny`` on the CPU), outputs ``depth``
    and ``seg_logits``; static shapes at the config's input size, opset 17."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = network.config.input_size
    with torch.no_grad(), quiet_tracing():
        torch.onnx.export(
            _WithExternalEdges(network.eval()).eval(),
            (torch.zeros(1, 3, h, w), torch.zeros(1, 1, h, w)),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["rgb", "edges"],
            output_names=["depth", "seg_logits"],
        )
    return path
