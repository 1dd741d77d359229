"""Training: config (YAML + dotted overrides), the loop (single process or torchrun DDP),
writing checkpoints (reading them back is :mod:`egsa_ros.model.checkpoint`'s), one validation
shared by training, ``train.evaluate`` and ``train.calibrate``, and the ``egsa-train`` CLI."""

from .checkpoint import save_checkpoint
from .config import TrainConfig, load_train_config

__all__ = ["TrainConfig", "load_train_config", "save_checkpoint", "train"]


def train(*args, **kwargs):
    """See :func:`egsa_ros.train.trainer.train`."""
    from .trainer import train as _train  # noqa: PLC0415 - the training loop loads torch.distributed, data readers, ...

    return _train(*args, **kwargs)
