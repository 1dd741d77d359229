"""Where the glass geometry's error with the model's own mask comes from.

``python -m egsa_ros.eval.geometry_limits SPLIT [--model M] [--json F]`` runs the model once per
frame of a rendered split and the glass geometry (table plane from the camera pose, as
``egsa-eval`` scores it) six times, each with a mask that is right in one more respect:

- ``own``: the model's mask, split into objects by the package (what the node publishes);
- ``own_boundary_oracle``: the same pixels split where the true border between two glass objects
  runs (the ceiling of a network output that marks that border; see :func:`boundary_oracle_labels`);
- ``own_true_split``: the same pixels split into the true objects: pixels on a glass object go
  to it, false glass joined to glass (in one connected piece of the mask) to the nearest object,
  false glass apart from any glass stays a piece of its own;
- ``own_glass_pixels``: only the model's pixels that are glass, split into the true objects
  (its false glass removed);
- ``true_mask``: the true glass mask, split by the package;
- ``true_mask_true_split``: the true objects themselves.

Read down the rows: ``own`` -> ``own_true_split`` is what splitting into objects costs,
``own_true_split`` -> ``own_glass_pixels`` what false glass attached to the objects costs, and
``own_glass_pixels`` -> ``true_mask_true_split`` what the glass the mask misses costs. The
``own`` row also counts how the package's instances meet the true objects. Analysis only: it
needs the renders' instance images and object list, which no robot has.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from ..data.synthetic_frames import frame_dirs
from ..geometry import GlassConfig, glass_geometry, instances_from_labels
from ..geometry.frame_scale import frame_scale, scaled_length
from ..geometry.plane import CAMERA_POSE
from .glass_geometry_eval import (
    FUSED_SUFFIX,
    GEOMETRY_POSE_PLANE,
    GlassGeometryAccumulator,
    true_objects_in_camera,
)
from .split_frames import read_split_frames
from .split_tool import finish_split_tool, open_split_tool, show_progress, split_tool_parser

ROWS = ("own", "own_boundary_oracle", "own_true_split", "own_glass_pixels", "true_mask", "true_mask_true_split")
"""The six masks, from the model's own to the truth (see the module docstring)."""

BORDER_NET_PX = 2
"""Half-width of the oracle border, in pixels at the geometry's reference size (192x256; scaled
with the frame like the geometry's own lengths)."""

MOSTLY_FALSE_GLASS = 0.3
"""An instance with more than this share of its pixels off the true glass counts as
``instances_mostly_false_glass``."""

MIN_OVERLAP_SHARE = 0.15
"""A true object counts as covered by an instance (and an instance as holding a piece of an
object) when the overlap is at least this share of the instance's (object's seen) pixels."""

_INSTANCE_KINDS = ("instances_on_no_object", "instances_on_one_object", "instances_on_two_or_more_objects")
"""Count keys of an instance by how many true objects it holds (0, 1, 2 or more)."""


def true_split_labels(mask: np.ndarray, glass_objects: np.ndarray, keep_false_glass: bool) -> np.ndarray:
    """The pixels of ``mask`` labelled by the true object they belong to.

    Args:
        mask: (H, W) bool, the pixels to label (the model's mask, or the true glass mask).
        glass_objects: (H, W) int true object id on glass pixels, 0 elsewhere.
        keep_false_glass: keep the mask's pixels that are not glass: those in a connected piece
            (8-neighbours) of ``mask`` that holds glass go to the nearest glass object of that
            piece, the other pieces get ids of their own (above every object id). False: drop them.
    Returns:
        (H, W) int64 label image, 0 off the mask (and on dropped pixels).
    """
    mask = np.asarray(mask, bool)
    glass_objects = np.asarray(glass_objects).astype(np.int64)
    labels = np.where(mask & (glass_objects > 0), glass_objects, 0)
    if not keep_false_glass:
        return labels
    false_glass = mask & (glass_objects == 0)
    if not false_glass.any():
        return labels
    if labels.any():
        _, pieces = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        nearest = labels[rows, cols]
        joined = false_glass & (pieces[rows, cols] == pieces)
        labels = np.where(joined, nearest, labels)
        false_glass &= ~joined
    _, alone = cv2.connectedComponents(false_glass.astype(np.uint8), connectivity=8)
    offset = int(glass_objects.max()) + 1
    return np.where(alone > 0, alone.astype(np.int64) + offset, labels)


def glass_borders(glass_objects: np.ndarray, radius_px: int) -> np.ndarray:
    """(H, W) bool: glass pixels within ``radius_px`` (a disc) of a pixel of another glass object.

    Args:
        glass_objects: (H, W) int true object id on glass pixels, 0 elsewhere.
        radius_px: >= 1.
    """
    ids = np.asarray(glass_objects).astype(np.int64)
    yy, xx = np.mgrid[-radius_px : radius_px + 1, -radius_px : radius_px + 1]
    disc = yy**2 + xx**2 <= radius_px**2
    highest = ndimage.maximum_filter(ids, footprint=disc, mode="constant", cval=0)
    lowest = ndimage.minimum_filter(np.where(ids > 0, ids, np.iinfo(np.int64).max), footprint=disc, mode="nearest")
    return (ids > 0) & ((highest != ids) | (lowest != ids))


def boundary_oracle_labels(mask: np.ndarray, glass_objects: np.ndarray, radius_px: int) -> np.ndarray:
    """The pixels of ``mask`` split where the true glass-to-glass borders run: the border pixels
    (:func:`glass_borders`) are removed, the rest is cut into 8-connected pieces, and the removed
    mask pixels join their nearest piece (a mask piece that is all border stays one piece).

    Returns:
        (H, W) int64 label image, 0 off the mask.
    """
    mask = np.asarray(mask, bool)
    core = mask & ~glass_borders(glass_objects, radius_px)
    _, pieces = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    labels = pieces.astype(np.int64)
    rest = mask & (labels == 0)
    if rest.any() and labels.any():
        _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        labels = np.where(rest, labels[rows, cols], labels)
        rest = mask & (labels == 0)
    if rest.any():  # no piece to join (all of the mask on borders): its own pieces
        _, alone = cv2.connectedComponents(rest.astype(np.uint8), connectivity=8)
        labels = np.where(alone > 0, alone.astype(np.int64) + int(labels.max()), labels)
    return labels


def instance_match_counts(instances: np.ndarray, glass_objects: np.ndarray) -> Counter:
    """How the package's instances meet the true objects, for one frame.

    Args:
        instances: (H, W) int instance id, 0 = none.
        glass_objects: (H, W) int true object id on glass pixels, 0 elsewhere.
    Returns:
        Counts: ``instances``, ``instances_on_no_object`` / ``_one_object`` / ``_two_or_more_objects``,
        ``instances_mostly_false_glass``, ``objects_seen`` (true objects with >= 30 of their pixels
        in an instance), ``objects_in_one_instance`` / ``objects_in_two_or_more_instances``.
    """
    counts = Counter()
    for instance_id in np.unique(instances[instances > 0]):
        pixels = instances == instance_id
        ids, overlap = np.unique(glass_objects[pixels], return_counts=True)
        held = sum(1 for i, n in zip(ids, overlap) if i and n >= MIN_OVERLAP_SHARE * pixels.sum())
        counts["instances"] += 1
        counts[
            ("instances_on_no_object", "instances_on_one_object", "instances_on_two_or_more_objects")[min(held, 2)]
        ] += 1
        counts["instances_mostly_false_glass"] += float((glass_objects[pixels] == 0).mean()) > MOSTLY_FALSE_GLASS
    for object_id in np.unique(glass_objects[glass_objects > 0]):
        seen = (glass_objects == object_id) & (instances > 0)
        if seen.sum() < 30:
            continue
        ids, overlap = np.unique(instances[seen], return_counts=True)
        pieces = sum(1 for n in overlap if n >= MIN_OVERLAP_SHARE * seen.sum())
        counts["objects_seen"] += 1
        counts["objects_in_one_instance" if pieces <= 1 else "objects_in_two_or_more_instances"] += 1
    return counts


def analyse_split(
    pipeline, folder: Path, *, limit: int | None = None, progress: bool = False, config: GlassConfig | None = None
) -> dict:
    """The six rows over a rendered split (frames without a camera pose or objects are skipped
    and counted); ``config`` (default: the package's, its plane sources replaced by the camera
    pose) sets the geometry's parameters. Returns ``{"frames", "skipped_frames", "rows": {row: geometry summary},
    "own_instances": counts}``; a row's summary holds ``glass_depth`` (the geometry's depth on the
    true glass pixels it covers, and that depth with the network's where it has none) and
    ``objects`` (:meth:`GlassGeometryAccumulator.result`'s ``objects_3d`` entry)."""
    accumulators = {row: GlassGeometryAccumulator() for row in ROWS}
    config = replace(config or GlassConfig(), plane_sources=(CAMERA_POSE,))
    match = Counter()
    frames = skipped = 0
    dirs = frame_dirs(folder)
    total = min(len(dirs), limit) if limit else len(dirs)
    for frame in tqdm(read_split_frames(folder, limit=limit), total=total, desc="frames", disable=not progress):
        pose, objects = frame.camera_in_support, getattr(frame, "gt_objects", None)
        if pose is None or not objects or frame.K is None or frame.gt_instances is None:
            skipped += 1
            continue
        frames += 1
        prediction = pipeline(frame.rgb, fx=frame.focal_px())
        own, glass = prediction.mask > 0, np.asarray(frame.gt_mask, bool)
        glass_objects = np.where(glass, frame.gt_instances, 0)
        border_px = scaled_length(BORDER_NET_PX, frame_scale(own.shape))
        masks = {
            "own": (own, None),
            "own_boundary_oracle": (own, boundary_oracle_labels(own, glass_objects, border_px)),
            "own_true_split": (own, true_split_labels(own, glass_objects, keep_false_glass=True)),
            "own_glass_pixels": (own & glass, true_split_labels(own, glass_objects, keep_false_glass=False)),
            "true_mask": (glass, None),
            "true_mask_true_split": (glass, glass_objects),
        }
        truth = true_objects_in_camera(objects, pose)
        for row, (mask, labels) in masks.items():
            instances = None if labels is None else instances_from_labels(labels)
            geometry = glass_geometry(
                mask, prediction.depth, frame.K, camera_pose=pose, rgb=frame.rgb, config=config, instances=instances
            )
            refined = np.where(np.isfinite(geometry.depth), geometry.depth, prediction.depth)
            sources = {GEOMETRY_POSE_PLANE: geometry.depth, GEOMETRY_POSE_PLANE + FUSED_SUFFIX: refined}
            accumulators[row].add_depths(sources, frame.gt_depth, glass)
            accumulators[row].add_objects(GEOMETRY_POSE_PLANE, geometry, frame.gt_instances, truth)
            if row == "own":
                match += instance_match_counts(geometry.instances.labels, glass_objects)
    rows = {}
    for row, accumulator in accumulators.items():
        result = accumulator.result()
        objects_3d = result.get("objects_3d", {}).get(GEOMETRY_POSE_PLANE, {})
        rows[row] = {
            "glass_depth": result.get("glass_depth_by_source", {}),
            "objects": {key: value for key, value in objects_3d.items() if key != "geometry_counts"},
        }
    return {"frames": frames, "skipped_frames": skipped, "rows": rows, "own_instances": dict(match)}


def markdown(report: dict) -> str:
    """The report as a Markdown table (what the CLI prints)."""
    lines = [
        f"{report['frames']} frames ({report['skipped_frames']} skipped: no camera pose or objects); "
        "table plane from the camera pose; glass d<1.05 and RMSE over the glass pixels the geometry covers",
        "",
        "| mask | glass d<1.05 | RMSE (m) | coverage | centroid / footprint centre / height p50 (cm) | objects found |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row, summary in report["rows"].items():
        depth = summary["glass_depth"].get(GEOMETRY_POSE_PLANE, {})
        objects = summary["objects"]
        errors = " / ".join(_p50(objects, key) for key in ("centroid_cm", "footprint_centre_cm", "height_cm"))
        lines.append(
            f"| {row} | {_number(depth.get('delta_1.05'))} | {_number(depth.get('rmse'))} | "
            f"{_number(depth.get('coverage'), 2)} | {errors} | "
            f"{objects.get('gt_found', 0)} / {objects.get('gt_visible', 0)} |"
        )
    match = Counter(report["own_instances"])
    if match:
        lines += [
            "",
            f"own mask: {match['instances']} instances: on no glass object {match['instances_on_no_object']}, "
            f"on one {match['instances_on_one_object']}, on two or more {match['instances_on_two_or_more_objects']}; "
            f"more than {MOSTLY_FALSE_GLASS:.0%} false glass {match['instances_mostly_false_glass']}. "
            f"{match['objects_seen']} objects seen: in one instance {match['objects_in_one_instance']}, "
            f"cut into two or more {match['objects_in_two_or_more_instances']}.",
        ]
    return "\n".join(lines)


def _p50(objects: dict, key: str) -> str:
    value = objects.get(key, {}).get("p50")
    return "-" if value is None else f"{value:.2f}"


def _number(value, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    prog = "egsa_ros.eval.geometry_limits"
    args = split_tool_parser(prog, __doc__.split("\n\n")[0]).parse_args(argv)
    pipeline = open_split_tool(prog, args)
    if pipeline is None:
        return 2
    report = analyse_split(pipeline, args.split, limit=args.limit, progress=show_progress(args))
    if not report["frames"]:
        print(f"{prog}: no frame of {args.split} has a camera pose and objects (v2 renders do)", file=sys.stderr)
        return 2
    return finish_split_tool(report, pipeline, args, markdown)


if __name__ == "__main__":
    sys.exit(main())
