"""Phantom glass on real photographs that contain none: the fraction of pixels marked transparent.

    python -m egsa_ros.eval.photo_negatives [--model M] [--independent] [--json out.json]

Scores the held-out packaged photos (:mod:`egsa_ros.data.photos`, split ``heldout``: never used
for training, calibration or selection): each whole photo (centre-cropped to 4:3) and a fixed set
of crops, at 480x640. ``--independent`` adds scikit-image's bundled natural photos as an
independent check (reported only: they must never be used to train, calibrate or select).
A robot wants ~0: every marked pixel is glass that is not there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from ..cli_helpers import output_file, parse_size
from ..data.photos import LATEST_PHOTO_SET, PHOTO_SETS, available_photos, load_photo, negative_crops
from ..runtime.pipeline import load_pipeline

HELDOUT_CROPS_PER_PHOTO = 2
CROP_SEED = 0
#: scikit-image's natural photographs (independent check only).
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "cat",
    "immunohistochemistry",
    "camera",
    "coins",
    "brick",
    "grass",
    "gravel",
    "moon",
    "page",
    "text",
    "clock",
    "hubble_deep_field",
    "retina",
    "motorcycle_left",
)


def centre_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The largest centred crop of ``image`` with the aspect of ``size`` (H, W), resized to it (uint8 RGB)."""
    h, w = image.shape[:2]
    target_h, target_w = size
    scale = min(h / target_h, w / target_w)
    ch, cw = int(round(target_h * scale)), int(round(target_w * scale))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (target_w, target_h), interpolation=cv2.INTER_AREA)


def heldout_images(size: tuple[int, int], photo_set: int = LATEST_PHOTO_SET) -> list[tuple[str, np.ndarray]]:
    """(name, (H, W, 3) uint8) of the held-out photos of ``photo_set``: each whole, then fixed crops
    (:data:`HELDOUT_CROPS_PER_PHOTO` per photo; photo set 1, one photo, keeps its 8)."""
    photos = available_photos("heldout", negatives_only=True, photo_set=photo_set)
    images = [(photo.name, centre_crop(load_photo(photo), size)) for photo in photos]
    count = 8 if photo_set == 1 else HELDOUT_CROPS_PER_PHOTO * len(photos)
    crops = negative_crops("heldout", (size[1], size[0]), count, CROP_SEED, photo_set=photo_set)
    return images + [(f"heldout_crop_{i}", crop) for i, crop in enumerate(crops)]


def skimage_images(size: tuple[int, int]) -> list[tuple[str, np.ndarray]]:
    """(name, image) of scikit-image's natural photos present in this install (grey ones as RGB)."""
    import skimage.data  # noqa: PLC0415 - optional, only for the independent check

    out = []
    for name in SKIMAGE_PHOTOS:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            continue
        try:
            image = np.asarray(loader())
        except Exception:  # noqa: BLE001 - some images need an optional download: skip them
            continue
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = image[..., :3]
        if image.dtype != np.uint8:
            image = np.clip(image.astype(np.float64) / max(float(image.max()), 1e-9) * 255, 0, 255).astype(np.uint8)
        out.append((name, centre_crop(np.ascontiguousarray(image), size)))
    return out


def marked_fractions(images: Sequence[tuple[str, np.ndarray]], mask_of: Callable[[np.ndarray], np.ndarray]) -> dict:
    """``{"per_image": {name: fraction}, "median", "max", "count"}`` of pixels with mask > 0."""
    per_image = {name: float((mask_of(image) > 0).mean()) for name, image in images}
    values = np.array(list(per_image.values()), dtype=np.float64)
    return {
        "per_image": per_image,
        "count": len(per_image),
        "median": float(np.median(values)) if values.size else float("nan"),
        "max": float(values.max()) if values.size else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m egsa_ros.eval.photo_negatives", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", help="checkpoint directory, .onnx or preset (default: the bundled model)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--size", type=parse_size, default=(480, 640), help="frame size HxW (default 480x640)")
    parser.add_argument("--mask-net-size", type=parse_size, help="mask from a second pass at this HxW")
    parser.add_argument(
        "--independent",
        action="store_true",
        help="also report scikit-image's photos (an independent check: never select on it)",
    )
    parser.add_argument(
        "--photo-set",
        type=int,
        choices=PHOTO_SETS,
        default=LATEST_PHOTO_SET,
        help="held-out photos of this set (1: scikit-learn's flower only, as reported before 2026-12-03 "
        f"evening; default {LATEST_PHOTO_SET}: with mvtb-data's 18)",
    )
    parser.add_argument("--json", type=output_file, help="write the result here")
    args = parser.parse_args(argv)
    try:
        pipe = load_pipeline(args.model, backend=args.backend, frame_size=args.size, mask_input_size=args.mask_net_size)
        result = {
            "model": pipe.model_name,
            "size": list(args.size),
            "photo_set": args.photo_set,
            "heldout": marked_fractions(heldout_images(args.size, args.photo_set), lambda rgb: pipe(rgb).mask),
        }
        if args.independent:
            result["independent_skimage"] = marked_fractions(skimage_images(args.size), lambda rgb: pipe(rgb).mask)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        print(f"photo_negatives: error: {exc}", file=sys.stderr)
        return 2
    for key in ("heldout", "independent_skimage"):
        if key in result:
            part = result[key]
            print(
                f"{key}: {part['count']} images, fraction marked transparent median {part['median']:.3f}, "
                f"max {part['max']:.3f}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
