"""Procedurally drawn tabletop frames with glass-like objects (no renderer needed).

Used by the demo while no rendered sample bag exists. They are not physically based:
a textured table, a wall, and ellipse-shaped "glasses" that tint and blur what is behind
them with bright rim highlights. Deterministic per seed.
"""

from __future__ import annotations

import cv2
import numpy as np


def tabletop_frame(seed: int, height: int = 480, width: int = 640) -> np.ndarray:
    """One (height, width, 3) uint8 RGB frame (any size >= 16x16; object sizes scale with it)."""
    if height < 16 or width < 16:
        raise ValueError(f"frame must be at least 16x16, got {width}x{height}")
    rng = np.random.default_rng(seed)
    sx, sy = width / 640.0, height / 480.0

    def span(lo: float, hi: float, scale: float) -> int:
        lo, hi = int(lo * scale), int(hi * scale)
        return int(rng.integers(lo, max(hi, lo + 1)))

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = int(height * rng.uniform(0.3, 0.45))
    wall = np.array(rng.integers(150, 230, 3), np.float32)
    table = np.array(rng.integers(60, 160, 3), np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[:] = wall * (0.85 + 0.15 * xx[..., None] / width)
    grain = 12.0 * np.sin(xx / rng.uniform(6, 14) + 3.0 * np.sin(yy / 40.0))[..., None]
    img[horizon:] = table * (0.7 + 0.3 * (yy[horizon:, :, None] - horizon) / (height - horizon)) + grain[horizon:]
    for _ in range(int(rng.integers(1, 3))):  # opaque distractors: boxes
        x0, y0 = span(0, 560, sx), span(horizon / sy - 40, 400, sy)
        cv2.rectangle(
            img,
            (x0, y0),
            (x0 + span(40, 120, sx), y0 + span(30, 90, sy)),
            tuple(float(c) for c in rng.integers(0, 255, 3)),
            -1,
        )
    blurred = cv2.GaussianBlur(img, (0, 0), 4.0)
    for _ in range(int(rng.integers(2, 5))):  # glass-like objects
        cx, cy = span(60, 580, sx), span(horizon / sy, 420, sy)
        ax, ay = max(span(20, 60, sx), 2), max(span(40, 110, sy), 2)
        mask = np.zeros((height, width), np.uint8)
        cv2.ellipse(mask, (cx, cy - ay // 2), (ax, ay), 0, 0, 360, 1, -1)
        inside = mask.astype(bool)
        tint = np.array([0.92, 0.97, 1.0], np.float32) * rng.uniform(0.85, 1.05)
        img[inside] = blurred[inside] * tint
        cv2.ellipse(img, (cx, cy - ay // 2), (ax, ay), 0, 200, 340, (250, 250, 250), 2, cv2.LINE_AA)
        cv2.line(img, (cx - ax // 2, cy - ay), (cx - ax // 2, cy), (235, 240, 245), 2, cv2.LINE_AA)
    img += rng.normal(0.0, 3.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
