"""Frames of a rendered split (``egsa-synth --out ROOT --split S`` writes ``ROOT/S/<frame>/``) as
:class:`~egsa_ros.eval.bag_frames.BagFrame`, so ``egsa-eval --offline`` can score a whole held-out
split (sensor depth and ``depth_completed`` included) without writing a bag first.

The frames carry what a bag written by ``egsa-synth --bag`` would: RGB, ground-truth depth (NaN
where the renderer saw nothing), the simulated depth camera (NaN where it has no value), the
transparent-pixel mask and the intrinsics; and, unlike a bag, the camera's pose above the table
(``meta.json`` ``camera_to_world``: the world's z = 0 plane is the table top).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..data.synthetic_frames import SYNTHETIC_CLASSES, frame_dirs, read_frame
from .bag_frames import BagFrame

TRANSPARENT_CLASS = SYNTHETIC_CLASSES.index("transparent")


def is_split_folder(path: Path) -> bool:
    """True when ``path`` is a directory of rendered frames (not a bag)."""
    path = Path(path)
    return path.is_dir() and not (path / "metadata.yaml").is_file() and bool(frame_dirs(path))


def read_split_frames(folder: Path, *, limit: Optional[int] = None) -> Iterator[BagFrame]:
    """Yield the split's frames in name order; ``stamp_ns`` is the frame's index."""
    dirs = frame_dirs(folder)
    if not dirs:
        raise FileNotFoundError(f"{folder} holds no rendered frame directories (each with a meta.json)")
    for index, frame_dir in enumerate(dirs[:limit] if limit else dirs):
        sample = read_frame(frame_dir)
        with open(frame_dir / "meta.json") as fh:
            pose = json.load(fh).get("camera_to_world")
        yield BagFrame(
            stamp_ns=index,
            rgb=sample["rgb"],
            gt_depth=np.where(sample["depth"] > 0, sample["depth"], np.nan).astype(np.float32),
            gt_mask=sample["labels"] == TRANSPARENT_CLASS,
            sensor_depth=np.where(sample["depth_sensor"] > 0, sample["depth_sensor"], np.nan).astype(np.float32),
            K=sample["K"],
            camera_in_support=None if pose is None else np.asarray(pose, np.float64),
        )
