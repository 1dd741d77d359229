"""Load a checkpoint directory's network (torch); see :mod:`egsa_ros.model.checkpoint_info`.

``load_checkpoint(dir)`` rebuilds the network from ``checkpoint.json`` (random encoder: every
weight comes from the safetensors file) and loads the state dict strictly. Writing checkpoints is training's business
(:mod:`egsa_ros.train.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .checkpoint_info import MODEL_FILE, read_info
from .checkpoint_info import model_config_from_info as model_config_from_info
from .net import EGSANet, build_model


def load_weights(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; ValueError naming the file when it is corrupt or truncated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model weights {path}")
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable safetensors file ({exc}): the checkpoint is corrupt or truncated"
        ) from exc


def load_checkpoint(directory: str | Path, map_location: str | torch.device = "cpu") -> tuple[EGSANet, dict[str, Any]]:
    """Rebuild the network of a checkpoint directory and load its weights (strictly).

    Returns:
        ``(model, info)``: the model in eval mode on ``map_location``; ``info`` the ``checkpoint.json``
        dict as saved (any readable format).

    Raises:
        FileNotFoundError: the directory, ``checkpoint.json`` or ``model.safetensors`` is missing.
        ValueError: a corrupt file, or a saved config that does not fit this egsa_ros (the
            message names the file).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no checkpoint directory {directory}")
    info = read_info(directory)
    config = model_config_from_info(info)
    model = build_model(config)
    state = load_weights(directory / MODEL_FILE, device=str(torch.device(map_location)))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(
            f"{directory / MODEL_FILE} does not fit the model described by its checkpoint.json ({first})"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, info
