"""The deployment the fused graph replaces: cv2 resize + ``cv2.Canny`` on the CPU, the network
in ONNX Runtime with the edge map as a second input, cv2 upsampling (for ``egsa-bench``)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from torch import nn

from ..data.transforms import resize_rgb, to_network_input
from ..export.onnx_export import export_network_with_edges_onnx
from ..runtime.prediction import Prediction, stage_timings


class Cv2CannyPipeline:
    """cv2 resize + cv2.Canny on the CPU, the network in ONNX Runtime with edges as an input.

    Canny thresholds and blur are the network config's, so the edges equal the in-graph ones
    once hysteresis converges.

    Args:
        network: an :class:`~egsa_ros.model.net.EGSANet`.
        workdir: where the network graph is written.
        threads: ONNX Runtime intra-op threads (None: its default).
    """

    def __init__(self, network: nn.Module, workdir: Path, threads: int | None) -> None:
        self.config = network.config
        path = export_network_with_edges_onnx(network, Path(workdir) / "net_external_edges.onnx")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = "cv2-canny/onnxruntime-cpu"

    def __call__(self, rgb: np.ndarray, fx: float | None = None) -> Prediction:
        """rgb (H, W, 3) uint8 -> Prediction at (H, W) with per-stage timings (``fx`` unused:
        the comparison graphs are not camera-aware)."""
        cfg = self.config
        t0 = time.perf_counter()
        small = resize_rgb(rgb, cfg.input_size)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if cfg.canny_blur:
            grey = cv2.GaussianBlur(grey, (5, 5), 0)
        edges = (cv2.Canny(grey, cfg.canny_low, cfg.canny_high) > 0).astype(np.float32)[None, None]
        net_in = to_network_input(small)
        t1 = time.perf_counter()
        depth, logits = self.session.run(["depth", "seg_logits"], {"rgb": net_in, "edges": edges})
        t2 = time.perf_counter()
        height, width = rgb.shape[:2]
        mask = (logits[0].argmax(0) == cfg.transparent_class).astype(np.uint8)
        depth = cv2.resize(depth[0, 0], (width, height), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        t3 = time.perf_counter()
        return Prediction(depth, mask, stage_timings(t0, t1, t2, t3))
