"""The training/validation dataset over our rendered glassware frames (torch).

The frame layout and the torch-free readers are in :mod:`egsa_ros.data.synthetic_frames`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch.utils.data

from .synthetic_frames import MM_PER_M as MM_PER_M
from .synthetic_frames import SEMANTIC_TO_CLASS as SEMANTIC_TO_CLASS
from .synthetic_frames import SYNTHETIC_CLASSES as SYNTHETIC_CLASSES
from .synthetic_frames import frame_dirs as frame_dirs
from .synthetic_frames import map_semantic as map_semantic
from .synthetic_frames import read_frame as read_frame
from .transforms import Sample

PathLike = str | Path


def _glass_allowed(frame_dir: Path, excluded_shapes: set, max_ior: float | None) -> bool:
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

    def __init__(
        self,
        root: PathLike,
        split: str,
        transform: Callable[[Sample], Any] | None = None,
        *,
        exclude_glass_shapes: Sequence[str] = (),
        max_glass_ior: float | None = None,
    ) -> None:
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
            raise FileNotFoundError(
                f"no frame of {split_dir} is left after excluding glass shapes "
                f"{sorted(exclude_glass_shapes)} and IOR > {max_glass_ior}"
            )
        self.frames: list[Path] = keep
        self.excluded = len(frames) - len(keep)

    def __len__(self) -> int:
        return len(self.frames)

    def read_sample(self, index: int) -> Sample:
        """The untransformed numpy sample ``index``."""
        return read_frame(self.frames[index])

    def __getitem__(self, index: int) -> Any:
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample
