"""Small image-file readers shared by the dataset loaders (OpenCV based, clear errors)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

PathLike = str | Path


def read_rgb(path: PathLike) -> np.ndarray:
    """An 8-bit colour or grey image file -> (H, W, 3) uint8 RGB (alpha dropped)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_single_channel(path: PathLike, dtypes: Sequence[type]) -> np.ndarray:
    """A single-channel PNG (e.g. uint16 depth in mm, uint8 labels) -> (H, W) array whose
    dtype is one of ``dtypes`` (kept as stored).

    Raises ``ValueError`` when the file holds another bit depth or several channels, so a
    depth map saved as 8-bit (or labels saved as colour) is caught instead of misread.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel image, got shape {image.shape}")
    allowed = [np.dtype(d) for d in dtypes]
    if image.dtype not in allowed:
        raise ValueError(f"{path}: expected one of {[str(d) for d in allowed]}, got {image.dtype}")
    return image


def decode_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes (JPEG/PNG) -> (H, W, 3) uint8 RGB."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("cannot decode the image bytes")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
