"""Real photographs that ship inside installed Python packages, with a fixed train/held-out split.

No network: each photo is a file inside an installed package, found with
``importlib.util.find_spec`` (the package is not imported). A photo whose package is missing
is skipped by :func:`available_photos`; the split itself is fixed by name in
:data:`PHOTOS`, so it never depends on what is installed.

Uses:
- ``train`` photos: table/wall/window textures in ``egsa-synth --generator v2`` and, where
  ``no_glass`` is True, "no glass" negatives for training;
- ``heldout`` photos: a real-photo test set of glass-free images (the fraction of pixels a model
  marks transparent there should be ~0); never used for training, calibration or selection.

scikit-image's bundled images are deliberately absent: they are reserved for the tests and
independent checks.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Photo:
    """One packaged photograph: ``package`` and ``path`` inside it, its licence, split, whether it
    shows no glass at all (usable as a negative) and whether it is scenery (usable as a table
    texture or a window view; portraits are used as posters only)."""

    name: str
    package: str
    path: str
    licence: str
    split: str  # "train" or "heldout"
    no_glass: bool
    scenery: bool = False


PHOTOS = (
    Photo(
        "china",
        "sklearn",
        "datasets/images/china.jpg",
        "CC BY 2.0 (Flickr, danielbuechele; sklearn/datasets/images/README.txt)",
        "train",
        True,
        True,
    ),
    Photo(
        "grace_hopper",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "public domain (US Navy photograph), shipped in matplotlib",
        "train",
        True,
    ),
    Photo(
        "luispedro", "mahotas", "demos/data/luispedro.jpg", "shipped in mahotas (MIT) by its author", "train", False
    ),  # glass building behind: texture only
    Photo(
        "flower",
        "sklearn",
        "datasets/images/flower.jpg",
        "CC BY 2.0 (Flickr, vultilion; sklearn/datasets/images/README.txt)",
        "heldout",
        True,
        True,
    ),
)
"""Every photo this module knows, with its fixed split."""

SPLITS = ("train", "heldout")


def photo_path(photo: Photo) -> Path | None:
    """The file of ``photo`` inside its installed package, or None if the package is missing."""
    spec = importlib.util.find_spec(photo.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / photo.path
    return path if path.is_file() else None


def photos_in(split: str, *, negatives_only: bool = False) -> tuple:
    """The :data:`PHOTOS` of ``split`` (``train`` or ``heldout``), installed or not."""
    if split not in SPLITS:
        raise ValueError(f"unknown photo split {split!r}; expected one of {SPLITS}")
    return tuple(p for p in PHOTOS if p.split == split and (p.no_glass or not negatives_only))


def available_photos(split: str, *, negatives_only: bool = False) -> tuple:
    """The photos of ``split`` whose package is installed here."""
    return tuple(p for p in photos_in(split, negatives_only=negatives_only) if photo_path(p) is not None)


def load_photo(photo: Photo | str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of ``photo`` (a :class:`Photo` or its name).

    Raises:
        FileNotFoundError: its package is not installed (names the package to install).
    """
    if isinstance(photo, str):
        known = {p.name: p for p in PHOTOS}
        if photo not in known:
            raise KeyError(f"unknown photo {photo!r}; known: {sorted(known)}")
        photo = known[photo]
    path = photo_path(photo)
    if path is None:
        raise FileNotFoundError(f"photo {photo.name!r} needs the {photo.package!r} package installed")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"could not decode {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def random_crop(image: np.ndarray, size: tuple, rng: np.random.Generator, min_scale: float = 0.35) -> np.ndarray:
    """A random crop of ``image`` covering ``min_scale``-1 of its shorter side, resized to ``size``
    (width, height) pixels, flipped left-right half the time; (height, width, 3) uint8."""
    h, w = image.shape[:2]
    out_w, out_h = size
    aspect = out_w / out_h
    side = rng.uniform(min_scale, 1.0) * min(h, w * (1.0 / aspect))
    ch, cw = int(round(side)), int(round(side * aspect))
    ch, cw = max(8, min(ch, h)), max(8, min(cw, w))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (out_w, out_h), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1].copy() if rng.random() < 0.5 else crop


def negative_crops(split: str, size: tuple, count: int, seed: int) -> list:
    """``count`` glass-free crops (H, W, 3) uint8 of ``split``'s negative photos, ``size`` (W, H) pixels.

    Deterministic for a seed; crop ``i`` comes from photo ``i % n``. Raises FileNotFoundError
    when none of the split's negative photos is installed.
    """
    photos = available_photos(split, negatives_only=True)
    if not photos:
        raise FileNotFoundError(
            f"no {split} negative photo is installed (packages: {sorted({p.package for p in photos_in(split)})})"
        )
    images = [load_photo(p) for p in photos]
    rng = np.random.default_rng([int(seed), 7])
    return [random_crop(images[i % len(images)], size, rng) for i in range(count)]


def linear_texture(photo: Photo | str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A square crop of ``photo`` as a (size, size, 3) float32 linear-RGB texture (sRGB decoded)."""
    crop = random_crop(load_photo(photo), (size, size), rng, min_scale=0.3).astype(np.float32) / 255.0
    return np.where(crop <= 0.04045, crop / 12.92, ((crop + 0.055) / 1.055) ** 2.4).astype(np.float32)


class PhotoNegatives:
    """Glass-free training samples cut from the packaged photos of one split (map-style dataset).

    Sample ``i`` is crop ``i`` of :func:`negative_crops` as a dict like
    :func:`egsa_ros.data.synthetic.read_frame` returns: ``rgb`` (H, W, 3) uint8, ``labels``
    (H, W) int64 all 0 (background: nothing is transparent), ``depth`` and ``depth_sensor``
    (H, W) float32 all 0 (no depth: the depth loss ignores these pixels), ``instance`` all 0,
    ``K`` for a 60 degree horizontal field of view, ``frame`` ``"photo_<i>"``.

    Args:
        split: ``train`` (for training) or ``heldout`` (the real-photo test).
        size: (width, height) pixels. count: number of crops. seed: crop seed.
        transform: applied to each sample dict (e.g. the training transform), or None.
    """

    def __init__(self, split: str, size: tuple, count: int, seed: int = 0, transform=None) -> None:
        self.images = negative_crops(split, size, count, seed)
        self.transform = transform
        width, height = size
        fx = 0.5 * width / np.tan(np.radians(30.0))
        self.K = np.array([[fx, 0.0, (width - 1) / 2], [0.0, fx, (height - 1) / 2], [0.0, 0.0, 1.0]])

    def __len__(self) -> int:
        return len(self.images)

    def read_sample(self, index: int) -> dict:
        rgb = self.images[index]
        h, w = rgb.shape[:2]
        zeros = np.zeros((h, w), np.float32)
        return {
            "rgb": rgb,
            "K": self.K.copy(),
            "frame": f"photo_{index:04d}",
            "depth": zeros,
            "depth_sensor": zeros.copy(),
            "labels": np.zeros((h, w), np.int64),
            "instance": np.zeros((h, w), np.int64),
        }

    def __getitem__(self, index: int):
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample
