"""Per-object 3-D geometry: footprint, surface model, depth, centroid, height and width.

For one instance and a support plane: its outline pixels as angles (:mod:`.object_view`; the
extents and lowest pixels all lie on the outline), its contact footprint (:mod:`.footprint`,
from outline pixels with nothing of the object below them), a surface model (surface of revolution by default,
the vertical plane when asked or when the silhouette is cut at a side, which makes its width
and axis unknown), front and back depth per pixel, and the network's depth shape fused in
(:mod:`.fusion`). Borders the instance touches are classified against the image's "down"
direction at the object: below (base unseen: refused), above (top unseen: height a lower
bound) or at a side (width a lower bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .camera import pixel_rays
from .footprint import Footprint, contact_footprint
from .frame_scale import frame_scale, scaled_area
from .fusion import fuse_network_shape
from .instances import InstanceStats
from .object_view import object_view
from .plane import Plane
from .revolution_surface import fit_revolution
from .vertical_plane_surface import fit_vertical_plane

REVOLUTION = "revolution"
VERTICAL_PLANE = "vertical_plane"
_OUTWARD = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "top": (0.0, -1.0), "bottom": (0.0, 1.0)}
_NAN3 = np.full(3, np.nan)


@dataclass(frozen=True)
class ObjectConfig:
    """Parameters of :func:`measure_object`. ``min_pixels`` is stated at a 192x256 frame and
    scaled to the frame by :func:`~egsa_ros.geometry.glass.glass_geometry` (:meth:`at_frame`).

    Attributes:
        surface: ``"revolution"`` (falls back to the vertical plane when it cannot be fitted)
            or ``"vertical_plane"``.
        min_pixels: smaller instances are refused.
        min_base_angle_deg: base rays must point at least this far below the horizon, degrees.
        max_azimuth_span_deg: an object spanning more azimuth around the camera's foot is
            (nearly) under the camera and refused, degrees.
        network_weight: share of the network's depth shape in the fused depth (see
            :mod:`.fusion`; 0.3 was the best of 0, 0.15, 0.3, 0.5, 0.7 on the v2 validation
            renders with the bundled model's own mask: glass d<1.05 0.42 / 0.44 / 0.44 / 0.44 /
            0.41).
    """

    surface: str = REVOLUTION
    min_pixels: int = 30
    min_base_angle_deg: float = 2.0
    max_azimuth_span_deg: float = 120.0
    network_weight: float = 0.3

    def at_frame(self, shape: tuple[int, ...]) -> ObjectConfig:
        """These parameters for an (H, W) frame: ``min_pixels`` times (frame pixels / 192*256)."""
        return replace(self, min_pixels=scaled_area(self.min_pixels, frame_scale(shape)))

    def __post_init__(self):
        if self.surface not in (REVOLUTION, VERTICAL_PLANE):
            raise ValueError(f"surface must be {REVOLUTION!r} or {VERTICAL_PLANE!r}, got {self.surface!r}")
        if not 0.0 <= self.network_weight <= 1.0:
            raise ValueError(f"network_weight must be in [0, 1], got {self.network_weight}")


@dataclass(frozen=True)
class ObjectGeometry:
    """One transparent object, in the optical frame (x right, y down, z forward, metres).

    Attributes:
        instance_id: its id in the instance image.
        ok: False when refused (numbers are then NaN).
        code: short refusal key ("" when ok), e.g. ``"base_unseen"``.
        reason: one line saying why it was refused.
        model: ``"revolution"`` or ``"vertical_plane"`` ("" when refused).
        centroid: (3,) centre of the modelled solid, metres.
        base_point: (3,) contact point nearest the camera, metres.
        footprint_centre: (3,) centre of the footprint on the plane (the axis foot for the
            revolution model), metres.
        height_m: top above the plane along its normal, metres.
        width_m: largest horizontal width (revolution: diameter), metres.
        footprint: (M, 3) where the rays of the lowest pixels meet the plane, metres: the visible
            front edge of the base (for objects wider above their base, the outermost points lie
            behind it: their lowest pixels see the side).
        cut_sides: image borders cutting it, as seen from the object: subset of
            {"below", "above", "side"}.
        height_is_lower_bound: the top is cut by the image border.
        width_is_lower_bound: a side is cut by the image border.
    """

    instance_id: int
    ok: bool
    code: str = ""
    reason: str = ""
    model: str = ""
    centroid: np.ndarray = field(default_factory=lambda: _NAN3.copy())
    base_point: np.ndarray = field(default_factory=lambda: _NAN3.copy())
    footprint_centre: np.ndarray = field(default_factory=lambda: _NAN3.copy())
    height_m: float = float("nan")
    width_m: float = float("nan")
    footprint: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    cut_sides: frozenset[str] = frozenset()
    height_is_lower_bound: bool = False
    width_is_lower_bound: bool = False


@dataclass(frozen=True)
class ObjectDepth:
    """Per-pixel depths of one object (all (N,) float64 metres, z-depth).

    Attributes:
        rows, cols: (N,) int pixel coordinates.
        model: the surface model's front depth.
        back: the surface model's back depth.
        fused: ``model`` with the network's shape fused in.
    """

    rows: np.ndarray
    cols: np.ndarray
    model: np.ndarray
    back: np.ndarray
    fused: np.ndarray


def measure_object(
    instance: InstanceStats,
    labels: np.ndarray,
    K: np.ndarray,
    plane: Plane | None,
    network_depth: np.ndarray | None = None,
    config: ObjectConfig | None = None,
) -> tuple[ObjectGeometry, ObjectDepth | None]:
    """Geometry and depth of one instance.

    Args:
        instance: its stats (id, bounding box, borders touched).
        labels: (H, W) int32 instance image.
        K: (3, 3) intrinsics, checked by the caller.
        plane: the support plane, or None (refused: "no_plane").
        network_depth: optional (H, W) float32 network z-depth, metres, for the fused depth.
        config: see :class:`ObjectConfig`.
    Returns:
        ``(geometry, depth)``; ``depth`` is None when refused.
    """
    config = config or ObjectConfig()
    ident = instance.instance_id
    if plane is None:
        return ObjectGeometry(ident, False, "no_plane", "no support plane"), None
    x, y, w, h = instance.bbox
    inside = labels[y : y + h, x : x + w] == ident
    rows, cols = np.nonzero(inside)
    if len(rows) < config.min_pixels:
        return ObjectGeometry(ident, False, "too_small", f"{len(rows)} pixels (< {config.min_pixels})"), None
    # The footprint and the silhouette's extents only need the outline pixels (a tenth of the
    # object's); the depth is computed for all.
    outline_rows, outline_cols = np.nonzero(inside & ~_eroded(inside))
    view = object_view(outline_cols + x, outline_rows + y, K, plane)
    rows, cols = rows + y, cols + x
    cut = frozenset(_cut_side(side, view.down) for side in instance.touches)
    if "below" in cut:
        return ObjectGeometry(
            ident, False, "base_unseen", "the object's base is below the image border", cut_sides=cut
        ), None
    if np.ptp(view.azimuth) > np.radians(config.max_azimuth_span_deg):
        return ObjectGeometry(
            ident, False, "under_camera", "the object surrounds the point below the camera", cut_sides=cut
        ), None
    footprint = contact_footprint(
        view, plane, config.min_base_angle_deg, _nothing_below(inside, outline_rows, outline_cols, view.down)
    )
    if not isinstance(footprint, Footprint):
        code, reason = footprint
        return ObjectGeometry(ident, False, code, reason, cut_sides=cut), None
    top_cut = "above" in cut
    surface = None
    if config.surface == REVOLUTION and "side" not in cut:
        surface = fit_revolution(view, footprint, plane, top_cut)
    model = REVOLUTION if surface is not None else VERTICAL_PLANE
    if surface is None:
        surface = fit_vertical_plane(view, footprint, plane, top_cut)
    if not (np.isfinite(surface.height) and surface.height > 0):
        return ObjectGeometry(ident, False, "no_height", "the top lies at or below the plane", cut_sides=cut), None
    front, back = surface.depths(pixel_rays(cols, rows, K), plane)
    fused = front
    if network_depth is not None:
        fused = fuse_network_shape(front, network_depth[rows, cols], config.network_weight, 0.5 * surface.width)
    centre = surface.axis_foot if model == REVOLUTION else surface.footprint_centre
    geometry = ObjectGeometry(
        ident,
        True,
        model=model,
        centroid=surface.centroid,
        base_point=footprint.base_point,
        footprint_centre=centre,
        height_m=surface.height,
        width_m=surface.width,
        footprint=footprint.points,
        cut_sides=cut,
        height_is_lower_bound=top_cut,
        width_is_lower_bound="side" in cut,
    )
    return geometry, ObjectDepth(rows, cols, front, back, fused)


def _eroded(inside: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels whose 8 neighbours are all inside (outside the window counts as out)."""
    kernel = np.ones((3, 3), np.uint8)
    return cv2.erode(inside.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def _nothing_below(inside: np.ndarray, rows: np.ndarray, cols: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(N,) bool: outline pixels (window coordinates) whose neighbour in the image's "down"
    direction is not part of the object."""
    step_col, step_row = (int(value) for value in np.rint(down))
    below_rows, below_cols = rows + step_row, cols + step_col
    in_window = (below_rows >= 0) & (below_rows < inside.shape[0]) & (below_cols >= 0) & (below_cols < inside.shape[1])
    below_inside = inside[np.clip(below_rows, 0, inside.shape[0] - 1), np.clip(below_cols, 0, inside.shape[1] - 1)]
    return ~(in_window & below_inside)


def _cut_side(side: str, down: np.ndarray) -> str:
    """ "below", "above" or "side": where an image border lies as seen from the object."""
    along = float(np.dot(_OUTWARD[side], down))
    return "below" if along > 0.5 else "above" if along < -0.5 else "side"
