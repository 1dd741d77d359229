"""A second look through a trained lens: the depth scale of cameras outside the training range.

A camera-aware network predicts depth for a canonical camera and is scaled by the frame's focal
length; outside the focal lengths it was trained on it regresses toward the depths it knows (a
narrow lens at the usual distance asks it for canonical depths it never saw). This module builds
a view of the same frame as a camera inside the trained range would see it, with the same number
of pixels, so the same graph runs on it:

- a narrow lens (fx / width above ``hi``): the frame shrunk by ``lens / (fx / width)`` into the
  middle of a mirrored border, i.e. the view of a wider lens at the same place;
- a wide lens (fx / width below ``lo``): the centre of the frame, ``(fx / width) / lens`` of each
  side, enlarged to the frame size, i.e. the view of a longer lens.

The second ``lens`` is the nearest end of [lo, hi], or (``inset`` > 0) that end moved a share
``inset`` of the way toward ``toward`` (the canonical fx / width) in log(fx / width): the ends are
the rarest lenses of training.

The network's depth of that view (scaled for the view's own focal length) over its depth of the
frame, as a median over the pixels both see, is the frame's scale correction. ROS-free, no torch.

    view = canonical_view(rgb, fx, (lo, hi))     # None when fx / width is inside [lo, hi]
    view = canonical_view(rgb, fx, (lo, hi), toward=0.785, inset=0.5)   # a lens further inside
    k = view_scale(depth, view_depth, view)      # NaN when too few pixels are comparable
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_COMPARED = 64
"""Fewer pixels with a depth in both views than this: no correction (NaN)."""


@dataclass(frozen=True)
class CanonicalView:
    """The resampled frame and where the original frame lies in it.

    Attributes:
        rgb: (H, W, 3) uint8, the frame's size.
        fx: the view's focal length in pixels (same width as the frame).
        zoom: view pixels per frame pixel (< 1: shrunk into a border; > 1: a crop enlarged).
        box: (y0, x0, y1, x1) the region both views see, in the coordinates of the view when
            ``zoom < 1`` (the shrunk frame) and of the frame when ``zoom > 1`` (the crop).
    """

    rgb: np.ndarray
    fx: float
    zoom: float
    box: tuple[int, int, int, int]


def _centred_box(height: int, width: int, share: float) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) of a centred box ``share`` (< 1) of each side of a height x width image."""
    h, w = max(1, round(height * share)), max(1, round(width * share))
    top, left = (height - h) // 2, (width - w) // 2
    return top, left, top + h, left + w


def second_lens(
    focal: float, focal_range: tuple[float, float], toward: float | None = None, inset: float = 0.0
) -> float:
    """fx / width of the lens the second view emulates for a frame of ``focal`` (fx / width)
    outside ``focal_range``: the nearest end, moved ``inset`` (0-1) of the way to ``toward`` in
    log(fx / width) (``toward`` None or ``inset`` 0: the end itself)."""
    lo, hi = focal_range
    end = hi if focal > hi else lo
    if toward is None or inset == 0.0:
        return end
    return float(end * (toward / end) ** inset)


def canonical_view(
    rgb: np.ndarray,
    fx: float,
    focal_range: tuple[float, float],
    *,
    toward: float | None = None,
    inset: float = 0.0,
) -> CanonicalView | None:
    """The view of ``rgb`` (H, W, 3) through :func:`second_lens` (``focal_range`` (lo, hi) is
    fx / width, unitless), or None when ``fx`` (pixels) is already inside the range."""
    height, width = rgb.shape[:2]
    lo, hi = focal_range
    focal = float(fx) / width
    if lo <= focal <= hi:
        return None
    narrow = focal > hi
    lens = second_lens(focal, focal_range, toward, inset)
    y0, x0, y1, x1 = _centred_box(height, width, lens / focal if narrow else focal / lens)
    h, w = y1 - y0, x1 - x0
    if narrow:  # shrink the frame into the box, a mirrored border around it
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        view = cv2.copyMakeBorder(small, y0, height - y1, x0, width - x1, cv2.BORDER_REFLECT_101)
        zoom = w / width
    else:  # wide lens: enlarge the box's part of the frame
        view = cv2.resize(rgb[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_LINEAR)
        zoom = width / w
    return CanonicalView(view, fx * zoom, zoom, (y0, x0, y1, x1))


def view_scale(depth: np.ndarray, view_depth: np.ndarray, view: CanonicalView) -> float:
    """Median of (view depth / frame depth) over the pixels both see, compared at the coarser of
    the two samplings; NaN when fewer than :data:`MIN_COMPARED` pixels have a depth in both.

    depth, view_depth: (H, W) float32 metres (NaN unknown) of the frame and of ``view.rgb``."""
    y0, x0, y1, x1 = view.box
    if view.zoom < 1:  # the frame appears shrunk inside the view
        in_view = view_depth[y0:y1, x0:x1]
        in_frame = cv2.resize(depth, (in_view.shape[1], in_view.shape[0]), interpolation=cv2.INTER_AREA)
    else:  # the view is the frame's centre enlarged
        in_frame = depth[y0:y1, x0:x1]
        in_view = cv2.resize(view_depth, (in_frame.shape[1], in_frame.shape[0]), interpolation=cv2.INTER_AREA)
    ok = np.isfinite(in_view) & np.isfinite(in_frame) & (in_view > 0) & (in_frame > 0)
    if int(ok.sum()) < MIN_COMPARED:
        return float("nan")
    return float(np.median(in_view[ok] / in_frame[ok]))
