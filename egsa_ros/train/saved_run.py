"""How a checkpoint's training run validated, read back from its ``checkpoint.json`` (the
``train_config`` entry), so that ``train.evaluate`` and ``train.calibrate`` validate the same way:
the same loss settings (the val loss) and the same memory layout (CPU sums depend on it in the
last bits)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import LossConfig


def _train_config(info: dict[str, Any]) -> dict[str, Any]:
    saved = info.get("train_config")
    return saved if isinstance(saved, dict) else {}


def saved_loss_config(info: dict[str, Any]) -> LossConfig:
    """The ``loss`` section the checkpoint was trained with, or the defaults when it has none;
    keys this version does not know are ignored."""
    saved = _train_config(info).get("loss")
    if not isinstance(saved, dict):
        return LossConfig()
    known = {f.name for f in dataclasses.fields(LossConfig)}
    return LossConfig(**{k: v for k, v in saved.items() if k in known})


def saved_channels_last(info: dict[str, Any]) -> bool:
    """Whether the run validated in channels-last layout (``channels_last``; False when unknown)."""
    return bool(_train_config(info).get("channels_last", False))
