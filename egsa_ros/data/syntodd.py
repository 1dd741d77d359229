"""Syn-TODD reader (the synthetic transparent-object set of MVTrans, ICRA 2023).

Files
-----
Each view is ``{uid}.pickle.zstd``: a zstd-compressed pickle of an MVTrans ``Panoptic``
dataclass, written by MVTrans's ``dataloaders/template.py`` (``compress_datapoint``:
``pickle.dumps(x, HIGHEST_PROTOCOL)`` after ``x.compress()``). Its fields, as used here:

- ``stereo``: a ``Stereo`` with ``left_color`` / ``right_color`` (JPEG bytes when
  ``compressed`` is True, else (H, W, 3) uint8 RGB) and ``compressed``;
- ``depth``: (H, W) metres (float16 when compressed); MVTrans's writer replaced NaN/inf and
  values above 3 m by 3.0, so the far background reads exactly 3.0;
- ``segmentation``: (H, W) semantic ids, 0 background, 1 table, 2 transparent object (the
  writer already folds object ids >= 2 into 2); ``instance_segmentation``: instance ids;
- ``camera_params``: a dict from the render's ``BoundingBox.json`` with ``camera_intrinsic``
  (3x3), ``resolution_x``, ``resolution_y``, ``camera_extrinsic``, ...; may be missing in
  older files;
- ``object_poses`` (``OBB``), ``detections`` (``Detection``), ``uid``, ``scene_name``, ...
  (read but unused).

Splits
------
MVTrans and MODEST keep each split in its own directory (``train_path`` / ``val_path``);
multi-view groupings are JSON files ``{views}_{samples}.json`` in that directory holding
``{"data": [[path, path, ...], ...], "num_multiview": V, "num_samples": S}``; MODEST trains
on the first (anchor) view of each group. :class:`SynTODDDataset` accepts, in this order:

1. ``split_file`` (a path, relative to ``root`` unless absolute);
2. ``<root>/<split>.json``;
3. the directory ``<root>/<split>/``: every ``*.pickle.zstd`` in it, sorted by uid.

A split JSON is either a list of entries or MVTrans's ``{"data": [[...], ...]}`` grouping
(``views="first"``: the first entry of each group, as MODEST; ``views="all"``: every distinct
entry). An entry is a uid (int or str) or a file path; only its basename is used (MVTrans's
groupings hold absolute paths of the authors' machines) and the file is looked for next to
the JSON, then in ``<root>/<split>/``, then in ``<root>``.

Classes for egsa_ros (3): 0 background, 1 desk/table, 2 transparent. Mapping of the stored
semantic ids: 0 -> 0, 1 -> 1, every id >= 2 -> 2 (MVTrans's own rule), negative -> 255
(ignore).

Safety
------
Pickles can run code. :class:`RestrictedUnpickler` resolves only the MVTrans datapoint
classes (to inert stand-ins, :class:`MVTransRecord`; none of MVTrans's methods exist or run),
numpy's array/dtype/scalar reconstruction helpers and plain builtin containers. Anything
else raises ``pickle.UnpicklingError`` naming the refused global, before it is called.
"""

from __future__ import annotations

import _codecs
import collections
import io
import json
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data

from .image_io import decode_rgb
from .transforms import IGNORE_INDEX, Sample, scale_intrinsics

try:  # numpy >= 2
    from numpy._core import multiarray, numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray, numeric  # type: ignore[no-redef]

PathLike = str | Path

#: Metric depth range of Syn-TODD, metres.
SYNTODD_DEPTH_RANGE = (0.0, 3.0)
#: egsa_ros class names, index = class id.
SYNTODD_CLASSES = ("background", "table", "transparent")
#: Modules that held the MVTrans datapoint dataclasses when datasets were written
#: (``dataloaders/template.py`` in MVTrans; ``src/lib/datapoint.py`` there and SimNet's
#: ``simnet/lib/datapoint.py`` define the same classes).
MVTRANS_MODULES = ("dataloaders.template", "src.lib.datapoint", "simnet.lib.datapoint")
#: The dataclasses of those modules.
MVTRANS_CLASSES = ("Panoptic", "Stereo", "OBB", "Pose", "Keypoint", "Detection", "RobotMask")
#: MVTrans's default Blender camera (``src/lib/camera.py``) for 640x480 frames, used only
#: when a datapoint carries no ``camera_params['camera_intrinsic']``.
MVTRANS_DEFAULT_K = np.array([[613.9624633789062, 0.0, 320.0], [0.0, 613.9624633789062, 240.0], [0.0, 0.0, 1.0]])
MVTRANS_DEFAULT_SIZE = (480, 640)
SUFFIX = ".pickle.zstd"


class MVTransRecord:
    """Inert stand-in for one MVTrans dataclass: the pickled fields become attributes.

    ``type(record).__name__`` is the MVTrans class name (``Panoptic``, ``Stereo``, ...).
    """

    def fields(self) -> dict[str, Any]:
        """The unpickled fields as a dict."""
        return dict(vars(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(sorted(vars(self)))})"


#: MVTrans class name -> its stand-in subclass of :class:`MVTransRecord`.
STAND_INS: dict[str, type] = {
    name: type(name, (MVTransRecord,), {"__module__": __name__, "__doc__": f"Stand-in for MVTrans's {name} dataclass."})
    for name in MVTRANS_CLASSES
}


def _numpy_helpers() -> dict[tuple[str, str], Any]:
    helpers: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):  # files from numpy 1.x and 2.x
        helpers[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        helpers[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        helpers[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return helpers


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        (module, name): STAND_INS[name] for module in MVTRANS_MODULES for name in MVTRANS_CLASSES
    }
    allowed.update(_numpy_helpers())
    for container in (list, dict, tuple, set, frozenset, bytearray, complex):
        allowed[("builtins", container.__name__)] = container
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    # Protocols 2-3 store bytes (e.g. numpy scalar data) as _codecs.encode(str, "latin1").
    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


_ALLOWED = _allowed_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only MVTrans datapoint classes (as inert stand-ins),
    numpy's array reconstruction helpers and builtin containers.

    Any other global (``os.system``, ``subprocess.Popen``, ``builtins.eval``, an unknown
    class...) raises ``pickle.UnpicklingError`` naming it, before anything is called.
    Persistent ids are refused too (``pickle.Unpickler``'s default).
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: a Syn-TODD file may only "
                f"reference MVTrans datapoint classes, numpy array helpers and builtin "
                f"containers"
            ) from None


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def decompress_zstd(data: bytes) -> bytes:
    """Decompress one zstd stream (frames without a stored content size work too)."""
    try:
        import zstandard  # noqa: PLC0415 - optional: only Syn-TODD files need it
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImportError("reading Syn-TODD needs the 'zstandard' package (pip install zstandard==0.25.0)") from exc
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def read_datapoint(path: PathLike) -> MVTransRecord:
    """Read one ``{uid}.pickle.zstd`` into :class:`MVTransRecord` stand-ins (still compressed
    as stored: JPEG bytes, float16 depth)."""
    data = decompress_zstd(Path(path).read_bytes())
    record = restricted_loads(data)
    if not isinstance(record, MVTransRecord):
        raise ValueError(f"{path}: expected an MVTrans datapoint, got {type(record).__name__}")
    return record


def map_syntodd_labels(segmentation: np.ndarray) -> np.ndarray:
    """Stored semantic ids -> egsa_ros classes: 0 -> 0, 1 -> 1, >= 2 -> 2, < 0 -> 255 (ignore)."""
    seg = np.asarray(segmentation)
    if seg.dtype.kind == "f":
        seg = np.rint(np.nan_to_num(seg, nan=-1.0))
    seg = seg.astype(np.int64)
    labels = np.minimum(seg, 2)
    labels[seg < 0] = IGNORE_INDEX
    return labels


def _color(stereo: Any) -> np.ndarray:
    left = getattr(stereo, "left_color", None)
    if isinstance(left, (bytes, bytearray, memoryview)):
        return decode_rgb(bytes(left))
    if isinstance(left, np.ndarray) and left.ndim == 3 and left.shape[2] in (3, 4):
        return np.ascontiguousarray(left[..., :3]).astype(np.uint8, copy=False)
    raise ValueError(f"unsupported Stereo.left_color: {type(left).__name__}")


def _intrinsics(camera_params: Any, size: tuple[int, int]) -> np.ndarray:
    """K for an image of ``size`` (H, W) from MVTrans camera_params (scaled when the stored
    resolution differs), else MVTrans's default Blender camera scaled to ``size``."""
    params = camera_params if isinstance(camera_params, dict) else {}
    raw = params.get("camera_intrinsic")
    if raw is None:
        return scale_intrinsics(MVTRANS_DEFAULT_K, MVTRANS_DEFAULT_SIZE, size)
    K = np.asarray(raw, dtype=np.float64)
    if K.shape == (4, 4) or K.shape == (3, 4):
        K = K[:3, :3]
    if K.shape != (3, 3):
        raise ValueError(f"camera_intrinsic must be 3x3, got shape {K.shape}")
    res_y, res_x = params.get("resolution_y"), params.get("resolution_x")
    if res_x and res_y and (int(res_y), int(res_x)) != tuple(size):
        K = scale_intrinsics(K, (int(res_y), int(res_x)), size)
    return K


def datapoint_to_sample(record: MVTransRecord) -> Sample:
    """MVTrans ``Panoptic`` stand-in -> sample dict (``rgb``, ``depth``, ``labels``, ``K``,
    ``uid``; left colour image only)."""
    if type(record).__name__ != "Panoptic":
        raise ValueError(f"expected a Panoptic datapoint, got {type(record).__name__}")
    rgb = _color(record.stereo)  # type: ignore[attr-defined]
    depth = np.asarray(record.depth, dtype=np.float32)  # type: ignore[attr-defined]
    depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
    labels = map_syntodd_labels(record.segmentation)  # type: ignore[attr-defined]
    size = rgb.shape[:2]
    if depth.shape != size or labels.shape != size:
        raise ValueError(
            f"datapoint {getattr(record, 'uid', '?')}: rgb {rgb.shape}, depth "
            f"{depth.shape} and segmentation {labels.shape} disagree"
        )
    return {
        "rgb": rgb,
        "depth": depth,
        "labels": labels,
        "K": _intrinsics(getattr(record, "camera_params", None), size),
        "uid": str(getattr(record, "uid", "")),
    }


def _entry_uid(entry: Any) -> str:
    name = Path(str(entry)).name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


class SynTODDDataset(torch.utils.data.Dataset):
    """Syn-TODD views as sample dicts (see the module docstring for the layout).

    Args:
        root: dataset directory.
        split: split name (``train``, ``val``, ``test``...).
        transform: applied to each sample dict (e.g. a :class:`~egsa_ros.data.transforms.
            TrainTransform`); None returns the numpy sample: ``rgb`` (H, W, 3) uint8,
            ``depth`` (H, W) float32 m (0 = none), ``labels`` (H, W) int64, ``K`` (3, 3),
            ``uid`` str.
        split_file: explicit split JSON (see the module docstring).
        views: ``first`` or ``all`` entries of MVTrans multi-view groups.
    """

    def __init__(
        self,
        root: PathLike,
        split: str,
        transform: Callable[[Sample], Any] | None = None,
        *,
        split_file: PathLike | None = None,
        views: str = "first",
    ) -> None:
        if views not in ("first", "all"):
            raise ValueError(f"views must be 'first' or 'all', got {views!r}")
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.files = self._resolve(split_file, views)
        if not self.files:
            raise FileNotFoundError(f"Syn-TODD split {split!r} under {self.root} is empty")

    def _resolve(self, split_file: PathLike | None, views: str) -> list[Path]:
        json_path: Path | None = None
        if split_file is not None:
            json_path = Path(split_file)
            if not json_path.is_absolute():
                json_path = self.root / json_path
        elif (self.root / f"{self.split}.json").is_file():
            json_path = self.root / f"{self.split}.json"
        split_dir = self.root / self.split
        if json_path is None:
            if not split_dir.is_dir():
                raise FileNotFoundError(
                    f"no Syn-TODD split {self.split!r}: neither {self.root / (self.split + '.json')} "
                    f"nor the directory {split_dir} exists"
                )
            found = sorted(split_dir.glob("*" + SUFFIX), key=lambda p: _uid_sort_key(_entry_uid(p)))
            return found
        with open(json_path) as fh:
            content = json.load(fh)
        uids = _split_entries(content, views, json_path)
        search = [json_path.parent, split_dir, self.root]
        files = []
        for uid in uids:
            for folder in search:
                candidate = folder / f"{uid}{SUFFIX}"
                if candidate.is_file():
                    files.append(candidate)
                    break
            else:
                raise FileNotFoundError(f"{json_path}: no {uid}{SUFFIX} in {[str(d) for d in search]}")
        return files

    def __len__(self) -> int:
        return len(self.files)

    def read_sample(self, index: int) -> Sample:
        """The untransformed numpy sample ``index``."""
        path = self.files[index]
        sample = datapoint_to_sample(read_datapoint(path))
        if not sample["uid"]:
            sample["uid"] = _entry_uid(path)
        return sample

    def __getitem__(self, index: int) -> Any:
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample


def _split_entries(content: Any, views: str, where: Path) -> list[str]:
    if isinstance(content, dict):
        if "data" not in content:
            raise ValueError(f"{where}: a split dict needs a 'data' list (MVTrans grouping)")
        groups: Sequence[Any] = content["data"]
        entries: list[Any] = []
        for group in groups:
            members = group if isinstance(group, list) else [group]
            entries.extend(members[:1] if views == "first" else members)
    elif isinstance(content, list):
        entries = list(content)
    else:
        raise ValueError(f"{where}: expected a list of uids or an MVTrans grouping dict")
    seen, uids = set(), []
    for entry in entries:
        uid = _entry_uid(entry)
        if uid not in seen:
            seen.add(uid)
            uids.append(uid)
    return uids


def _uid_sort_key(uid: str) -> tuple[int, float | str]:
    try:
        return (0, float(uid))
    except ValueError:
        return (1, uid)
