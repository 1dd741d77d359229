"""Reading our own rendered glassware frames (written by :mod:`egsa_ros.data.synth`), without torch.

Layout (one directory per frame)::

    <root>/<split>/<frame_id>/rgb.png           8-bit RGB
                             depth_gt.png       uint16 mm, z-depth, glass surfaces included, 0 = no hit
                             depth_sensor.png   uint16 mm, what an RGB-D camera would report, 0 = none
                             semantic.png       uint8: 0 background, 1 table, 2 transparent, 3 opaque distractor
                             instance.png       uint16 instance ids, 0 = none
                             meta.json          {"K": 3x3 list (pixels, pixel-centre convention),
                                                 "width": W, "height": H, "seed": ..., ...}

Frames are the sub-directories of ``<root>/<split>`` that hold a ``meta.json``, sorted by name.

Classes for egsa_ros (3, the Syn-TODD set): 0 background, 1 table, 2 transparent. The
renderer's 3 (opaque distractor) becomes 0: an opaque object is "not transparent and not the
table" for the mask, and its depth is still supervised through ``depth``. Any other value
becomes 255 (ignore).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .image_io import read_rgb, read_single_channel
from .transforms import IGNORE_INDEX, Sample

PathLike = str | Path

#: Rendered semantic id -> egsa_ros class (anything else -> IGNORE_INDEX).
SEMANTIC_TO_CLASS = {0: 0, 1: 1, 2: 2, 3: 0}
#: Rendered semantic id of opaque objects (distractors, look-alikes).
OPAQUE_SEMANTIC = 3
#: egsa_ros class names, index = class id.
SYNTHETIC_CLASSES = ("background", "table", "transparent")
#: Millimetres per metre (the depth PNGs store mm).
MM_PER_M = 1000.0


def map_semantic(semantic: np.ndarray) -> np.ndarray:
    """(H, W) rendered semantic ids -> (H, W) int64 classes via :data:`SEMANTIC_TO_CLASS`."""
    lut = np.full(256 if semantic.dtype == np.uint8 else int(semantic.max()) + 1, IGNORE_INDEX, np.int64)
    for src, dst in SEMANTIC_TO_CLASS.items():
        if src < lut.size:
            lut[src] = dst
    return lut[semantic]


def frame_dirs(split_dir: PathLike) -> list[Path]:
    """The frame directories of a split that have a ``meta.json``, sorted by name ([] if
    ``split_dir`` is not a directory)."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        return []
    return sorted(p for p in split_dir.iterdir() if (p / "meta.json").is_file())


def read_frame(folder: PathLike) -> Sample:
    """One frame directory -> sample dict: ``rgb`` (H, W, 3) uint8, ``depth`` (ground truth)
    and ``depth_sensor`` (H, W) float32 m (0 = none), ``labels`` and ``instance`` (H, W)
    int64, ``opaque`` (H, W) int64 (1 on opaque objects: look-alikes and distractors, which
    ``labels`` counts as background), ``K`` (3, 3), ``frame`` (the directory name), ``seed``
    (when meta.json has one)."""
    folder = Path(folder)
    with open(folder / "meta.json") as fh:
        meta = json.load(fh)
    rgb = read_rgb(folder / "rgb.png")
    height, width = rgb.shape[:2]
    if "width" in meta and "height" in meta and (int(meta["height"]), int(meta["width"])) != (height, width):
        raise ValueError(f"{folder}: meta.json says {meta['width']}x{meta['height']}, rgb.png is {width}x{height}")
    K = np.asarray(meta["K"], dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"{folder}/meta.json: K must be 3x3, got shape {K.shape}")
    sample: Sample = {"rgb": rgb, "K": K, "frame": folder.name}
    for key, name in (("depth", "depth_gt.png"), ("depth_sensor", "depth_sensor.png")):
        mm = read_single_channel(folder / name, (np.uint16,))
        sample[key] = mm.astype(np.float32) / np.float32(MM_PER_M)
    semantic = read_single_channel(folder / "semantic.png", (np.uint8,))
    sample["labels"] = map_semantic(semantic)
    sample["opaque"] = (semantic == OPAQUE_SEMANTIC).astype(np.int64)
    sample["instance"] = read_single_channel(folder / "instance.png", (np.uint16, np.uint8)).astype(np.int64)
    for key in ("depth", "depth_sensor", "labels", "instance"):
        if sample[key].shape != (height, width):
            raise ValueError(f"{folder}: {key} is {sample[key].shape}, rgb is {(height, width)}")
    if "seed" in meta:
        sample["seed"] = int(meta["seed"])
    return sample
