"""Build the torch network a :class:`~egsa_ros.model.model_source.ModelSource` describes."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .checkpoint import load_checkpoint
from .inference_options import InferenceOptions
from .model_source import ModelSource, resolve_model
from .net import build_model


def build_network(source: ModelSource) -> nn.Module:
    """The network in eval mode: trained weights for a checkpoint, random ones for a preset."""
    if source.directory is not None:
        network, _ = load_checkpoint(source.directory)
        return network.eval()
    return build_model(source.config).eval()


def load_network(
    model: str | Path | None,
    *,
    flip_average: bool | None = None,
    mask_input_size: tuple[int, int] | None = None,
    allow_random_weights: bool = False,
) -> tuple[nn.Module, InferenceOptions, str]:
    """(network in eval mode, test-time options, human-readable name) for a model argument.

    Args:
        model: see :func:`~egsa_ros.model.model_source.resolve_model`.
        flip_average: True / False to switch mirrored test-time averaging on / off; None keeps
            the model's saved setting.
        mask_input_size: (H, W) to take the mask from a second pass at that size; None keeps
            the model's.
        allow_random_weights: see :func:`~egsa_ros.model.model_source.resolve_model`.
    """
    source = resolve_model(model, allow_random_weights=allow_random_weights)
    changes = source.options.differences(flip_average=flip_average, mask_input_size=mask_input_size)
    options = source.options.replace(**changes) if changes else source.options
    return build_network(source), options, source.name + options.describe()
