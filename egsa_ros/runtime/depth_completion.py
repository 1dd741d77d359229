"""Fill a depth camera's holes on glass with the network's depth, aligned to the sensor.

Depth cameras see through or past glass: on transparent pixels their depth is missing or
wrong. :func:`complete_depth` keeps the sensor's depth everywhere else and, for each
transparent object (a connected component of the mask), replaces its pixels with
``scale * predicted + offset``, where scale and offset are fitted (least squares) to the
valid sensor depth in a ring of pixels around that object. Objects without enough ring
samples use the fit over all valid non-transparent pixels, and without that the raw
prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CompletionConfig:
    """Parameters of :func:`complete_depth`.

    Attributes:
        ring_px: width of the ring around each object that the fit uses, pixels.
        min_samples: fewest valid ring pixels for a per-object fit.
        scale_range: accepted (min, max) scale; fits outside it fall back.
    """

    ring_px: int = 8
    min_samples: int = 30
    scale_range: tuple[float, float] = (0.5, 2.0)


def fit_scale_offset(predicted: np.ndarray, sensor: np.ndarray) -> tuple[float, float]:
    """Least-squares (scale, offset) with ``sensor ~= scale * predicted + offset`` (1-D arrays)."""
    design = np.stack([predicted, np.ones_like(predicted)], axis=1).astype(np.float64)
    (scale, offset), *_ = np.linalg.lstsq(design, sensor.astype(np.float64), rcond=None)
    return float(scale), float(offset)


def complete_depth(
    sensor: np.ndarray, predicted: np.ndarray, mask: np.ndarray, config: CompletionConfig | None = None
) -> np.ndarray:
    """Sensor depth with transparent pixels replaced by aligned predicted depth.

    Args:
        sensor: (H, W) float32 metres, NaN where the camera has no value.
        predicted: (H, W) float32 metres from the network.
        mask: (H, W) uint8, non-zero on transparent pixels.
        config: ring width, sample count and scale limits.
    Returns:
        (H, W) float32 metres; NaN only where the sensor has nothing and the pixel is not
        transparent.
    """
    config = config or CompletionConfig()
    if sensor.shape != predicted.shape or sensor.shape != mask.shape:
        raise ValueError(f"shapes differ: sensor {sensor.shape}, predicted {predicted.shape}, mask {mask.shape}")
    out = sensor.astype(np.float32, copy=True)
    transparent = mask.astype(bool)
    if not transparent.any():
        return out
    valid = np.isfinite(sensor) & (sensor > 0) & np.isfinite(predicted) & ~transparent
    global_fit = _checked_fit(predicted[valid], sensor[valid], config)
    count, labels = cv2.connectedComponents(transparent.astype(np.uint8), connectivity=8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * config.ring_px + 1, 2 * config.ring_px + 1))
    for label in range(1, count):
        obj = labels == label
        ring = cv2.dilate(obj.astype(np.uint8), kernel).astype(bool) & valid
        fit = _checked_fit(predicted[ring], sensor[ring], config) or global_fit or (1.0, 0.0)
        out[obj] = fit[0] * predicted[obj] + fit[1]
    return out


def _checked_fit(predicted: np.ndarray, sensor: np.ndarray, config: CompletionConfig):
    """A (scale, offset) fit if there are enough samples and the scale is plausible, else None."""
    if predicted.size < config.min_samples:
        return None
    scale, offset = fit_scale_offset(predicted, sensor)
    low, high = config.scale_range
    return (scale, offset) if low <= scale <= high else None
