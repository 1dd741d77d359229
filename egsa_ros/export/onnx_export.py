"""Export the network (normalisation, in-graph Canny, encoder, decoder) to ONNX and check it.

The graph takes ``rgb`` (B, 3, H, W) float32 with values 0..255 and returns ``depth``
(B, 1, H, W) metres and ``seg_logits`` (B, K, H, W). The camera-frame graph (uint8 HxWx3 in,
resize, argmax mask out) wraps this network; see the export issue.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

OPSET = 17


class _InferenceWrapper(torch.nn.Module):
    """Fixes the edge phase so the exported graph has a single tensor input."""

    def __init__(self, model: torch.nn.Module, edge_phase: Optional[str]) -> None:
        super().__init__()
        self.model = model
        self.edge_phase = edge_phase

    def forward(self, rgb: torch.Tensor):
        return self.model(rgb, edge_phase=self.edge_phase)


def export_network_onnx(model: torch.nn.Module, path: Union[str, Path], *,
                        input_size: Optional[Tuple[int, int]] = None, batch: int = 1,
                        edge_phase: Optional[str] = None, check: bool = True) -> Path:
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
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = input_size or tuple(model.config.input_size)
    model.eval()
    wrapper = _InferenceWrapper(model, edge_phase).eval()
    dummy = torch.full((batch, 3, h, w), 128.0)
    with torch.no_grad(), warnings.catch_warnings():
        # Shape checks in forward are Python ints at trace time: static shapes, as intended.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        # We use the TorchScript exporter on purpose: opset 17 (TensorRT-friendly), no
        # external-data files. The dynamo exporter targets opset 18.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript", category=DeprecationWarning)
        torch.onnx.export(
            wrapper, (dummy,), str(path), dynamo=False, opset_version=OPSET,
            input_names=["rgb"], output_names=["depth", "seg_logits"], do_constant_folding=True)
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    return path


def onnx_parity(model: torch.nn.Module, path: Union[str, Path], rgb: torch.Tensor, *,
                edge_phase: Optional[str] = None, threads: int = 2) -> Dict[str, float]:
    """Run the ONNX file in ONNX Runtime (CPU) and torch on ``rgb``; return max abs differences.

    Returns ``{"depth_max_abs_m": ..., "seg_max_abs": ..., "mask_agreement": ...}``, where
    mask agreement is the fraction of pixels whose argmax class agrees.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model.eval()
    with torch.no_grad():
        depth_t, seg_t = model(rgb, edge_phase=edge_phase)
    depth_o, seg_o = session.run(["depth", "seg_logits"], {"rgb": rgb.numpy().astype(np.float32)})
    return {
        "depth_max_abs_m": float(np.abs(depth_o - depth_t.numpy()).max()),
        "seg_max_abs": float(np.abs(seg_o - seg_t.numpy()).max()),
        "mask_agreement": float((seg_o.argmax(1) == seg_t.numpy().argmax(1)).mean()),
    }


def onnx_op_types(path: Union[str, Path]) -> Dict[str, int]:
    """Count the node types of an ONNX graph (for operator checks and reports)."""
    import onnx

    counts: Dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
