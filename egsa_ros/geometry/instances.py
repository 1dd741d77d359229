"""Transparent object instances from the binary transparent mask.

Connected components (8-connectivity) of the mask; components smaller than ``min_area_px`` are
dropped (and counted). A component is split where two objects touch: a seam of pixels where
the network's depth jumps between neighbours (relative jump above ``depth_jump_rel``; the
farther pixel of each such pair becomes a seam pixel), or, given a grey image, where strong
image edges (Canny) cross its interior. Pieces of (component minus seam), 4-connected, that hold
at least ``min_piece_px`` pixels become instances; seam pixels and smaller pieces go to the
nearest instance, so instances cover the whole kept component. Two objects side by side at the
same depth with no visible edge between them stay one instance.

Glass is full of edges of its own (rims, a liquid's surface, labels, refraction), which cut one
object into pieces stacked one above the other; :mod:`.piece_merging` joins them again (a piece
resting on another, a stem under its bowl), while pieces side by side, each with its own base,
stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage

from .frame_scale import frame_scale, scaled_area, scaled_length
from .piece_merging import merge_stacked


@dataclass(frozen=True)
class InstanceConfig:
    """Parameters of :func:`transparent_instances`. Pixel counts and lengths are stated at a
    192x256 frame; :func:`~egsa_ros.geometry.glass.glass_geometry` scales them to the frame it
    runs on (:meth:`at_frame`).

    Attributes:
        min_area_px: components with fewer pixels are dropped (mask speckle).
        min_piece_px: a split piece needs this many pixels to be its own instance.
        depth_jump_rel: a jump between neighbouring depths above this fraction of the nearer
            one marks a seam (0.05 = 3 cm at 0.6 m between adjacent pixels).
        canny_low, canny_high: Canny thresholds on the 8-bit grey image.
        edge_margin_px: edges closer than this to the component's outline are ignored (the
            outline itself is an edge); interior edges are carried across this band.
        merge_resting_share: a piece more than this share of whose lowest pixels rest on
            another piece is merged into it (None: never merge).
        merge_supporting_share: a piece more than this share of whose top pixels lie right
            under one other piece (a stem under its bowl) is merged into it (None: never).
        merge_neck_share: a piece whose highest row lies wholly under one other piece and meets
            it over at most this share of that piece's width (a stem with its foot under a
            bowl) is merged into it (None: never).
    """

    min_area_px: int = 50
    min_piece_px: int = 50
    depth_jump_rel: float = 0.05
    canny_low: int = 100
    canny_high: int = 250
    edge_margin_px: int = 2
    merge_resting_share: float | None = 0.5
    merge_supporting_share: float | None = 0.8
    merge_neck_share: float | None = 0.25

    def at_frame(self, shape: tuple[int, ...]) -> InstanceConfig:
        """These parameters for an (H, W) frame: areas times (frame pixels / 192*256), the edge
        margin times its square root (:mod:`.frame_scale`); unchanged at 192x256."""
        scale = frame_scale(shape)
        return replace(
            self,
            min_area_px=scaled_area(self.min_area_px, scale),
            min_piece_px=scaled_area(self.min_piece_px, scale),
            edge_margin_px=scaled_length(self.edge_margin_px, scale),
        )


@dataclass(frozen=True)
class InstanceStats:
    """One instance.

    Attributes:
        instance_id: its value in the instance image (>= 1).
        area_px: pixels.
        bbox: (x, y, width, height), pixels.
        touches: image borders it touches: subset of {"left", "right", "top", "bottom"}.
        split: True if it came from splitting a connected component.
    """

    instance_id: int
    area_px: int
    bbox: tuple[int, int, int, int]
    touches: frozenset[str]
    split: bool


@dataclass(frozen=True)
class Instances:
    """Result of :func:`transparent_instances`.

    Attributes:
        labels: (H, W) int32 instance id per pixel, 0 = none.
        stats: one :class:`InstanceStats` per id, in id order.
        dropped_small: components dropped for being smaller than ``min_area_px``.
        splits: instances added by splitting (instances - kept components).
    """

    labels: np.ndarray
    stats: tuple[InstanceStats, ...]
    dropped_small: int
    splits: int


def transparent_instances(
    mask: np.ndarray,
    depth: np.ndarray | None = None,
    grey: np.ndarray | None = None,
    config: InstanceConfig | None = None,
) -> Instances:
    """Split the transparent mask into object instances.

    Args:
        mask: (H, W) uint8/bool, non-zero on transparent pixels.
        depth: optional (H, W) float32 network z-depth, metres (for depth-jump seams).
        grey: optional (H, W) uint8 grey image (for edge seams).
        config: see :class:`InstanceConfig`.
    Returns:
        An :class:`Instances`.
    """
    config = config or InstanceConfig()
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    for name, image in (("depth", depth), ("grey", grey)):
        if image is not None and np.shape(image) != mask.shape:
            raise ValueError(f"{name} {np.shape(image)} and mask {mask.shape} differ")
    height, width = mask.shape
    transparent = mask.astype(bool)
    labels = np.zeros(mask.shape, np.int32)
    stats = []
    dropped = kept = 0
    rows_used, cols_used = np.flatnonzero(transparent.any(axis=1)), np.flatnonzero(transparent.any(axis=0))
    if len(rows_used) == 0:
        return Instances(labels, (), 0, 0)
    # Label only the mask's bounding box (glass is usually a small part of the frame).
    top, left = int(rows_used[0]), int(cols_used[0])
    crop = transparent[top : int(rows_used[-1]) + 1, left : int(cols_used[-1]) + 1].astype(np.uint8)
    count, components, boxes, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    for component in range(1, count):
        x, y, w, h, area = (int(value) for value in boxes[component])
        if area < config.min_area_px:
            dropped += 1
            continue
        kept += 1
        inside = components[y : y + h, x : x + w] == component
        x, y = x + left, y + top
        window = (slice(y, y + h), slice(x, x + w))
        pieces = _split(
            inside,
            None if depth is None else np.asarray(depth)[window],
            None if grey is None else _edges(np.asarray(grey), (x, y, w, h), config),
            config,
        )
        for piece in range(1, int(pieces.max()) + 1):
            rows, cols = np.nonzero(pieces == piece)
            instance_id = len(stats) + 1
            labels[rows + y, cols + x] = instance_id
            box = (int(cols.min()) + x, int(rows.min()) + y, int(np.ptp(cols)) + 1, int(np.ptp(rows)) + 1)
            stats.append(InstanceStats(instance_id, len(rows), box, _touches(box, width, height), pieces.max() > 1))
    return Instances(labels, tuple(stats), dropped, len(stats) - kept)


def instances_from_labels(labels: np.ndarray, min_area_px: int = InstanceConfig.min_area_px) -> Instances:
    """:class:`Instances` from a label image made elsewhere (another segmenter's instances, or in
    evaluation the true objects), for :func:`~egsa_ros.geometry.glass_geometry`'s ``instances``.

    Args:
        labels: (H, W) integer instance id per pixel, 0 = none; ids need not be consecutive.
        min_area_px: labels with fewer pixels are dropped (and counted in ``dropped_small``).
    Returns:
        The instances renumbered 1..k in the order of their ids (``split`` False for all).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H, W) integer image, got {labels.dtype} {labels.shape}")
    height, width = labels.shape
    out = np.zeros(labels.shape, np.int32)
    stats = []
    ids, areas = np.unique(labels[labels != 0], return_counts=True)
    dropped = 0
    for label, area in zip(ids, areas):
        if area < min_area_px:
            dropped += 1
            continue
        rows, cols = np.nonzero(labels == label)
        instance_id = len(stats) + 1
        out[rows, cols] = instance_id
        box = (int(cols.min()), int(rows.min()), int(np.ptp(cols)) + 1, int(np.ptp(rows)) + 1)
        stats.append(InstanceStats(instance_id, int(area), box, _touches(box, width, height), False))
    return Instances(out, tuple(stats), dropped, 0)


def _touches(box, width: int, height: int) -> frozenset[str]:
    x, y, w, h = box
    sides = {"left": x == 0, "top": y == 0, "right": x + w == width, "bottom": y + h == height}
    return frozenset(side for side, touching in sides.items() if touching)


def _edges(grey: np.ndarray, box, config: InstanceConfig) -> np.ndarray:
    """(h, w) bool Canny edges of the box, computed with a margin so the window's edge adds none."""
    x, y, w, h = box
    pad = 3
    top, left = max(0, y - pad), max(0, x - pad)
    window = grey[top : y + h + pad, left : x + w + pad]
    if window.dtype != np.uint8:
        window = np.clip(window, 0, 255).astype(np.uint8)
    edges = cv2.Canny(window, config.canny_low, config.canny_high) > 0
    return edges[y - top : y - top + h, x - left : x - left + w]


def _split(
    inside: np.ndarray, depth: np.ndarray | None, edges: np.ndarray | None, config: InstanceConfig
) -> np.ndarray:
    """(h, w) int32 piece id (1..k, 0 outside) of one component's window."""
    seam = np.zeros_like(inside)
    if depth is not None:
        seam |= _depth_seam(inside, depth.astype(np.float64), config.depth_jump_rel)
    if edges is not None:
        margin = 2 * config.edge_margin_px + 1
        interior = cv2.erode(
            inside.astype(np.uint8), np.ones((margin, margin), np.uint8), borderType=cv2.BORDER_REPLICATE
        ).astype(bool)
        inner_edges = edges & interior
        # Carry interior edges across the ignored outline band, so a seam reaches the outline.
        reach = cv2.dilate(inner_edges.astype(np.uint8), np.ones((margin, margin), np.uint8)).astype(bool)
        seam |= inner_edges | (reach & inside & ~interior)
    whole = inside.astype(np.int32)
    if not seam.any():
        return whole
    count, pieces = cv2.connectedComponents((inside & ~seam).astype(np.uint8), connectivity=4)
    sizes = np.bincount(pieces.ravel(), minlength=count)
    big = [piece for piece in range(1, count) if sizes[piece] >= config.min_piece_px]
    if len(big) < 2:
        return whole
    relabel = np.zeros(count, np.int32)
    relabel[big] = np.arange(1, len(big) + 1)
    pieces = relabel[pieces]
    # Seam pixels and small pieces join the nearest instance pixel.
    _, (rows, cols) = ndimage.distance_transform_edt(pieces == 0, return_indices=True)
    orphans = inside & (pieces == 0)
    pieces[orphans] = pieces[rows[orphans], cols[orphans]]
    return merge_stacked(pieces, config.merge_resting_share, config.merge_supporting_share, config.merge_neck_share)


def _depth_seam(inside: np.ndarray, depth: np.ndarray, jump_rel: float) -> np.ndarray:
    """(h, w) bool: the farther pixel of every 4-neighbour pair inside the component whose depths
    differ by more than ``jump_rel`` of the nearer one."""
    with np.errstate(invalid="ignore"):
        valid = inside & np.isfinite(depth) & (depth > 0)
    seam = np.zeros_like(inside)
    for axis in (0, 1):
        first = [slice(None), slice(None)]
        second = [slice(None), slice(None)]
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        first, second = tuple(first), tuple(second)
        near_a, near_b = depth[first], depth[second]
        both = valid[first] & valid[second]
        with np.errstate(invalid="ignore"):
            jump = both & (np.abs(near_a - near_b) > jump_rel * np.minimum(near_a, near_b))
        seam[first] |= jump & (near_a > near_b)
        seam[second] |= jump & (near_b >= near_a)
    return seam
