"""Find and load networks: the bundled default, checkpoint directories, presets."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import torch

LOG = logging.getLogger("egsa_ros.pipeline")
BUNDLED_MODEL = "default_small"


def bundled_model_dir() -> Optional[Path]:
    """The bundled default checkpoint directory, or None if this install has none.

    Looked up in order: ``$EGSA_MODEL`` (a checkpoint directory), the source tree's
    ``models/default_small``, and ``<prefix>/share/egsa_ros/models/default_small`` (pip or
    colcon install).
    """
    candidates = []
    if os.environ.get("EGSA_MODEL"):
        candidates.append(Path(os.environ["EGSA_MODEL"]))
    candidates.append(Path(__file__).resolve().parents[2] / "models" / BUNDLED_MODEL)
    candidates.append(Path(sys.prefix) / "share" / "egsa_ros" / "models" / BUNDLED_MODEL)
    for path in candidates:
        if (path / "checkpoint.json").is_file():
            return path
    return None


def test_time_changes(config, *, flip_average: Optional[bool] = None,
                      mask_input_size: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """The test-time options of ``config`` (a ModelConfig) that differ from those requested
    (None: keep the model's), as ``ModelConfig.replace`` arguments."""
    changes: Dict[str, Any] = {}
    if flip_average is not None and bool(flip_average) != config.flip_average:
        changes["flip_average"] = bool(flip_average)
    if mask_input_size is not None:
        size = tuple(int(v) for v in mask_input_size)
        if size != config.mask_input_size:
            changes["mask_input_size"] = size
    return changes


def describe_test_time(changes: Dict[str, Any]) -> str:
    """``", flip-averaged, mask at 384x512"`` for a model name."""
    parts = []
    if "flip_average" in changes:
        parts.append("flip-averaged" if changes["flip_average"] else "flip averaging off")
    if changes.get("mask_input_size"):
        parts.append("mask at {}x{}".format(*changes["mask_input_size"]))
    return "".join(", " + p for p in parts)


def load_network(model: Optional[Union[str, Path]], *, flip_average: Optional[bool] = None,
                 mask_input_size: Optional[Tuple[int, int]] = None) -> Tuple[torch.nn.Module, str]:
    """(network in eval mode, human-readable description) for a model argument.

    Args:
        model: None for the bundled default (see :func:`bundled_model_dir`; without one, a
            randomly initialised ``default_small`` with a warning); a checkpoint directory
            written by ``egsa-train``; or a preset name for a randomly initialised network.
        flip_average: True / False to switch mirrored test-time averaging on / off
            (``ModelConfig.flip_average``, ~2x the network's time); None keeps the model's.
        mask_input_size: (H, W) to take the mask from a second pass at that size
            (``ModelConfig.mask_input_size``); None keeps the model's.
    """
    network, name = _load_network(model)
    changes = test_time_changes(network.config, flip_average=flip_average, mask_input_size=mask_input_size)
    if changes:
        network.config = network.config.replace(**changes)
        name += describe_test_time(changes)
    return network, name


def _load_network(model: Optional[Union[str, Path]]) -> Tuple[torch.nn.Module, str]:
    from ..model.config import PRESETS, get_preset
    from ..model.net import build_model
    from ..train.checkpoint import load_checkpoint

    if model is None:
        bundled = bundled_model_dir()
        if bundled is None:
            LOG.warning("no trained model is bundled: using a RANDOMLY INITIALISED default_small "
                        "network (its depth and masks are meaningless)")
            return build_model(get_preset(BUNDLED_MODEL)).eval(), f"{BUNDLED_MODEL} (random init)"
        model = bundled
    name = str(model)
    if Path(name).is_dir():
        network, info = load_checkpoint(name)
        return network.eval(), f"{Path(name).name} (trained {int(info.get('epoch', -1)) + 1} epochs, {name})"
    if name in PRESETS:
        return build_model(get_preset(name)).eval(), f"{name} (random init)"
    raise FileNotFoundError(
        f"model {name!r} is neither a checkpoint directory (with checkpoint.json), an .onnx camera-frame "
        f"graph, nor a preset {sorted(PRESETS)}")
