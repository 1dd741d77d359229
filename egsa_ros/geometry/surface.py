"""What the surface models share: closing a modelled side surface with the plane below and a
flat top at the object's height.

A surface model gives, for each pixel ray, where it enters (front) and leaves (back) an
infinitely tall vertical solid. A real object stands on the plane and ends at its height: a
ray looking down that enters the side above the height enters through the top instead
(a closed object's top face), and one that would leave below the plane leaves through the
base. Open glasses seen from above therefore get the depth of their rim's plane inside the
opening, not of the inner wall behind it. Looking up, a ray leaves through the top when
the side it would leave by is above the height.
"""

from __future__ import annotations

import numpy as np

from .camera import dot3
from .plane import Plane


def close_solid(
    front: np.ndarray, back: np.ndarray, rays: np.ndarray, plane: Plane, height: float
) -> tuple[np.ndarray, np.ndarray]:
    """(front, back) z-depths (N,) of rays (N, 3) through a vertical solid standing on ``plane``
    and ``height`` metres tall, given the depths where they cross its (infinitely tall) side."""
    along = dot3(rays, plane.normal)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_top = (height - plane.offset) / along
        to_plane = -plane.offset / along
    descending = along < 0
    front = np.where(descending & (plane.offset + front * along > height), to_top, front)
    back = np.where(descending & (plane.offset + back * along < 0), to_plane, back)
    back = np.where((along > 0) & (plane.offset + back * along > height), to_top, back)
    return front, np.maximum(back, front)
