"""Training: config (YAML + dotted overrides), the loop (single process or torchrun DDP),
checkpoints that load without executing code, and the ``egsa-train`` CLI."""
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, load_train_config

__all__ = ["TrainConfig", "load_train_config", "load_checkpoint", "save_checkpoint", "train"]


def train(*args, **kwargs):
    """See :func:`egsa_ros.train.trainer.train`."""
    from .trainer import train as _train

    return _train(*args, **kwargs)
