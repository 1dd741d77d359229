"""What a ``model`` argument names, resolved without torch: the bundled default, a checkpoint
directory or a preset, with its architecture and test-time options.

The bundled default (``models/default_small``) is found through :mod:`egsa_ros.package_data`
(source tree, the ROS package's share directory, ``<prefix>/share/egsa_ros``) or ``$EGSA_MODEL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..package_data import find_data, searched_locations
from .checkpoint_info import (
    INFO_FILE,
    inference_options_from_info,
    is_checkpoint_dir,
    model_config_from_info,
    read_info,
)
from .config import PRESETS, ModelConfig, get_preset
from .inference_options import InferenceOptions

BUNDLED_MODEL = "default_small"


def bundled_model_dir() -> Path | None:
    """The bundled default checkpoint directory, or None if this install has none.

    ``$EGSA_MODEL`` (a checkpoint directory) wins when set; then the package data locations.
    """
    override = os.environ.get("EGSA_MODEL")
    if override and is_checkpoint_dir(override):
        return Path(override)
    return find_data(f"models/{BUNDLED_MODEL}", marker=INFO_FILE)


def bundled_model_locations() -> list[str]:
    """Every place :func:`bundled_model_dir` looks (for error messages)."""
    places = searched_locations(f"models/{BUNDLED_MODEL}")
    if os.environ.get("EGSA_MODEL"):
        places.insert(0, f"$EGSA_MODEL={os.environ['EGSA_MODEL']}")
    return places


@dataclass(frozen=True)
class ModelSource:
    """A resolved model argument.

    Attributes:
        kind: ``checkpoint`` (trained weights in ``directory``) or ``preset`` (random weights).
        name: human-readable description for logs and diagnostics.
        config: the architecture.
        options: the test-time options saved with it (presets: none).
        directory: the checkpoint directory, None for presets.
        info: the parsed ``checkpoint.json`` ({} for presets).
    """

    kind: str
    name: str
    config: ModelConfig
    options: InferenceOptions
    directory: Path | None = None
    info: dict | None = None

    @property
    def trained(self) -> bool:
        """True when the weights come from training (a checkpoint), False for random weights."""
        return self.kind == "checkpoint"


def resolve_model(model: str | Path | None, *, allow_random_weights: bool = False) -> ModelSource:
    """Resolve a model argument without loading weights.

    Args:
        model: None for the bundled default; a checkpoint directory written by ``egsa-train``;
            or a preset name (randomly initialised weights, for tests and benchmarks).
        allow_random_weights: with ``model=None`` and no bundled model, fall back to a randomly
            initialised ``default_small`` instead of raising.

    Raises:
        FileNotFoundError: no bundled model (naming every place searched), or no such path.
        ValueError: a corrupt ``checkpoint.json`` or one of another egsa_ros version (named).
    """
    where = None
    if model is None:
        bundled = bundled_model_dir()
        if bundled is None:
            if not allow_random_weights:
                raise FileNotFoundError(
                    "no trained model found (looked in "
                    + ", ".join(bundled_model_locations())
                    + "); pass a checkpoint directory, set $EGSA_MODEL, or allow random weights explicitly"
                )
            return ModelSource(
                "preset", f"{BUNDLED_MODEL} (random init)", get_preset(BUNDLED_MODEL), InferenceOptions()
            )
        model, where = bundled, "bundled"
    text = str(model)
    if Path(text).is_dir():
        info = read_info(text)
        try:
            config, options = model_config_from_info(info), inference_options_from_info(info)
        except ValueError as exc:
            raise ValueError(f"{Path(text) / INFO_FILE}: {exc}") from exc
        epochs = int(info.get("epoch", -1)) + 1
        return ModelSource(
            "checkpoint",
            f"{Path(text).name} (trained {epochs} epochs, {where or text})",
            config,
            options,
            Path(text),
            info,
        )
    if text in PRESETS:
        return ModelSource("preset", f"{text} (random init)", get_preset(text), InferenceOptions())
    if Path(text).exists():
        raise ValueError(
            f"model {text!r} is neither a checkpoint directory (with {INFO_FILE}), an .onnx "
            "camera-frame graph nor a TensorRT .engine"
        )
    raise FileNotFoundError(f"model {text!r} not found: neither a path nor a preset {sorted(PRESETS)}")
