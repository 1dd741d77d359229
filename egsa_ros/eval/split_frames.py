"""Frames of a rendered split (``egsa-synth --out ROOT --split S`` writes ``ROOT/S/<frame>/``) as
:class:`~egsa_ros.eval.bag_frames.BagFrame`, so ``egsa-eval --offline`` can score a whole held-out
split (sensor depth and ``depth_completed`` included) without writing a bag first.

The frames carry what a bag written by ``egsa-synth --bag`` would: RGB, ground-truth depth (NaN
where the renderer saw nothing), the simulated depth camera (NaN where it has no value), the
transparent-pixel mask and the intrinsics; and, unlike a bag, the camera's pose above the table
(``meta.json`` ``camera_to_world``: the world's z = 0 plane is the table top), the instance
image and the objects of ``meta.json`` (:class:`SplitFrame`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.synthetic_frames import SYNTHETIC_CLASSES, frame_dirs, read_frame
from .bag_frames import BagFrame

TRANSPARENT_CLASS = SYNTHETIC_CLASSES.index("transparent")


@dataclass
class SplitFrame(BagFrame):
    """A rendered frame: a :class:`BagFrame` with the per-object ground truth a bag lacks.

    ``gt_instances`` (H, W) int64 instance ids (0 = none); ``gt_objects`` the ``meta.json``
    ``objects`` list (``instance_id``, ``category``, ``position_m`` base centre in the table
    frame, ``height_m``, ``footprint_radius_m``, ...), None when the frame has none.
    """

    gt_instances: np.ndarray | None = None
    gt_objects: list | None = None


def is_split_folder(path: Path) -> bool:
    """True when ``path`` is a directory of rendered frames (not a bag)."""
    path = Path(path)
    return path.is_dir() and not (path / "metadata.yaml").is_file() and bool(frame_dirs(path))


def read_split_frames(folder: Path, *, limit: int | None = None) -> Iterator[BagFrame]:
    """Yield the split's frames in name order; ``stamp_ns`` is the frame's index."""
    dirs = frame_dirs(folder)
    if not dirs:
        raise FileNotFoundError(f"{folder} holds no rendered frame directories (each with a meta.json)")
    for index, frame_dir in enumerate(dirs[:limit] if limit else dirs):
        sample = read_frame(frame_dir)
        with open(frame_dir / "meta.json") as fh:
            meta = json.load(fh)
        pose = meta.get("camera_to_world")
        yield SplitFrame(
            stamp_ns=index,
            rgb=sample["rgb"],
            gt_depth=np.where(sample["depth"] > 0, sample["depth"], np.nan).astype(np.float32),
            gt_mask=sample["labels"] == TRANSPARENT_CLASS,
            sensor_depth=np.where(sample["depth_sensor"] > 0, sample["depth_sensor"], np.nan).astype(np.float32),
            K=sample["K"],
            camera_in_support=None if pose is None else np.asarray(pose, np.float64),
            gt_instances=sample["instance"],
            gt_objects=meta.get("objects"),
        )
