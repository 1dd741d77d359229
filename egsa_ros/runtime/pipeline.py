"""Camera frame in, metric depth and transparent mask out: the ROS-free inference pipeline.

``Pipeline`` checks the frame and hands it to one backend, which runs the whole camera-frame
graph (resize, Canny, network, upsampling, argmax; see :mod:`egsa_ros.model.frame_graph`)
and times each stage. It never imports rclpy; the node converts messages to arrays and
calls it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..model.config import ModelConfig
from ..model.graph_metadata import graph_configs, graph_frame_size, read_frame_metadata
from ..model.inference_options import InferenceOptions, view_note
from ..model.model_source import ModelSource, resolve_model
from ..model.tensorrt_engine import cuda_and_tensorrt_status, engine_configs
from .backend import Backend, Size
from .backends import BACKENDS, make_backend
from .canonical_view import canonical_view, view_scale
from .prediction import Prediction
from .shipped_graphs import shipped_graphs

LOG = logging.getLogger("egsa_ros.pipeline")
DEFAULT_FRAME_SIZE = (480, 640)


class Pipeline:
    """Run a backend on HxWx3 uint8 RGB frames of any size.

    Args:
        backend: a loaded :class:`~egsa_ros.runtime.backend.Backend`.
        config: the model's architecture (network size, classes, depth range).
        model_name: a human-readable description of the model (for logs and diagnostics).
        options: the test-time options the backend runs with.
        trained: False when the weights are random (a preset, or an explicit fallback).
        fallback_reason: why a requested TensorRT engine was replaced (``engine_fallback``), else None.
    """

    def __init__(
        self,
        backend: Backend,
        config: ModelConfig,
        model_name: str,
        *,
        options: InferenceOptions | None = None,
        trained: bool = True,
        fallback_reason: str | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.model_name = model_name
        self.options = options or InferenceOptions()
        self.trained = bool(trained)
        self.fallback_reason = fallback_reason
        self._model_view_focal = self.options.canonical_view_focal
        self.canonical_view_period = 1
        self.last_view_scale: float | None = None
        self._view_state: tuple | None = None  # ((fx, (H, W)), scale, frames since it was measured)

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def camera_aware(self) -> bool:
        """True when the model's depth depends on the camera's focal length (pass ``fx``)."""
        return self.options.canonical_focal is not None

    @property
    def has_canonical_view(self) -> bool:
        """True when the model has a trained focal range for the canonical-view pass."""
        return self._model_view_focal is not None

    def __call__(self, rgb: np.ndarray, fx: float | None = None) -> Prediction:
        """rgb: (H, W, 3) uint8 RGB -> :class:`Prediction` at (H, W).

        fx: the camera's focal length in pixels at this frame's size (camera_info ``k[0]``).
        A camera-aware model (:attr:`camera_aware`) scales its depth by it (one multiply after
        the graph); without it, such a model's depth assumes its canonical camera
        (``options.canonical_focal``). Other models ignore it.
        """
        _check_frame(rgb)
        scale = self.options.depth_scale(fx, rgb.shape[1])
        pred = self.backend.infer(np.ascontiguousarray(rgb))
        if scale != 1.0:
            pred.depth = pred.depth * np.float32(scale)
        self.last_view_scale = None
        span = self.options.canonical_view_focal
        if span is not None and fx is not None and self.camera_aware:
            self._rescale_from_canonical_view(pred, rgb, float(fx), span)
        return pred

    def set_canonical_view(self, enabled: bool, period: int = 1) -> None:
        """Switch the model's canonical-view pass (``options.canonical_view_focal``) off or back
        on, and how often it runs: every ``period``-th frame of the same camera measures the
        scale, the frames between reuse it (1: every frame). It runs after the graph, so this
        changes no graph. Enabling it on a model without a trained focal range raises ``ValueError``."""
        if int(period) < 1:
            raise ValueError(f"canonical-view period must be >= 1 frame, got {period}")
        if enabled and self._model_view_focal is None:
            raise ValueError(f"{self.model_name} has no trained focal range (inference option canonical_view_focal)")
        self.options = self.options.replace(canonical_view_focal=self._model_view_focal if enabled else None)
        if self._model_view_focal is not None:  # the name says whether the pass runs
            note = ", " + view_note(self._model_view_focal, self.options.canonical_view_inset)
            self.model_name = self.model_name.replace(note, "")
            if enabled:
                self.model_name += note
        self.canonical_view_period = int(period)
        self._view_state = None

    def _rescale_from_canonical_view(self, pred: Prediction, rgb: np.ndarray, fx: float, span) -> None:
        """``options.canonical_view_focal``: a frame from a lens outside the trained range takes
        the global depth scale of its view through a trained lens (``canonical_view_inset``; timed as
        ``canonical_view`` on the frames that measure it; :attr:`last_view_scale` is the factor,
        None when the frame needed none; no correction when too few pixels compare)."""
        key = (fx, rgb.shape[:2])
        state = self._view_state
        if state is not None and state[0] == key and state[2] < self.canonical_view_period:
            k = state[1]
            self._view_state = (key, k, state[2] + 1)
        else:
            t0 = time.perf_counter()
            view = canonical_view(
                rgb, fx, span, toward=self.options.canonical_focal, inset=self.options.canonical_view_inset
            )
            if view is None:
                return
            second = self.backend.infer(view.rgb)
            view_depth = second.depth * np.float32(self.options.depth_scale(view.fx, rgb.shape[1]))
            k = view_scale(pred.depth, view_depth, view)
            self._view_state = (key, k, 1) if np.isfinite(k) and k > 0 else None  # no factor: try the next frame
            elapsed = (time.perf_counter() - t0) * 1e3
            pred.timings["canonical_view"] = elapsed
            pred.timings["total"] = pred.timings.get("total", 0.0) + elapsed
        if np.isfinite(k) and k > 0:
            pred.depth = pred.depth * np.float32(k)
            self.last_view_scale = float(k)

    def prepare(self, frame_size: tuple[int, int]) -> None:
        """Build the graph for frames of ``frame_size`` (H, W) now rather than on the first frame."""
        self.backend.prepare(tuple(int(v) for v in frame_size))


def load_pipeline(
    model: str | Path | None = None,
    backend: str = "auto",
    *,
    threads: int | None = None,
    frame_size: tuple[int, int] | None = DEFAULT_FRAME_SIZE,
    engine: str | Path | None = None,
    flip_average: bool | None = None,
    mask_input_size: tuple[int, int] | None = None,
    allow_random_weights: bool = False,
    engine_fallback: bool = False,
    canonical_view: bool | None = None,
    **backend_options,
) -> Pipeline:
    """Load a model on a backend and return a ready :class:`Pipeline`.

    Args:
        model: None for the bundled default (``models/default_small``, found in the source
            tree, the ROS package's share directory or ``$EGSA_MODEL``); a checkpoint directory
            written by ``egsa-train``; a camera-frame ``.onnx`` from ``egsa-export``; a TensorRT
            ``.engine``; or a preset name for a randomly initialised network.
        backend: ``auto`` (TensorRT when an engine is given and CUDA + TensorRT work, else
            ONNX Runtime, else torch), ``torch``, ``onnxruntime`` or ``tensorrt``.
        threads: CPU threads for the backend (None: library default).
        frame_size: (H, W) to prepare at load time (None: prepare on the first frame).
        engine: TensorRT engine file (same as passing it as ``model``).
        flip_average: True to also run the mirrored frame and average (~+0.01 glass IoU for the
            bundled model; the network runs twice, ~1.5x the frame's latency on 2 CPU threads),
            False to switch it off, None to keep the model's setting. An exported graph or
            engine has it built in: asking for the other setting raises ``ValueError``.
        mask_input_size: (H, W): take the mask from a second pass of the network at that size
            (e.g. (384, 512) for 480x640 frames: finer glass outlines, ~4x the network's time);
            None keeps the model's. Built into exported graphs like ``flip_average``.
        allow_random_weights: with ``model=None`` and no bundled model, run a randomly
            initialised network instead of raising ``FileNotFoundError``.
        engine_fallback: when the engine cannot be used (missing, another TensorRT or GPU, no
            CUDA), run ``model`` (default: the bundled one) on ONNX Runtime and say why in a
            warning and ``pipeline.fallback_reason``, instead of raising. Only with ``backend='auto'``.
        canonical_view: False to skip the model's canonical-view pass (the second look at frames
            from lenses outside its trained focal range; up to 2x the network time on those
            frames); True or None keep the model's setting (:meth:`Pipeline.set_canonical_view`).
        backend_options: passed to the backend (``device='cuda'``, ``fp16=True``,
            ``cuda_graphs=True`` for torch; ``rebuild=True, onnx=PATH`` for tensorrt;
            ``providers``, ``spin``, ``trt_cache_dir`` for onnxruntime; ``edge_phase``).

    Without torch installed, checkpoints run from the camera-frame graphs they ship in
    ``graphs/`` (the bundled model ships a 480x640 and a dynamic-size graph); other models
    need torch to export their graph. The chosen backend is logged and available as
    ``pipeline.backend_name``.
    """
    if backend not in ("auto",) + BACKENDS:
        raise ValueError(f"backend must be one of {('auto',) + BACKENDS}, got {backend!r}")
    if model is not None and str(model).endswith(".engine"):
        engine, model = model, None
    fallback_reason = None
    if engine is not None:
        if backend not in ("auto", "tensorrt"):
            raise ValueError(f"a TensorRT engine runs on backend 'tensorrt', not {backend!r}")
        try:
            return _engine_pipeline(engine, frame_size, flip_average, mask_input_size, backend_options)
        except (OSError, RuntimeError, ValueError) as exc:
            if backend == "tensorrt" or not engine_fallback:
                raise
            fallback_reason = f"engine {engine} unusable ({exc})"
            LOG.warning(
                "egsa_ros: %s; engine_fallback: running %s on ONNX Runtime instead",
                fallback_reason,
                model or "the bundled model",
            )
            backend = "onnxruntime"
    elif backend == "tensorrt":
        raise ValueError(
            "backend 'tensorrt' needs an engine: export the graph with `egsa-export`, build it with "
            "`egsa-build-engine`, then load_pipeline(engine=PATH)"
        )
    if model is not None and str(model).endswith(".onnx"):
        pipeline = _onnx_file_pipeline(model, backend, threads, flip_average, mask_input_size, backend_options)
    else:
        source = resolve_model(model, allow_random_weights=allow_random_weights)
        pipeline = _model_pipeline(source, backend, threads, flip_average, mask_input_size, backend_options)
    pipeline.fallback_reason = fallback_reason
    if canonical_view is not None:
        pipeline.set_canonical_view(canonical_view and pipeline.has_canonical_view)
    graph_size = getattr(pipeline.backend, "graph_frame_size", None)  # a static exported graph: its own size
    if graph_size is not None or frame_size is not None:
        pipeline.prepare(graph_size or frame_size)
    LOG.info(
        "egsa_ros pipeline: model %s, backend %s, providers %s",
        pipeline.model_name,
        pipeline.backend.name,
        pipeline.backend.providers,
    )
    return pipeline


def _refuse_changes(name: str, built_in: InferenceOptions, flip_average, mask_input_size) -> None:
    """Exported graphs and engines have their test-time options built in."""
    changes = built_in.differences(flip_average=flip_average, mask_input_size=mask_input_size)
    if changes:
        have = {k: getattr(built_in, k) for k in changes}
        raise ValueError(
            f"{name} was exported with {have}; asked for {changes}: re-export it "
            f"(egsa-export --flip-average / --mask-net-size) to change that"
        )


def _engine_pipeline(engine, frame_size, flip_average, mask_input_size, backend_options) -> Pipeline:
    usable, why_not = cuda_and_tensorrt_status()
    if not usable:
        raise RuntimeError(f"the TensorRT backend cannot run here: {why_not}")
    loaded = make_backend("tensorrt", engine=engine, **backend_options)
    config, options = engine_configs(loaded.sidecar)
    name = f"{Path(engine).name} ({loaded.sidecar.get('model_name', '')})"
    _refuse_changes(name, options, flip_average, mask_input_size)
    pipeline = Pipeline(loaded, config, name, options=options)
    if frame_size is not None:
        pipeline.prepare(frame_size)
    return pipeline


def _onnx_file_pipeline(path, backend, threads, flip_average, mask_input_size, backend_options) -> Pipeline:
    if backend not in ("auto", "onnxruntime"):
        raise ValueError(f"an .onnx model runs on backend 'onnxruntime', not {backend!r}")
    meta = read_frame_metadata(path)
    config, options = graph_configs(meta)
    name = f"{Path(path).name} ({meta.get('egsa.model_name', '')})"
    _refuse_changes(name, options, flip_average, mask_input_size)
    backend_options.pop("edge_phase", None)  # built into the graph
    loaded = make_backend("onnxruntime", graphs={graph_frame_size(meta): path}, threads=threads, **backend_options)
    return Pipeline(loaded, config, name, options=options)


def _model_pipeline(source: ModelSource, backend, threads, flip_average, mask_input_size, backend_options) -> Pipeline:
    changes = source.options.differences(flip_average=flip_average, mask_input_size=mask_input_size)
    options = source.options.replace(**changes) if changes else source.options
    name = source.name + options.describe()
    if backend == "auto":
        backend = "onnxruntime" if _importable("onnxruntime") else "torch"
    edge_phase = backend_options.pop("edge_phase", None)
    if backend == "torch":
        from ..model.loading import build_network  # noqa: PLC0415 - torch: only for the torch backend

        loaded = make_backend(
            "torch",
            network=build_network(source),
            options=options,
            edge_phase=edge_phase,
            threads=threads,
            **backend_options,
        )
    else:
        graphs, skipped = ({}, [])
        if source.directory is not None and edge_phase is None:
            graphs, skipped = shipped_graphs(source.directory, options)
            for reason in skipped:
                LOG.info("egsa_ros: not using shipped graph %s", reason)
        exporter = None if None in graphs else _torch_exporter(source, options, edge_phase)
        loaded = make_backend("onnxruntime", graphs=graphs, export=exporter, threads=threads, **backend_options)
    return Pipeline(loaded, source.config, name, options=options, trained=source.trained)


def _torch_exporter(source: ModelSource, options: InferenceOptions, edge_phase: str | None):
    """``export(size, path)`` that builds the network on first use (needs torch) and exports a graph."""
    network = []  # the exporter, made on first use

    def export(size: Size, path: Path) -> Path:
        try:
            from ..model.frame_onnx import graph_exporter  # noqa: PLC0415 - torch: only to export new graphs
            from ..model.loading import build_network  # noqa: PLC0415 - torch: only to export new graphs
        except ImportError as exc:
            raise RuntimeError(
                f"{source.name} ships no camera-frame graph for {size[1]}x{size[0]} frames and exporting one needs "
                f"torch ({exc}): install the training extras (pip install 'egsa_ros[train]') or export a "
                "dynamic graph elsewhere with `egsa-export --dynamic` and load that .onnx"
            ) from exc
        if not network:
            network.append(
                graph_exporter(build_network(source), options=options, edge_phase=edge_phase, model_name=source.name)
            )
        return network[0](size, path)

    return export


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _check_frame(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB, got dtype {rgb.dtype}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {rgb.shape}")
    if rgb.shape[0] < 3 or rgb.shape[1] < 3:
        raise ValueError(f"frame too small: {rgb.shape[1]}x{rgb.shape[0]} (at least 3x3)")
