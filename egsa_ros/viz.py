"""Pictures for people: depth colour maps, mask overlays and side-by-side panels (numpy + OpenCV),
and a matplotlib that draws to files (no screen needed)."""

from __future__ import annotations

import cv2
import numpy as np


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (imported on first use: ~0.5 s)."""
    import matplotlib  # noqa: PLC0415 - matplotlib takes ~0.5 s to import; only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after use("Agg"), and only plots need it

    return plt


def colourise_depth(depth: np.ndarray, d_min: float, d_max: float) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) uint8 RGB with a fixed colour map; NaN / 0 is black."""
    norm = np.clip((np.nan_to_num(depth, nan=d_min) - d_min) / (d_max - d_min), 0.0, 1.0)
    bgr = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[~np.isfinite(depth) | (depth <= 0)] = 0
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay_mask(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGB with mask pixels tinted magenta."""
    out = rgb.copy()
    out[mask > 0] = (0.5 * out[mask > 0] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
    return out


def panel(
    rgb: np.ndarray, depth: np.ndarray, mask: np.ndarray, d_min: float, d_max: float, gt_depth: np.ndarray | None = None
) -> np.ndarray:
    """RGB | predicted depth | [ground-truth depth |] RGB with the predicted mask, side by side."""
    tiles = [rgb, colourise_depth(depth, d_min, d_max)]
    if gt_depth is not None:
        tiles.append(colourise_depth(gt_depth, d_min, d_max))
    tiles.append(overlay_mask(rgb, mask))
    return np.concatenate(tiles, axis=1)
