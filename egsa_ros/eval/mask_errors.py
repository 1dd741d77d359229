"""Where the transparent-object mask is wrong, on a rendered split: outlines, false-positive
sources and per-object recall by shape, size and material.

    python -m egsa_ros.eval.mask_errors DATA/test [--model runs/x/last] [--json out.json]

``egsa-eval`` says how good the mask is; this says where it fails, so the next training change
can aim at it. For every ground-truth glass object of every frame (``meta.json``'s ``objects``,
written by ``egsa-synth``) it takes the fraction of its visible pixels that the model marks
transparent, then pools those recalls by shape, visible size, surface (clear or frosted),
tint and IOR. Pooled over the split it also reports:

- glass IoU, and glass IoU outside a ``band_px`` band around the ground-truth outlines: the
  difference is what blurred or shifted outlines cost;
- the "resolution ceiling": the IoU of the ground truth itself, average-pooled to 1/4 and 1/2
  of the frame and upsampled back bilinearly, as a decoder that predicts at that stride
  would at best (the default model's finest decoder scale is 1/4; ``seg_refine`` works at 1/2);
- false-positive pixels split by what they really are (background, table, an opaque
  distractor) and how many of them lie within 2 pixels of a glass outline, and by their
  (Euclidean) distance to the nearest glass pixel: the glass mask spreading onto the table around
  an object (its shadows and caustics) shows in the near bins, stray blobs in the far ones.

Predictions come from the deployed graph (:func:`egsa_ros.runtime.load_pipeline`), like
``egsa-eval``'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ..cli_helpers import output_file
from ..data.image_io import read_single_channel
from ..data.synthetic_frames import SYNTHETIC_CLASSES, frame_dirs, read_frame
from ..runtime import load_pipeline
from .split_frames import TRANSPARENT_CLASS

#: Rendered semantic ids (``semantic.png``) the false positives are split by, see
#: :mod:`egsa_ros.data.synthetic` (2 is glass).
RENDERED_BACKGROUND, RENDERED_TABLE, RENDERED_OPAQUE = 0, 1, 3
#: Visible-pixel bins of the per-object recall (upper bounds, exclusive).
SIZE_BINS = ((100, "< 100 px"), (400, "100-399 px"), (1500, "400-1499 px"), (None, ">= 1500 px"))
#: Strides of the resolution ceiling.
CEILING_STRIDES = (4, 2)
#: An object counts as missed when less than this fraction of its pixels is marked.
MISSED_BELOW = 0.5
#: Upper bounds (pixels, inclusive) of the false positives' distance-to-glass bins; the last bin
#: (and frames without glass) is everything beyond.
DISTANCE_BINS_PX = (2, 4, 8, 16, 32)


def distance_bin_names() -> list[str]:
    """``["<= 2 px", "2-4 px", ..., "> 32 px"]`` for :data:`DISTANCE_BINS_PX`."""
    names, low = [], None
    for high in DISTANCE_BINS_PX:
        names.append(f"<= {high} px" if low is None else f"{low}-{high} px")
        low = high
    return names + [f"> {low} px"]


def outline_band(mask: np.ndarray, px: int) -> np.ndarray:
    """(H, W) bool: the ``px`` outermost pixel rings of ``mask`` and the ``px`` rings just
    outside it (chessboard distance), i.e. the pixels a ``px``-pixel shift of the outline can
    flip."""
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    m = mask.astype(np.uint8)
    return cv2.dilate(m, kernel) != cv2.erode(m, kernel)


def stride_ceiling_mask(labels: np.ndarray, stride: int, transparent_class: int, num_classes: int) -> np.ndarray:
    """The transparent mask a perfect prediction at 1/``stride`` resolution gives after
    bilinear upsampling: one-hot ``labels`` (H, W) average-pooled by ``stride`` (windows cut by
    the border average what they hold), upsampled back (half-pixel centres), argmax ==
    ``transparent_class``. Ignored labels (>= num_classes) count as no class."""
    h, w = labels.shape
    hp, wp = -(-h // stride), -(-w // stride)  # pooled size, ceil
    counts = np.zeros((hp * stride, wp * stride), np.float32)
    counts[:h, :w] = 1.0
    counts = counts.reshape(hp, stride, wp, stride).sum(axis=(1, 3))
    scores = []
    for k in range(num_classes):
        onehot = np.zeros((hp * stride, wp * stride), np.float32)
        onehot[:h, :w] = labels == k
        low = onehot.reshape(hp, stride, wp, stride).sum(axis=(1, 3)) / counts
        scores.append(cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR))
    return np.argmax(np.stack(scores), axis=0) == transparent_class


def object_groups(obj: Mapping[str, Any], visible_px: int) -> dict[str, str]:
    """The groups a glass object's recall is pooled into (from its ``meta.json`` entry)."""
    size = next(name for bound, name in SIZE_BINS if bound is None or visible_px < bound)
    tint = obj.get("tint")
    ior = obj.get("ior")
    ior_bin = None if ior is None else np.floor(float(ior) * 10) / 10  # 0.1-wide bins
    return {
        "shape": str(obj.get("shape", "?")),
        "visible size": size,
        "surface": "frosted" if float(obj.get("roughness") or 0.0) > 0 else "clear",
        "tint": "tinted" if tint is not None and min(tint) < 0.9 else "clear",
        "IOR": "?" if ior_bin is None else f"{ior_bin:.1f}-{ior_bin + 0.1:.1f}",
    }


class MaskErrorTally:
    """Accumulates one split's mask errors frame by frame; :meth:`report` pools them."""

    def __init__(
        self, *, band_px: int = 1, transparent_class: int = TRANSPARENT_CLASS, num_classes: int = len(SYNTHETIC_CLASSES)
    ) -> None:
        self.band_px = band_px
        self.transparent_class = transparent_class
        self.num_classes = num_classes
        self.frames = 0
        self.counts = defaultdict(int)
        self.objects: list[dict[str, Any]] = []

    def add(
        self,
        pred: np.ndarray,
        labels: np.ndarray,
        semantic: np.ndarray,
        instance: np.ndarray,
        objects: Iterable[Mapping[str, Any]],
    ) -> None:
        """One frame: ``pred`` (H, W) bool predicted transparent; ``labels`` (H, W) classes
        (``egsa_ros`` ids, ignore >= num_classes); ``semantic`` (H, W) rendered ids (0..3);
        ``instance`` (H, W) instance ids; ``objects`` the frame's ``meta.json`` objects."""
        shapes = {a.shape for a in (pred, labels, semantic, instance)}
        if len(shapes) != 1:
            raise ValueError(f"prediction and ground truth differ in size: {sorted(shapes)}")
        pred = pred.astype(bool)
        gt = labels == self.transparent_class
        scored = labels < self.num_classes
        pred_s = pred & scored
        c = self.counts
        c["intersection"] += int((pred_s & gt).sum())
        c["union"] += int((pred_s | gt).sum())
        outside = ~outline_band(gt, self.band_px)
        c["intersection_outside_band"] += int((pred_s & gt & outside).sum())
        c["union_outside_band"] += int(((pred_s | gt) & outside).sum())
        for stride in CEILING_STRIDES:
            ceil = stride_ceiling_mask(labels, stride, self.transparent_class, self.num_classes) & scored
            c[f"ceiling_intersection_{stride}"] += int((ceil & gt).sum())
            c[f"ceiling_union_{stride}"] += int((ceil | gt).sum())
        false_pos = pred_s & ~gt
        for name, value in (
            ("background", RENDERED_BACKGROUND),
            ("table", RENDERED_TABLE),
            ("opaque", RENDERED_OPAQUE),
        ):
            c[f"fp_{name}"] += int((false_pos & (semantic == value)).sum())
        near = cv2.dilate(gt.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        c["fp_within_2px_of_glass"] += int((false_pos & near).sum())
        if gt.any():
            distance = cv2.distanceTransform((~gt).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[false_pos]
            bins = np.searchsorted(np.asarray(DISTANCE_BINS_PX, np.float32), distance, side="left")
        else:
            bins = np.full(int(false_pos.sum()), len(DISTANCE_BINS_PX))
        for index, count in enumerate(np.bincount(bins, minlength=len(DISTANCE_BINS_PX) + 1)):
            c[f"fp_distance_{index}"] += int(count)
        c["false_negative"] += int((gt & ~pred).sum())
        for obj in objects:
            if obj.get("category") != "transparent":
                continue
            pixels = (instance == int(obj["instance_id"])) & gt
            n = int(pixels.sum())
            if n:
                self.objects.append(
                    {"visible_px": n, "marked_px": int((pixels & pred).sum()), "groups": object_groups(obj, n)}
                )
        self.frames += 1

    def report(self) -> dict[str, Any]:
        """Pooled numbers (see the module docstring); ratios are NaN where nothing was counted."""
        c = self.counts

        def ratio(a: float, b: float) -> float:
            return float(a) / float(b) if b else float("nan")

        groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        pooled: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for o in self.objects:
            for group, key in o["groups"].items():
                pooled[(group, key)].append(o)
        for (group, key), objs in sorted(pooled.items(), key=lambda item: _row_order(*item[0])):
            groups[group][key] = {
                "objects": len(objs),
                "pixel_recall": ratio(sum(o["marked_px"] for o in objs), sum(o["visible_px"] for o in objs)),
                "missed": sum(o["marked_px"] < MISSED_BELOW * o["visible_px"] for o in objs),
            }
        return {
            "frames": self.frames,
            "glass_iou": ratio(c["intersection"], c["union"]),
            "band_px": self.band_px,
            "glass_iou_outside_band": ratio(c["intersection_outside_band"], c["union_outside_band"]),
            "resolution_ceiling_iou": {
                str(s): ratio(c[f"ceiling_intersection_{s}"], c[f"ceiling_union_{s}"]) for s in CEILING_STRIDES
            },
            "false_positive_px": {
                k[3:]: c[k] for k in ("fp_background", "fp_table", "fp_opaque", "fp_within_2px_of_glass")
            },
            "false_positive_by_distance_px": {
                name: c[f"fp_distance_{i}"] for i, name in enumerate(distance_bin_names())
            },
            "false_negative_px": c["false_negative"],
            "glass_objects": len(self.objects),
            "missed_below": MISSED_BELOW,
            "objects": dict(groups),
        }


def _row_order(group: str, key: str) -> tuple:
    """Sort rows by group, sizes from small to large, everything else by name."""
    sizes = [name for _, name in SIZE_BINS]
    return (group, sizes.index(key) if group == "visible size" and key in sizes else 0, key)


def analyse_split(
    folder: Path,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    limit: int | None = None,
    band_px: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """Run ``predict`` (RGB (H, W, 3) uint8 -> (H, W) transparent mask) over a rendered split."""
    dirs = frame_dirs(folder)
    if not dirs:
        raise FileNotFoundError(f"{folder} holds no rendered frame directories (each with a meta.json)")
    dirs = dirs[:limit] if limit else dirs
    tally = MaskErrorTally(band_px=band_px)
    for frame_dir in tqdm(dirs, desc="frames", disable=not progress, leave=False):
        sample = read_frame(frame_dir)
        meta = json.loads((frame_dir / "meta.json").read_text())
        semantic = read_single_channel(frame_dir / "semantic.png", (np.uint8,))
        tally.add(
            np.asarray(predict(sample["rgb"])).astype(bool),
            sample["labels"],
            semantic,
            sample["instance"],
            meta.get("objects", []),
        )
    return tally.report()


def markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown (what the CLI prints)."""
    fp = report["false_positive_px"]
    fp_total = fp["background"] + fp["table"] + fp["opaque"]
    ceil = report["resolution_ceiling_iou"]
    lines = [
        f"{report['frames']} frames, {report['glass_objects']} visible glass objects",
        "",
        f"- glass IoU {report['glass_iou']:.3f}; without the {report['band_px']}-px band around ground-truth "
        f"outlines {report['glass_iou_outside_band']:.3f}",
        "- resolution ceiling (ground truth pooled to 1/s and upsampled back): "
        + ", ".join(f"1/{s}: {v:.3f}" for s, v in ceil.items()),
        f"- false-positive pixels {fp_total} (background {fp['background']}, table {fp['table']}, "
        f"opaque objects {fp['opaque']}; {fp['within_2px_of_glass']} of them within 2 px of glass); "
        f"false-negative pixels {report['false_negative_px']}",
        "- false-positive pixels by distance to the nearest glass pixel: "
        + ", ".join(f"{k} {v}" for k, v in report["false_positive_by_distance_px"].items()),
        "",
        f"| group | value | objects | pixel recall | missed (< {report['missed_below']:.0%} marked) |",
        "|---|---|---:|---:|---:|",
    ]
    for group, rows in report["objects"].items():
        for key, row in rows.items():
            lines.append(f"| {group} | {key} | {row['objects']} | {row['pixel_recall']:.3f} | {row['missed']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.eval.mask_errors", description=__doc__.split("\n\n")[0])
    parser.add_argument("split", type=Path, help="a rendered split folder (egsa-synth output ROOT/SPLIT)")
    parser.add_argument("--model", default=None, help="model directory, .onnx or engine (default: the bundled model)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--limit", type=int, default=None, help="first N frames only")
    parser.add_argument("--band-px", type=int, default=1)
    parser.add_argument("--json", type=output_file, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if not frame_dirs(args.split):
        parser.error(f"{args.split} holds no rendered frame directories (each with a meta.json)")
    pipeline = load_pipeline(args.model, backend=args.backend)
    report = analyse_split(
        args.split, lambda rgb: pipeline(rgb).mask, limit=args.limit, band_px=args.band_px, progress=sys.stderr.isatty()
    )
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
