"""ClearPose reader (real RealSense L515 frames of transparent objects, ECCV 2022).

Files (as published, github.com/opipari/ClearPose README)::

    <root>/<set>/<scene>/NNNNNN-color.png        8-bit RGB
                        NNNNNN-depth.png         raw sensor depth (not read here)
                        NNNNNN-depth_true.png    ground-truth depth, uint16, mm (factor_depth 1000)
                        NNNNNN-label.png         per-pixel object id, 0 = no object
                        metadata.mat             per-frame annotations (MATLAB)

``metadata.mat`` holds one struct per frame, keyed by the frame id (``"000000"``), with
``cls_indexes``, ``intrinsic_matrix`` (the README calls it ``camera_intrinsics``; 3x3),
``rotation_translation_matrix``, ``center``, ``factor_depth`` (1000), ``bbox``. Reading it
needs ``scipy.io.loadmat`` (scipy is imported only then).

Split file (``config.json`` in ``root``): ClearPose itself ships NO split file. We read the
grouping file that MODEST (the EGSA-PT baseline) uses, and extend it:

.. code-block:: json

    {
      "train": {"set1": {"scene1": 1000, "scene2": 1000}, "set4": {"scene1": 900}},
      "test":  [["set1", "scene5"], ["set4", "scene6"]],
      "intrinsics": {"set1/scene1": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                     "set1": [[...]], "*": [[...]]}
    }

- a split maps set -> scene -> frame count N (MODEST's schema: frames 000000..N-1, missing
  ones skipped), or is a list of ``[set, scene]`` pairs (ours: every ``*-color.png`` there);
- ``intrinsics`` (ours, optional): K per ``"set/scene"``, per ``"set"`` or for all (``"*"``),
  most specific first.

Intrinsics per frame, the most explicit source first: the ``K`` argument of
:class:`ClearPoseDataset`, ``config.json`` ``intrinsics``, the scene's ``metadata.mat``. A frame
with none of them raises ``FileNotFoundError``.

Depth: metres = uint16 / factor_depth (1000 unless ``metadata.mat`` says otherwise), 0 = no
value. The valid range for training and metrics is 0.3-3 m (:data:`CLEARPOSE_DEPTH_RANGE`,
applied by the transform's ``d_min``/``d_max``, not here).

Classes for egsa_ros (2): 0 background, 1 transparent object (``label != 0``; ClearPose's
object ids are not kept; the few opaque distractors of set8 count as objects too, as in MODEST).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data

from .image_io import read_rgb, read_single_channel
from .transforms import Sample

PathLike = str | Path

#: Valid metric depth range of ClearPose for training and evaluation, metres.
CLEARPOSE_DEPTH_RANGE = (0.3, 3.0)
#: egsa_ros class names, index = class id.
CLEARPOSE_CLASSES = ("background", "transparent")
#: Default depth scale: stored units per metre.
CLEARPOSE_FACTOR_DEPTH = 1000.0

Frame = tuple[str, str, str]  # set, scene, frame id


class ClearPoseDataset(torch.utils.data.Dataset):
    """ClearPose frames of one split as sample dicts.

    Args:
        root: dataset directory (holding ``set1`` ... and the config file).
        split: a key of the config file (``train``, ``test``...).
        transform: applied to each sample dict; None returns the numpy sample: ``rgb``
            (H, W, 3) uint8, ``depth`` (H, W) float32 m (0 = none), ``labels`` (H, W) int64
            (0/1), ``K`` (3, 3), ``frame`` ``"set/scene/NNNNNN"``.
        config_file: the grouping file, relative to ``root`` unless absolute.
        K: intrinsics for every frame (overrides the config file and metadata.mat).
    """

    def __init__(
        self,
        root: PathLike,
        split: str,
        transform: Callable[[Sample], Any] | None = None,
        *,
        config_file: PathLike = "config.json",
        K: np.ndarray | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.transform = transform
        config_path = Path(config_file)
        if not config_path.is_absolute():
            config_path = self.root / config_path
        with open(config_path) as fh:
            config = json.load(fh)
        if split not in config or split == "intrinsics":
            raise KeyError(f"{config_path}: no split {split!r} (has {sorted(k for k in config if k != 'intrinsics')})")
        self.K = None if K is None else _as_K(K, "K argument")
        self.config_intrinsics = {
            str(k): _as_K(v, f"{config_path} intrinsics[{k!r}]") for k, v in config.get("intrinsics", {}).items()
        }
        self.frames = self._frames(config[split], config_path)
        if not self.frames:
            raise FileNotFoundError(f"ClearPose split {split!r} under {self.root} has no frames")
        self._metadata: dict[tuple[str, str], dict[str, Any]] = {}

    def _frames(self, spec: Any, where: Path) -> list[Frame]:
        frames: list[Frame] = []
        if isinstance(spec, dict):  # MODEST: set -> scene -> frame count
            for set_name, scenes in spec.items():
                for scene, count in scenes.items():
                    folder = self.root / set_name / scene
                    for index in range(int(count)):
                        fid = f"{index:06d}"
                        if (folder / f"{fid}-color.png").is_file():
                            frames.append((set_name, scene, fid))
        elif isinstance(spec, list):  # ours: [set, scene] pairs, every frame found
            for pair in spec:
                if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                    raise ValueError(f"{where}: split entries must be [set, scene] pairs, got {pair!r}")
                set_name, scene = str(pair[0]), str(pair[1])
                folder = self.root / set_name / scene
                for color in sorted(folder.glob("*-color.png")):
                    frames.append((set_name, scene, color.name[: -len("-color.png")]))
        else:
            raise ValueError(f"{where}: a split must be a set->scene->count dict or a list of pairs")
        return frames

    def __len__(self) -> int:
        return len(self.frames)

    def _scene_metadata(self, set_name: str, scene: str) -> dict[str, Any] | None:
        key = (set_name, scene)
        if key not in self._metadata:
            path = self.root / set_name / scene / "metadata.mat"
            if not path.is_file():
                self._metadata[key] = {}
            else:
                try:
                    from scipy.io import loadmat  # noqa: PLC0415 - optional: only for metadata.mat intrinsics
                except ImportError as exc:  # pragma: no cover - scipy missing
                    raise ImportError(
                        f"reading {path} needs scipy (scipy.io.loadmat); or give "
                        f"intrinsics in the config file or the K argument"
                    ) from exc
                self._metadata[key] = loadmat(str(path))
        return self._metadata[key] or None

    def _frame_meta(self, set_name: str, scene: str, fid: str) -> dict[str, Any]:
        """``intrinsic_matrix`` / ``factor_depth`` of one frame from metadata.mat ({} if absent)."""
        meta = self._scene_metadata(set_name, scene)
        if not meta or fid not in meta:
            return {}
        entry = meta[fid]
        out: dict[str, Any] = {}
        for field, name in (("intrinsic_matrix", "K"), ("camera_intrinsics", "K"), ("factor_depth", "factor_depth")):
            if name in out:
                continue
            value = _mat_field(entry, field)
            if value is not None:
                out[name] = value
        return out

    def _intrinsics(self, set_name: str, scene: str, meta: dict[str, Any]) -> np.ndarray:
        if self.K is not None:
            return self.K.copy()
        for key in (f"{set_name}/{scene}", set_name, "*"):
            if key in self.config_intrinsics:
                return self.config_intrinsics[key].copy()
        if "K" in meta:
            return _as_K(meta["K"], f"{set_name}/{scene}/metadata.mat")
        raise FileNotFoundError(
            f"no intrinsics for {set_name}/{scene}: no metadata.mat entry, no 'intrinsics' in "
            f"the config file and no K argument"
        )

    def read_sample(self, index: int) -> Sample:
        """The untransformed numpy sample ``index``."""
        set_name, scene, fid = self.frames[index]
        folder = self.root / set_name / scene
        meta = self._frame_meta(set_name, scene, fid)
        rgb = read_rgb(folder / f"{fid}-color.png")
        raw_depth = read_single_channel(folder / f"{fid}-depth_true.png", (np.uint16,))
        label = read_single_channel(folder / f"{fid}-label.png", (np.uint8, np.uint16))
        if raw_depth.shape != rgb.shape[:2] or label.shape != rgb.shape[:2]:
            raise ValueError(
                f"{folder}/{fid}: color {rgb.shape}, depth {raw_depth.shape} and label {label.shape} disagree"
            )
        factor = float(np.asarray(meta.get("factor_depth", CLEARPOSE_FACTOR_DEPTH)).reshape(-1)[0])
        depth = raw_depth.astype(np.float32) / np.float32(factor)
        return {
            "rgb": rgb,
            "depth": depth,
            "labels": (label != 0).astype(np.int64),
            "K": self._intrinsics(set_name, scene, meta),
            "frame": f"{set_name}/{scene}/{fid}",
        }

    def __getitem__(self, index: int) -> Any:
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample


def _mat_field(entry: Any, field: str) -> np.ndarray | None:
    """A field of a scipy.io.loadmat struct (a (1, 1) structured array), or None."""
    array = np.asarray(entry)
    if array.dtype.names is None or field not in array.dtype.names:
        return None
    value = array[field]
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.reshape(-1)[0]
    value = np.asarray(value)
    while value.ndim > 2 and value.shape[0] == 1:
        value = value[0]
    return value


def _as_K(value: Any, where: str) -> np.ndarray:
    K = np.asarray(value, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"{where}: intrinsics must be 3x3, got shape {K.shape}")
    return K
