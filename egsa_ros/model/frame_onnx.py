"""Export the camera-frame graph to ONE ONNX file (opset 17, legacy TorchScript exporter).

``frame`` (H, W, 3) uint8 RGB in; ``depth`` (H, W) float32 metres and ``mask`` (H, W) uint8
(1 = transparent) out; simplified with onnxslim, checked with ``onnx.checker`` and stamped with
``egsa.*`` metadata (:mod:`egsa_ros.model.graph_metadata`) so a torch-free runtime knows what
it runs.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from ..version import __version__
from .frame_graph import CameraFrameModel
from .graph_metadata import FRAME_FORMAT, FRAME_FORMAT_VERSION
from .inference_options import InferenceOptions

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


def export_frame_onnx(
    network: nn.Module,
    path: str | Path,
    frame_size: tuple[int, int],
    *,
    dynamic: bool = False,
    edge_phase: str | None = None,
    net_size: tuple[int, int] | None = None,
    options: InferenceOptions | None = None,
    simplify: bool = True,
    check: bool = True,
    model_name: str = "",
    weights_sha256: str = "",
) -> Path:
    """Export the whole camera-frame graph (:class:`CameraFrameModel`) to ONE ONNX file.

    Static shapes unless ``dynamic`` (then H and W are the named dims ``height``/``width``).

    Args:
        network: trained :class:`~egsa_ros.model.net.EGSANet`.
        path: output ``.onnx`` file.
        frame_size: (H, W) camera frame size, pixels (the traced size when ``dynamic``).
        dynamic: accept any frame size at run time.
        edge_phase: ``rgb`` | ``depth`` | None (config's inference phase).
        net_size: (h, w) network size; default the config's (must be a stride multiple).
        options: test-time options built into the graph (default none).
        simplify: run onnxslim (constant folding, dead-node and shape clean-up).
        check: ``onnx.checker.check_model(full_check=True)`` on the final file.
        model_name: free text stored as ``egsa.model_name``.
        weights_sha256: SHA-256 of the checkpoint weights the graph comes from (graphs shipped
            beside a checkpoint: the loader refuses a graph whose weights changed).
    """
    options = options or InferenceOptions()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_model = CameraFrameModel(
        network, frame_size, edge_phase=edge_phase, dynamic=dynamic, net_size=net_size, options=options
    ).eval()
    height, width = frame_model.frame_size
    dummy = torch.full((height, width, 3), 128, dtype=torch.uint8)
    dynamic_axes = (
        {"frame": {0: "height", 1: "width"}, "depth": {0: "height", 1: "width"}, "mask": {0: "height", 1: "width"}}
        if dynamic
        else None
    )
    with torch.no_grad(), quiet_tracing():
        torch.onnx.export(
            frame_model,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["frame"],
            output_names=["depth", "mask"],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    proto = onnx.load(str(path))
    if simplify:
        import onnxslim  # noqa: PLC0415 - ~1.5 s to import; only needed when a graph is simplified

        proto = onnxslim.slim(proto)
    meta = {
        "egsa.format": FRAME_FORMAT,
        "egsa.format_version": str(FRAME_FORMAT_VERSION),
        "egsa.package_version": __version__,
        "egsa.model_name": model_name,
        "egsa.model_config": json.dumps(network.config.to_dict(), sort_keys=True),
        "egsa.inference_options": json.dumps(options.to_dict(), sort_keys=True),
        "egsa.weights_sha256": weights_sha256,
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
    proto.doc_string = (
        "egsa_ros camera-frame graph: frame (H, W, 3) uint8 RGB -> depth (H, W) float32 "
        "metres, mask (H, W) uint8 1 = transparent"
    )
    onnx.save(proto, str(path))
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    return path


def graph_exporter(
    network: nn.Module,
    *,
    options: InferenceOptions | None = None,
    edge_phase: str | None = None,
    model_name: str = "",
    net_size: tuple[int, int] | None = None,
):
    """``export(size, path) -> path`` that writes the camera-frame graph of ``network`` for one
    frame size (H, W); unsimplified and unchecked, for graphs built on demand at run time
    (:class:`~egsa_ros.runtime.onnxruntime_backend.OnnxRuntimeBackend`'s ``export``).
    ``net_size``: the network's (h, w) input inside the graph (default: the trained size)."""

    def export(size: tuple[int, int], path: Path) -> Path:
        return export_frame_onnx(
            network,
            path,
            size,
            edge_phase=edge_phase,
            net_size=net_size,
            options=options,
            simplify=False,
            check=False,
            model_name=model_name,
        )

    return export
