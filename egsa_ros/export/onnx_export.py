"""Export to ONNX (opset 17, legacy TorchScript exporter) and check the result.

- :func:`export_frame_onnx`: the deployed camera-frame graph (:mod:`.frame_graph`): ``frame``
  (H, W, 3) uint8 in; ``depth`` (H, W) metres and ``mask`` (H, W) uint8 out; simplified,
  checked, with ``egsa.*`` metadata (:func:`read_frame_metadata`); :func:`frame_parity`
  compares ONNX Runtime with torch.
- :func:`export_network_onnx`: the bare network, ``rgb`` (B, 3, H, W) float32 0..255 in,
  ``depth`` (B, 1, H, W) and ``seg_logits`` (B, K, H, W) out (used to test every preset and
  fusion variant); :func:`onnx_parity` compares it with torch.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

OPSET = 17


@contextlib.contextmanager
def quiet_tracing():
    """Silence the legacy exporter's expected warnings (static shapes are what we want)."""
    with warnings.catch_warnings():
        # Shape checks in forward are Python ints at trace time: static shapes, as intended.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        # We use the TorchScript exporter on purpose: opset 17 (TensorRT-friendly), no
        # external-data files. The dynamo exporter targets opset 18.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript", category=DeprecationWarning)
        yield


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
    with torch.no_grad(), quiet_tracing():
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


# --------------------------------------------------------------------------- camera-frame graph
FRAME_FORMAT = "egsa_ros.camera_frame"
FRAME_FORMAT_VERSION = 1


def export_frame_onnx(network: torch.nn.Module, path: Union[str, Path], frame_size: Tuple[int, int], *,
                      dynamic: bool = False, edge_phase: Optional[str] = None,
                      net_size: Optional[Tuple[int, int]] = None, simplify: bool = True,
                      check: bool = True, model_name: str = "") -> Path:
    """Export the whole camera-frame graph (:class:`CameraFrameModel`) to ONE ONNX file.

    Input ``frame`` (H, W, 3) uint8 RGB; outputs ``depth`` (H, W) float32 metres and ``mask``
    (H, W) uint8 (1 = transparent). Opset 17; static shapes unless ``dynamic`` (then H and W
    are named dims ``height``/``width``). The graph is simplified with onnxslim, checked with
    ``onnx.checker`` (full check) and carries ``egsa.*`` metadata (format version, package
    version, model config, frame and network size, encoder stride, edge phase).

    Args:
        network: trained :class:`EGSANet`.
        path: output ``.onnx`` file.
        frame_size: (H, W) camera frame size, pixels (traced size when ``dynamic``).
        dynamic: accept any frame size at run time.
        edge_phase: ``rgb`` | ``depth`` | None (config's inference phase).
        net_size: (h, w) network size; default the config's (must be a stride multiple).
        simplify: run onnxslim (constant folding, dead-node and shape clean-up).
        check: ``onnx.checker.check_model(full_check=True)`` on the final file.
        model_name: free text stored as ``egsa.model_name``.
    """
    import json

    import onnx

    from .. import __version__
    from .frame_graph import CameraFrameModel

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_model = CameraFrameModel(network, frame_size, edge_phase=edge_phase, dynamic=dynamic,
                                   net_size=net_size).eval()
    height, width = frame_model.frame_size
    dummy = torch.full((height, width, 3), 128, dtype=torch.uint8)
    dynamic_axes = {"frame": {0: "height", 1: "width"}, "depth": {0: "height", 1: "width"},
                    "mask": {0: "height", 1: "width"}} if dynamic else None
    with torch.no_grad(), quiet_tracing():
        torch.onnx.export(frame_model, (dummy,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["frame"], output_names=["depth", "mask"],
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    proto = onnx.load(str(path))
    if simplify:
        import onnxslim

        proto = onnxslim.slim(proto)
    config = network.config
    meta = {
        "egsa.format": FRAME_FORMAT,
        "egsa.format_version": str(FRAME_FORMAT_VERSION),
        "egsa.package_version": __version__,
        "egsa.model_name": model_name,
        "egsa.model_config": json.dumps(config.to_dict(), sort_keys=True),
        "egsa.frame_size": "dynamic" if dynamic else f"{height}x{width}",
        "egsa.network_size": "{}x{}".format(*frame_model.net_size),
        "egsa.size_divisor": str(network.backbone.size_divisor),
        "egsa.edge_phase": network.resolve_edge_phase(edge_phase),
        "egsa.transparent_class": str(frame_model.transparent_class),
        "egsa.canny_scope": "canny",
    }
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = ("egsa_ros camera-frame graph: frame (H, W, 3) uint8 RGB -> depth (H, W) float32 "
                        "metres, mask (H, W) uint8 1 = transparent")
    onnx.save(proto, str(path))
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    return path


def read_frame_metadata(path: Union[str, Path]) -> Dict[str, str]:
    """``egsa.*`` metadata of a camera-frame ONNX graph; clear errors for foreign or old files."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError / google.protobuf errors
        raise ValueError(f"{path} is not a readable ONNX file ({exc})") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("egsa.format") != FRAME_FORMAT:
        raise ValueError(f"{path} is not an egsa_ros camera-frame graph (no egsa.format metadata); "
                         "export one with `egsa-export`")
    version = int(meta.get("egsa.format_version", "0"))
    if version != FRAME_FORMAT_VERSION:
        raise ValueError(f"{path} has camera-frame format version {version}, this egsa_ros reads "
                         f"version {FRAME_FORMAT_VERSION}: re-export it with this version's `egsa-export`")
    return meta


def frame_parity(frame_model: torch.nn.Module, path: Union[str, Path], frame: np.ndarray, *,
                 threads: int = 2) -> Dict[str, float]:
    """ONNX Runtime (CPU) vs torch on one (H, W, 3) uint8 frame through the camera-frame graph.

    Returns ``depth_max_abs_m`` and ``mask_agreement`` (fraction of equal mask pixels).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        depth_t, mask_t = frame_model(torch.from_numpy(np.ascontiguousarray(frame)))
    depth_o, mask_o = session.run(["depth", "mask"], {"frame": frame})
    if depth_o.shape != tuple(depth_t.shape) or mask_o.dtype != np.uint8:
        raise AssertionError(f"ONNX outputs {depth_o.shape} {mask_o.dtype} do not match torch {tuple(depth_t.shape)}")
    return {"depth_max_abs_m": float(np.abs(depth_o - depth_t.numpy()).max()),
            "mask_agreement": float((mask_o == mask_t.numpy()).mean())}
