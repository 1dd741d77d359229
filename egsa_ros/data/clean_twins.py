"""Training frames shown either as rendered or from a clean render of the same scene (torch).

Our training frames are path-traced at 32 samples per pixel, which leaves glass noisier than the
rest of the frame, a cue no camera gives (``models/HISTORY.md``, "The path tracer's noise is a glass
cue"). ``egsa-synth`` renders the same scene again when run with the same seed, index and
generator at more samples (``--spp 256``); :class:`CleanTwins` pairs each training frame with such a
"clean twin" by frame name and shows the twin instead with probability ``share`` each time the
frame is drawn, so a scene is seen both ways across epochs and the epoch length is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch.utils.data

from .synthetic import SyntheticDataset, read_frame
from .transforms import WorkerRng

SCENE_KEYS = ("seed", "frame_index", "generator", "split_family", "width", "height", "objects")
"""``meta.json`` entries a frame and its twin must share (the same scene, objects and size)."""


def _scene(frame_dir: Path) -> dict:
    meta = json.loads((frame_dir / "meta.json").read_text())
    return {key: meta.get(key) for key in SCENE_KEYS}


class CleanTwins(torch.utils.data.Dataset):
    """``base``'s frames, each read from its clean twin with probability ``share``.

    Args:
        base: the training frames (their transform is applied to whichever version is read).
        twins: source folder -> clean folder, e.g. ``{"data/egsa_v2/train":
            "data/egsa_v2/train_spp256"}``; a frame (after resolving links) whose folder is a
            source has a twin when the clean folder holds a frame of the same name.
        share: probability (0-1) of reading the twin of a frame that has one.
        seed: base seed; the draws also follow ``torch.initial_seed()`` (which differs per
            DataLoader worker and epoch), as the training transform's do.

    Raises:
        FileNotFoundError: a clean folder does not exist.
        ValueError: a twin shows another scene than its frame (``SCENE_KEYS`` differ).
    """

    def __init__(self, base: SyntheticDataset, twins: Mapping[str, str], share: float, seed: int = 0) -> None:
        self.base = base
        self.share = float(share)
        self.seed = int(seed)
        folders = {}
        for source, clean in twins.items():
            if not Path(clean).is_dir():
                raise FileNotFoundError(f"clean-twin folder {clean} (for {source}) does not exist")
            folders[Path(source).resolve()] = Path(clean)
        self.twin_of: dict[int, Path] = {}
        for i, frame in enumerate(base.frames):
            real = Path(frame).resolve()
            clean = folders.get(real.parent)
            if clean is None or not (clean / real.name / "meta.json").is_file():
                continue
            twin = clean / real.name
            if _scene(twin) != _scene(real):
                raise ValueError(
                    f"clean twin {twin} shows another scene than {real}: meta.json {SCENE_KEYS} differ "
                    "(render it with the same --seed, --generator, --split-family and size)"
                )
            self.twin_of[i] = twin
        self._rng = WorkerRng(self.seed, 47)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Any:
        twin = self.twin_of.get(index)
        if twin is not None and self._rng().random() < self.share:
            sample = read_frame(twin)
        else:
            sample = self.base.read_sample(index)
        return self.base.transform(sample) if self.base.transform is not None else sample
