"""Reader for our own rendered glassware frames (written by :mod:`egsa_ros.data.synth`).

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
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import torch.utils.data

from .image_io import read_rgb, read_single_channel
from .transforms import IGNORE_INDEX, Sample

PathLike = Union[str, Path]

#: Rendered semantic id -> egsa_ros class (anything else -> IGNORE_INDEX).
SEMANTIC_TO_CLASS = {0: 0, 1: 1, 2: 2, 3: 0}
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


def frame_dirs(split_dir: PathLike) -> List[Path]:
    """The frame directories of a split that have a ``meta.json``, sorted by name ([] if
    ``split_dir`` is not a directory)."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        return []
    return sorted(p for p in split_dir.iterdir() if (p / "meta.json").is_file())


def read_frame(folder: PathLike) -> Sample:
    """One frame directory -> sample dict: ``rgb`` (H, W, 3) uint8, ``depth`` (ground truth)
    and ``depth_sensor`` (H, W) float32 m (0 = none), ``labels`` and ``instance`` (H, W)
    int64, ``K`` (3, 3), ``frame`` (the directory name), ``seed`` (when meta.json has one)."""
    folder = Path(folder)
    with open(folder / "meta.json") as fh:
        meta = json.load(fh)
    rgb = read_rgb(folder / "rgb.png")
    height, width = rgb.shape[:2]
    if "width" in meta and "height" in meta and (int(meta["height"]), int(meta["width"])) != (height, width):
        raise ValueError(f"{folder}: meta.json says {meta['width']}x{meta['height']}, "
                         f"rgb.png is {width}x{height}")
    K = np.asarray(meta["K"], dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"{folder}/meta.json: K must be 3x3, got shape {K.shape}")
    sample: Sample = {"rgb": rgb, "K": K, "frame": folder.name}
    for key, name in (("depth", "depth_gt.png"), ("depth_sensor", "depth_sensor.png")):
        mm = read_single_channel(folder / name, (np.uint16,))
        sample[key] = mm.astype(np.float32) / np.float32(MM_PER_M)
    semantic = read_single_channel(folder / "semantic.png", (np.uint8,))
    sample["labels"] = map_semantic(semantic)
    sample["instance"] = read_single_channel(folder / "instance.png", (np.uint16, np.uint8)).astype(np.int64)
    for key in ("depth", "depth_sensor", "labels", "instance"):
        if sample[key].shape != (height, width):
            raise ValueError(f"{folder}: {key} is {sample[key].shape}, rgb is {(height, width)}")
    if "seed" in meta:
        sample["seed"] = int(meta["seed"])
    return sample


def _glass_allowed(frame_dir: Path, excluded_shapes: set, max_ior: Optional[float]) -> bool:
    """False if the frame shows a transparent object of an excluded shape or with IOR > max_ior."""
    if not excluded_shapes and max_ior is None:
        return True
    meta = json.loads((frame_dir / "meta.json").read_text())
    for obj in meta.get("objects", []):
        if obj.get("category") != "transparent":
            continue
        if obj.get("shape") in excluded_shapes or (max_ior is not None and obj.get("ior", 0.0) > max_ior):
            return False
    return True


class SyntheticDataset(torch.utils.data.Dataset):
    """Our rendered frames of one split as sample dicts (see the module docstring).

    Args:
        root: dataset directory.
        split: sub-directory name (``train``, ``val``...).
        transform: applied to each sample dict; None returns the numpy sample of :func:`read_frame`.
        exclude_glass_shapes: skip frames showing transparent objects of these shapes.
        max_glass_ior: skip frames showing glass with a higher refractive index.
            (Both build training sets that hold shapes/materials out for generalisation tests;
            ``excluded`` counts the skipped frames.)
    """

    def __init__(self, root: PathLike, split: str,
                 transform: Optional[Callable[[Sample], Any]] = None, *,
                 exclude_glass_shapes: Sequence[str] = (), max_glass_ior: Optional[float] = None) -> None:
        self.root = Path(root)
        self.split = split
        self.transform = transform
        split_dir = self.root / split
        if not split_dir.is_dir():
            raise FileNotFoundError(f"no split directory {split_dir}")
        frames = frame_dirs(split_dir)
        if not frames:
            raise FileNotFoundError(f"{split_dir} holds no frame directories with a meta.json")
        keep = [f for f in frames if _glass_allowed(f, set(exclude_glass_shapes), max_glass_ior)]
        if not keep:
            raise FileNotFoundError(f"no frame of {split_dir} is left after excluding glass shapes "
                                    f"{sorted(exclude_glass_shapes)} and IOR > {max_glass_ior}")
        self.frames: List[Path] = keep
        self.excluded = len(frames) - len(keep)

    def __len__(self) -> int:
        return len(self.frames)

    def read_sample(self, index: int) -> Sample:
        """The untransformed numpy sample ``index``."""
        return read_frame(self.frames[index])

    def __getitem__(self, index: int) -> Any:
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample
