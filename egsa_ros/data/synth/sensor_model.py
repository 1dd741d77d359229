"""What an RGB-D camera (active stereo / structured light) reports around glass.

Starting from the exact depth of the first non-glass surface along each pixel ray (the
sensor "sees through" glass), it adds the sensor's typical failures:
- glass pixels drop out in blobs (specular highlights and refraction break matching);
- pixels at depth discontinuities drop out at random (edge shadowing / flying pixels);
- Gaussian noise with standard deviation ``noise_k * z**2`` (stereo error grows with z^2);
- readings outside ``[min_range, max_range]`` metres are missing (0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass
class SensorParams:
    """One frame's sensor settings (drawn by :func:`sample_sensor_params`)."""

    glass_dropout: float  # fraction of glass pixels that read 0
    dropout_blob_px: float  # spatial scale of the glass dropout blobs, pixels
    edge_dropout: float  # probability that a pixel at a depth edge reads 0
    noise_k: float  # noise std = noise_k * z^2 (metres, z in metres)
    min_range: float = 0.15
    max_range: float = 6.0

    def to_dict(self) -> dict:
        return asdict(self)


def sample_sensor_params(rng: np.random.Generator) -> SensorParams:
    return SensorParams(
        glass_dropout=float(rng.uniform(0.2, 0.8)),
        dropout_blob_px=float(rng.uniform(1.0, 4.0)),
        edge_dropout=float(rng.uniform(0.3, 0.8)),
        noise_k=float(rng.uniform(0.001, 0.004)),
    )


def depth_edges(depth: np.ndarray, rel_jump: float = 0.03, abs_jump: float = 0.02) -> np.ndarray:
    """(H, W) bool: pixels whose 3x3 neighbourhood spans more than ``abs_jump + rel_jump * z`` metres."""
    valid = depth > 0
    big = np.where(valid, depth, 0.0).astype(np.float32)
    small = np.where(valid, depth, 1e6).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(big, kernel) - cv2.erode(small, kernel)
    return valid & (spread > abs_jump + rel_jump * depth)


def simulate_sensor_depth(
    behind_glass: np.ndarray, glass_mask: np.ndarray, params: SensorParams, rng: np.random.Generator
) -> np.ndarray:
    """Sensor depth (H, W) float32 metres, 0 = no reading.

    Args:
        behind_glass: (H, W) z of the first non-glass surface, metres (0 = none).
        glass_mask: (H, W) bool, pixels whose first hit is glass.
        params: the frame's :class:`SensorParams`. rng: the frame's generator.
    """
    depth = behind_glass.astype(np.float64).copy()
    h, w = depth.shape
    # Glass dropout in blobs: threshold smoothed noise at the wanted quantile.
    field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), params.dropout_blob_px)
    if glass_mask.any():
        cut = np.quantile(field[glass_mask], params.glass_dropout)
        depth[glass_mask & (field <= cut)] = 0.0
    m = glass_mask.astype(np.uint8)
    glass_rim = cv2.dilate(m, np.ones((3, 3), np.uint8)) != cv2.erode(m, np.ones((3, 3), np.uint8))
    edges = depth_edges(behind_glass) | glass_rim
    depth[edges & (rng.random((h, w)) < params.edge_dropout)] = 0.0
    depth = depth + rng.standard_normal((h, w)) * params.noise_k * depth**2
    depth[(depth < params.min_range) | (depth > params.max_range)] = 0.0
    return depth.astype(np.float32)
