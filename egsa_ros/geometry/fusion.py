"""Fuse the network's depth shape into a geometric surface model, inside one object.

Rule: the network's depth of the object is scaled so its median equals the model's median
(its scale is what the network gets wrong most; the model's placement is trusted); then each
pixel takes ``model + weight * clip(aligned - model, -limit, +limit)``, with ``limit`` half the
object's width (a deviation larger than that cannot be the object's own shape). Weight 0 keeps
the model; weight 1 keeps the aligned network depth where it is within the limit.
"""

from __future__ import annotations

import numpy as np

MIN_SAMPLES = 10


def fuse_network_shape(model: np.ndarray, network: np.ndarray, weight: float, limit_m: float) -> np.ndarray:
    """(N,) fused z-depth, metres.

    Args:
        model: (N,) z-depth of the geometric model on the object's pixels, metres.
        network: (N,) the network's z-depth on the same pixels, metres (NaN/<= 0: unknown).
        weight: 0..1 share of the network's shape.
        limit_m: largest deviation from the model taken from the network, metres.
    Returns:
        The model where the network has no value, or everywhere if fewer than 10 pixels have
        one on both.
    """
    model = np.asarray(model, dtype=np.float64)
    network = np.asarray(network, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(model) & np.isfinite(network) & (network > 0) & (model > 0)
    if weight <= 0 or usable.sum() < MIN_SAMPLES:
        return model.copy()
    scale = np.median(model[usable]) / np.median(network[usable])
    deviation = np.clip(scale * network - model, -limit_m, limit_m)
    return np.where(usable, model + weight * deviation, model)
