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
    photo_set: int = 1  # 1: the first three packages; 2 adds mvtb-data's photographs


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
) + tuple(
    Photo(
        name,
        "mvtbdata",
        f"images/{path}",
        "mvtb-data (MIT; the image set of Peter Corke's Machine Vision Toolbox for Python)",
        split,
        True,
        photo_set=2,
    )
    for name, path, split in (
        # Photographs only (no drawings, targets, renders or paintings); none shows glassware
        # (building windows are allowed: a window pane is not a glass object on a table). Split
        # fixed by name before any model saw them, whole scenes together (eiffel-1/-2, rocks2-l/-r,
        # church's two files) so no held-out photo has a twin in training; the package's own
        # campus/holdout folder is held out. Left out: café scenes with tables (P1070498/9) and photos
        # under 256 pixels high (tomato_14/35/124).
        ("mvtb_grain_basket", "58060.png", "train"),
        ("mvtb_building2_1", "building2-1.png", "train"),
        ("mvtb_building2_2", "building2-2.png", "train"),
        ("mvtb_building2_3", "building2-3.png", "train"),
        ("mvtb_butterfly", "butterfly.jpg", "train"),
        ("mvtb_castle", "castle.png", "train"),
        ("mvtb_castle2", "castle2.png", "train"),
        *((f"mvtb_campus_{n}", f"campus/P10704{n}.png", "train") for n in ("91", "93", "94", "95", "96", "97")),
        *(
            (f"mvtb_campus_{n}", f"campus/P1070{n}.png", "train")
            for n in ("500", "501", "503", "504", "505", "506", "507", "509", "510", "512", "514", "515")
        ),
        *((f"mvtb_flowers{i}", f"flowers{i}.png", "train") for i in range(1, 7)),
        ("mvtb_street_scene", "image3.jpg", "train"),
        ("mvtb_park", "parks.png", "train"),
        ("mvtb_penguin_sign", "penguins.png", "train"),
        ("mvtb_roof", "roof.png", "train"),
        ("mvtb_walls_l", "walls-l.png", "train"),
        ("mvtb_walls_r", "walls-r.png", "train"),
        ("mvtb_greenscreen", "greenscreen.png", "train"),
        ("mvtb_floor_tags", "tags.png", "train"),
        ("mvtb_church", "church.png", "heldout"),
        ("mvtb_notre_dame", "notre-dame.png", "heldout"),
        ("mvtb_eiffel_1", "eiffel-1.png", "heldout"),
        ("mvtb_eiffel_2", "eiffel-2.png", "heldout"),
        ("mvtb_rocks_l", "rocks2-l.png", "heldout"),
        ("mvtb_rocks_r", "rocks2-r.png", "heldout"),
        ("mvtb_street", "street.png", "heldout"),
        ("mvtb_road", "road.png", "heldout"),
        ("mvtb_tomato_54", "tomato_54.png", "heldout"),
        *((f"mvtb_flowers{i}", f"flowers{i}.png", "heldout") for i in range(7, 10)),
        *((f"mvtb_campus_{n}", f"campus/holdout/P1070{n}.png", "heldout") for n in ("492", "502", "508", "511", "513")),
    )
)
"""Every photo this module knows, with its fixed split."""

PHOTO_SETS = (1, 2)
LATEST_PHOTO_SET = 2

SPLITS = ("train", "heldout")


def photo_path(photo: Photo) -> Path | None:
    """The file of ``photo`` inside its installed package, or None if the package is missing."""
    spec = importlib.util.find_spec(photo.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / photo.path
    return path if path.is_file() else None


def photos_in(split: str, *, negatives_only: bool = False, photo_set: int = LATEST_PHOTO_SET) -> tuple:
    """The :data:`PHOTOS` of ``split`` (``train`` or ``heldout``) in photo set ``photo_set`` or an
    earlier one (1: the first three packages, as earlier runs and the v2 generator's draws saw
    them; 2: with mvtb-data), installed or not."""
    if split not in SPLITS:
        raise ValueError(f"unknown photo split {split!r}; expected one of {SPLITS}")
    if photo_set not in PHOTO_SETS:
        raise ValueError(f"unknown photo set {photo_set!r}; expected one of {PHOTO_SETS}")
    return tuple(
        p for p in PHOTOS if p.split == split and p.photo_set <= photo_set and (p.no_glass or not negatives_only)
    )


def available_photos(split: str, *, negatives_only: bool = False, photo_set: int = LATEST_PHOTO_SET) -> tuple:
    """The photos of ``split`` (and ``photo_set``, see :func:`photos_in`) whose package is installed here."""
    found = photos_in(split, negatives_only=negatives_only, photo_set=photo_set)
    return tuple(p for p in found if photo_path(p) is not None)


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


def negative_crops(split: str, size: tuple, count: int, seed: int, photo_set: int = LATEST_PHOTO_SET) -> list:
    """``count`` glass-free crops (H, W, 3) uint8 of ``split``'s negative photos (of ``photo_set``),
    ``size`` (W, H) pixels.

    Deterministic for a seed and the installed photos; crop ``i`` comes from photo ``i % n``.
    Raises FileNotFoundError when none of the split's negative photos is installed.
    """
    photos = available_photos(split, negatives_only=True, photo_set=photo_set)
    if not photos:
        packages = sorted({p.package for p in photos_in(split, photo_set=photo_set)})
        raise FileNotFoundError(f"no {split} negative photo is installed (packages: {packages})")
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
    (H, W) float32 all 0 (no depth: the depth loss ignores these pixels), ``instance`` and
    ``opaque`` all 0, ``K`` for a 60 degree horizontal field of view, ``frame`` ``"photo_<i>"``.

    Args:
        split: ``train`` (for training) or ``heldout`` (the real-photo test).
        size: (width, height) pixels. count: number of crops. seed: crop seed.
        photo_set: which packaged photos (see :func:`photos_in`).
        transform: applied to each sample dict (e.g. the training transform), or None.
    """

    def __init__(
        self, split: str, size: tuple, count: int, seed: int = 0, transform=None, photo_set: int = LATEST_PHOTO_SET
    ) -> None:
        self.images = negative_crops(split, size, count, seed, photo_set=photo_set)
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
            "opaque": np.zeros((h, w), np.int64),
        }

    def __getitem__(self, index: int):
        sample = self.read_sample(index)
        return self.transform(sample) if self.transform is not None else sample
