"""Writing checkpoints, and the training state beside them (optimizer, scaler, RNG).

The directory layout and reading the network back are the model's business
(:mod:`egsa_ros.model.checkpoint_info`, :mod:`egsa_ros.model.checkpoint`). ``optimizer.pt`` is
a ``torch.save`` of plain dicts/tensors/numbers only (optimizer and GradScaler state dicts, RNG
states), read with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ..model.checkpoint_info import CHECKPOINT_FORMAT, INFO_FILE, MODEL_FILE, OPTIMIZER_FILE
from ..model.config import ModelConfig
from ..model.inference_options import InferenceOptions
from ..version import __version__

PathLike = str | Path


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP / DataParallel wrapper."""
    return model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model


def jsonable(value: Any) -> Any:
    """``value`` with numpy / one-element torch numbers as Python numbers and NaN / inf as None
    (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # strict JSON has no NaN/inf
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return jsonable(value.item())
    return value


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states as plain lists / tensors (weights_only-loadable)."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
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
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int = 0,
    step: int = 0,
    metrics: dict[str, Any] | None = None,
    *,
    scaler: Any | None = None,
    extra: dict[str, Any] | None = None,
    options: InferenceOptions | None = None,
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
        options: the test-time options to run the network with (default none).

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
        "inference_options": (options or InferenceOptions()).to_dict(),
        "train_config": tc,
        "epoch": int(epoch),
        "step": int(step),
        "metrics": metrics or {},
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    info.update(extra or {})
    with open(tmp / INFO_FILE, "w") as fh:
        json.dump(jsonable(info), fh, indent=2, sort_keys=True)
    if optimizer is not None:
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": rng_state(),
                "epoch": int(epoch),
                "step": int(step),
            },
            tmp / OPTIMIZER_FILE,
        )
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old{os.getpid()}")
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)
    return directory


def load_training_state(directory: PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``optimizer.pt`` of a checkpoint directory, loaded with ``weights_only=True``."""
    path = Path(directory) / OPTIMIZER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no optimizer state {path}")
    return torch.load(path, map_location=map_location, weights_only=True)
