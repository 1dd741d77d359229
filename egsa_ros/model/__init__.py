"""The EGSA network family: config, encoders, decoder blocks, the full model and its artefacts
(checkpoints, the camera-frame graph, TensorRT engines).

Importing this package loads no torch: ``config``, ``inference_options``, ``checkpoint_info``,
``graph_metadata``, ``model_source`` and ``tensorrt_engine`` are plain Python; the names below
that need torch are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module

from .config import PRESETS, ModelConfig, get_preset
from .inference_options import InferenceOptions

_TORCH_NAMES = {"EGSANet": "net", "build_model": "net", "edge_pyramid": "net"}

__all__ = ["ModelConfig", "InferenceOptions", "PRESETS", "get_preset", "EGSANet", "build_model", "edge_pyramid"]


def __getattr__(name: str):
    """Load the torch parts (``EGSANet``, ``build_model``, ``edge_pyramid``) on first use."""
    if name in _TORCH_NAMES:
        return getattr(import_module(f".{_TORCH_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
