"""Camera frame in, metric depth and transparent mask out: the ROS-free inference pipeline.

``Pipeline`` checks the frame and hands it to one backend, which runs the whole camera-frame
graph (resize, Canny, network, upsampling, argmax; see :mod:`egsa_ros.export.frame_graph`)
and times each stage. It never imports rclpy; the node converts messages to arrays and
calls it.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from ..model.config import ModelConfig
from .backends import BACKENDS, Backend, make_backend
from .model_loading import load_network, test_time_changes
from .prediction import Prediction

LOG = logging.getLogger("egsa_ros.pipeline")
DEFAULT_FRAME_SIZE = (480, 640)


class Pipeline:
    """Run a backend on HxWx3 uint8 RGB frames of any size.

    Args:
        backend: a loaded :class:`~egsa_ros.runtime.backends.Backend`.
        config: the model's config (network size, classes, depth range).
        model_name: a human-readable description of the model (for logs and diagnostics).
    """

    def __init__(self, backend: Backend, config: ModelConfig, model_name: str) -> None:
        self.backend = backend
        self.config = config
        self.model_name = model_name

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def __call__(self, rgb: np.ndarray) -> Prediction:
        """rgb: (H, W, 3) uint8 RGB -> :class:`Prediction` at (H, W)."""
        _check_frame(rgb)
        return self.backend.infer(np.ascontiguousarray(rgb))

    def prepare(self, frame_size: Tuple[int, int]) -> None:
        """Build the graph for frames of ``frame_size`` (H, W) now rather than on the first frame."""
        self.backend.prepare(tuple(int(v) for v in frame_size))


def load_pipeline(model: Optional[Union[str, Path]] = None, backend: str = "auto", *,
                  threads: Optional[int] = None, frame_size: Optional[Tuple[int, int]] = DEFAULT_FRAME_SIZE,
                  engine: Optional[Union[str, Path]] = None, flip_average: Optional[bool] = None,
                  mask_input_size: Optional[Tuple[int, int]] = None, **backend_options) -> Pipeline:
    """Load a model on a backend and return a ready :class:`Pipeline`.

    Args:
        model: None for the bundled default (see :func:`bundled_model_dir`; without one, a
            randomly initialised ``default_small`` with a warning); a checkpoint directory
            written by ``egsa-train``; a camera-frame ``.onnx`` from ``egsa-export``; a
            TensorRT ``.engine``; or a preset name for a randomly initialised network.
        backend: ``auto`` (best available: TensorRT when an engine is given and CUDA +
            TensorRT work, else ONNX Runtime, else torch), ``torch``, ``onnxruntime`` or
            ``tensorrt``.
        threads: CPU threads for the backend (None: library default).
        frame_size: (H, W) to prepare at load time (None: prepare on the first frame).
        engine: TensorRT engine file (same as passing it as ``model``).
        flip_average: True to also run the mirrored frame and average (``ModelConfig.flip_average``:
            ~+0.01 glass IoU for the bundled model; the network runs twice, ~1.5x the frame's
            latency on 2 CPU threads), False to switch it off, None to keep the model's setting.
            An exported graph or engine has it built in: asking for the other setting raises
            ``ValueError`` (re-export instead).
        mask_input_size: (H, W): take the mask from a second pass of the network at that size
            (``ModelConfig.mask_input_size``; e.g. (384, 512) for 480x640 frames: finer glass
            outlines, ~4x the network's time); None keeps the model's. Built into exported
            graphs like ``flip_average``.
        backend_options: passed to the backend (e.g. ``device='cuda'``, ``fp16=True``,
            ``cuda_graphs=True`` for torch; ``rebuild=True, onnx=PATH`` for tensorrt).

    The chosen backend is logged and available as ``pipeline.backend_name``.
    """
    if model is not None and str(model).endswith(".engine"):
        engine, model = model, None
    chosen, reason = _choose_backend(backend, engine)
    if chosen == "tensorrt":
        if engine is None:
            raise RuntimeError("backend 'tensorrt' needs an engine: export the graph with `egsa-export`, build it "
                               "with `python export/build_engine.py`, then load_pipeline(engine=PATH)")
        loaded = make_backend("tensorrt", None, engine=engine, **backend_options)
        config = ModelConfig.from_dict(loaded.sidecar["model_config"])
        name = f"{Path(engine).name} ({loaded.sidecar.get('model_name', '')})"
    elif model is not None and str(model).endswith(".onnx"):
        if chosen != "onnxruntime":
            raise ValueError(f"an .onnx model runs on backend 'onnxruntime', not {chosen!r}")
        loaded = make_backend("onnxruntime", None, onnx=model, threads=threads, **backend_options)
        config = ModelConfig.from_dict(json.loads(loaded.metadata["egsa.model_config"]))
        name = f"{Path(model).name} ({loaded.metadata.get('egsa.model_name', '')})"
    else:
        network, name = load_network(model, flip_average=flip_average, mask_input_size=mask_input_size)
        loaded = make_backend(chosen, network, threads=threads, **backend_options)
        config = network.config
    changes = test_time_changes(config, flip_average=flip_average, mask_input_size=mask_input_size)
    if changes:
        built_in = {k: getattr(config, k) for k in changes}
        raise ValueError(f"{name} was exported with {built_in}; asked for {changes}: re-export it "
                         f"(egsa-export --flip-average / --mask-net-size) to change that")
    pipeline = Pipeline(loaded, config, model_name=name)
    graph_size = getattr(loaded, "graph_frame_size", None)  # a static exported graph: its own size
    if graph_size is not None or frame_size is not None:
        pipeline.prepare(graph_size or frame_size)
    LOG.info("egsa_ros pipeline: model %s, backend %s (%s), providers %s", name, loaded.name, reason, loaded.providers)
    return pipeline


def _choose_backend(requested: str, engine) -> Tuple[str, str]:
    """(backend name, why) for ``load_pipeline``."""
    if requested not in ("auto",) + BACKENDS:
        raise ValueError(f"backend must be one of {('auto',) + BACKENDS}, got {requested!r}")
    if requested != "auto":
        return requested, "requested"
    from ..export.tensorrt_engine import cuda_and_tensorrt_status

    usable, why_not = cuda_and_tensorrt_status()
    if engine is not None and usable:
        return "tensorrt", "auto: engine given, CUDA and TensorRT available"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch", "auto: onnxruntime not installed"
    return "onnxruntime", ("auto: no engine given" if engine is None else f"auto: TensorRT unusable ({why_not})")


def _check_frame(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB, got dtype {rgb.dtype}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {rgb.shape}")
    if rgb.shape[0] < 3 or rgb.shape[1] < 3:
        raise ValueError(f"frame too small: {rgb.shape[1]}x{rgb.shape[0]} (at least 3x3)")
