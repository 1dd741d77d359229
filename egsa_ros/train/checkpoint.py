"""Checkpoints that load without executing code.

A checkpoint is a directory::

    model.safetensors   the model state dict (safetensors: tensors only)
    checkpoint.json     {"format": 1, "egsa_ros_version", "model_config": ModelConfig.to_dict(),
                         "train_config": TrainConfig.to_dict() or null, "epoch", "step",
                         "metrics": {...}, "best": {...}, "saved_at"}
    optimizer.pt        optional; torch.save of plain dicts/tensors/numbers only (optimizer and
                        GradScaler state dicts, RNG states), read with weights_only=True

``load_checkpoint(dir)`` rebuilds the network from ``checkpoint.json`` (with
``pretrained=False`` and no ``backbone_checkpoint``: every weight comes from the safetensors
file) and loads the state dict strictly.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .. import __version__
from ..model.config import ModelConfig
from ..model.net import EGSANet, build_model

PathLike = Union[str, Path]
CHECKPOINT_FORMAT = 1
MODEL_FILE = "model.safetensors"
INFO_FILE = "checkpoint.json"
OPTIMIZER_FILE = "optimizer.pt"


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP / DataParallel wrapper."""
    return model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # strict JSON has no NaN/inf
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return _jsonable(value.item())
    return value


def rng_state() -> Dict[str, Any]:
    """Python, numpy and torch RNG states as plain lists / tensors (weights_only-loadable)."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: Dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: PathLike,
    model: torch.nn.Module,
    config: ModelConfig,
    train_config: Any = None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    epoch: int = 0,
    step: int = 0,
    metrics: Optional[Dict[str, Any]] = None,
    *,
    scaler: Optional[Any] = None,
    extra: Optional[Dict[str, Any]] = None,
) -> Path:
    """Write a checkpoint directory atomically (a temporary sibling, then a rename).

    Args:
        directory: target directory (replaced if it exists).
        model: the network (a DDP wrapper is unwrapped).
        config: its resolved :class:`ModelConfig`.
        train_config: a ``TrainConfig`` (or a dict) saved for reference, or None.
        optimizer: saved to ``optimizer.pt`` with the RNG states (and ``scaler``) when given.
        epoch: the last COMPLETED epoch (0-based); a resume starts at ``epoch + 1``.
        step: optimizer steps done so far.
        metrics: validation metrics of that epoch.
        extra: more JSON entries for ``checkpoint.json`` (e.g. ``best``).

    Returns:
        The checkpoint directory.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    state = {k: v.detach().to("cpu").clone().contiguous() for k, v in unwrap(model).state_dict().items()}
    save_file(state, str(tmp / MODEL_FILE), metadata={"format": str(CHECKPOINT_FORMAT)})
    tc = train_config.to_dict() if hasattr(train_config, "to_dict") else train_config
    info = {
        "format": CHECKPOINT_FORMAT,
        "egsa_ros_version": __version__,
        "model_config": config.to_dict(),
        "train_config": tc,
        "epoch": int(epoch),
        "step": int(step),
        "metrics": metrics or {},
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    info.update(extra or {})
    with open(tmp / INFO_FILE, "w") as fh:
        json.dump(_jsonable(info), fh, indent=2, sort_keys=True)
    if optimizer is not None:
        torch.save({
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(),
            "epoch": int(epoch),
            "step": int(step),
        }, tmp / OPTIMIZER_FILE)
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old{os.getpid()}")
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)
    return directory


def read_info(directory: PathLike) -> Dict[str, Any]:
    """``checkpoint.json`` of a checkpoint directory (FileNotFoundError naming the path)."""
    path = Path(directory) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint info {path}")
    with open(path) as fh:
        return json.load(fh)


def model_config_from_info(info: Dict[str, Any]) -> ModelConfig:
    """The saved :class:`ModelConfig` (ValueError from ModelConfig for other versions)."""
    if "model_config" not in info:
        raise ValueError("checkpoint.json has no model_config")
    return ModelConfig.from_dict(info["model_config"])


def load_checkpoint(directory: PathLike, map_location: Union[str, torch.device] = "cpu") -> Tuple[EGSANet, Dict[str, Any]]:
    """Rebuild the network of a checkpoint directory and load its weights (strictly).

    Returns:
        ``(model, info)``: the model in eval mode on ``map_location`` (its ``config`` has
        ``pretrained=False`` and no ``backbone_checkpoint``); ``info`` the ``checkpoint.json``
        dict.

    Raises:
        FileNotFoundError: the directory, ``checkpoint.json`` or ``model.safetensors`` is missing.
        ValueError: the saved model config does not fit this egsa_ros (ModelConfig's message).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no checkpoint directory {directory}")
    info = read_info(directory)
    weights = directory / MODEL_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no model weights {weights}")
    saved = model_config_from_info(info)
    config = saved.replace(pretrained=False, backbone_checkpoint=None)
    model = build_model(config)
    state = load_file(str(weights), device=str(torch.device(map_location)))
    model.load_state_dict(state, strict=True)
    model.to(map_location)
    model.eval()
    return model, info


def load_training_state(directory: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """``optimizer.pt`` of a checkpoint directory, loaded with ``weights_only=True``."""
    path = Path(directory) / OPTIMIZER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no optimizer state {path}")
    return torch.load(path, map_location=map_location, weights_only=True)
