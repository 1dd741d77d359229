"""Reading a checkpoint directory's description (``checkpoint.json``) without torch.

A checkpoint is a directory::

    model.safetensors   the weights (safetensors: tensors only, nothing executes on load)
    checkpoint.json     {"format": 2, "egsa_ros_version", "model_config": ModelConfig.to_dict(),
                         "inference_options": InferenceOptions.to_dict(), "train_config",
                         "epoch", "step", "metrics", ...}
    optimizer.pt        optional, training state (written and read by ``egsa_ros.train``)
    graphs/             optional camera-frame ONNX graphs exported from these weights (the
                        bundled model ships them so a machine without torch can run it)

Format 1 (before December 2026) kept the test-time options inside ``model_config``; it is
still read: :func:`model_config_from_info` and :func:`inference_options_from_info` split it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .config import ModelConfig
from .inference_options import InferenceOptions, split_legacy_config

CHECKPOINT_FORMAT = 2
READABLE_FORMATS = (1, 2)
MODEL_FILE = "model.safetensors"
INFO_FILE = "checkpoint.json"
OPTIMIZER_FILE = "optimizer.pt"
GRAPHS_DIR = "graphs"


def is_checkpoint_dir(path: str | Path) -> bool:
    """True when ``path`` is a directory holding a ``checkpoint.json``."""
    return (Path(path) / INFO_FILE).is_file()


def read_info(directory: str | Path) -> dict[str, Any]:
    """``checkpoint.json`` of a checkpoint directory.

    Raises:
        FileNotFoundError: no such file (the message names the path).
        ValueError: the file is not valid JSON, not an object, or of a format this version
            cannot read (the message names the file and the problem).
    """
    path = Path(directory) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint info {path}")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}): the checkpoint is corrupt") from exc
    if not isinstance(info, dict):
        raise ValueError(f"{path} holds a JSON {type(info).__name__}, not an object: the checkpoint is corrupt")
    fmt = info.get("format", 1)
    if fmt not in READABLE_FORMATS:
        raise ValueError(f"{path} has checkpoint format {fmt!r}; this egsa_ros reads formats {READABLE_FORMATS}")
    if "model_config" not in info or not isinstance(info["model_config"], dict):
        raise ValueError(f"{path} has no model_config")
    return info


def model_config_from_info(info: dict[str, Any]) -> ModelConfig:
    """The saved architecture (ValueError from ModelConfig for other versions)."""
    if "model_config" not in info:
        raise ValueError("checkpoint.json has no model_config")
    if info.get("format", 1) == 1:
        arch, _ = split_legacy_config(info["model_config"])
        return ModelConfig.from_dict(arch)
    return ModelConfig.from_dict(info["model_config"])


def inference_options_from_info(info: dict[str, Any]) -> InferenceOptions:
    """The saved test-time options (defaults when the checkpoint has none)."""
    if info.get("format", 1) == 1:
        return split_legacy_config(info.get("model_config", {}))[1]
    return InferenceOptions.from_dict(info.get("inference_options"))


def upgrade_info(info: dict[str, Any]) -> dict[str, Any]:
    """A format-1 ``checkpoint.json`` dict rewritten as format 2 (format 2 is returned as is)."""
    if info.get("format", 1) == CHECKPOINT_FORMAT:
        return dict(info)
    arch, options = split_legacy_config(info["model_config"])
    return {**info, "format": CHECKPOINT_FORMAT, "model_config": arch, "inference_options": options.to_dict()}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (identifies the weights a graph was exported from)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
