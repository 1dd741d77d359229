"""The backend interface (``infer(rgb) -> Prediction``) and a per-frame-size graph cache.

Every backend runs the same camera-frame graph (:class:`~egsa_ros.model.frame_graph.CameraFrameModel`:
uint8 frame in; resize, Canny, network, upsampling and argmax inside; depth + mask out), so
the only per-pixel work left in Python is copying the result out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .prediction import Prediction

LOG = logging.getLogger("egsa_ros.pipeline")
Size = tuple[int, int]


class Backend:
    """Base class: ``name``, ``providers`` (what actually runs) and ``infer``."""

    name: str = "base"
    providers: list[str] = []

    def infer(self, rgb: np.ndarray) -> Prediction:  # pragma: no cover - interface
        """rgb: (H, W, 3) uint8 C-contiguous RGB -> :class:`Prediction` at (H, W)."""
        raise NotImplementedError

    def prepare(self, frame_size: Size) -> None:
        """Build whatever a frame of ``frame_size`` (H, W) needs, so its first frame is fast."""


class PerSizeCache:
    """Keeps the graphs of the last ``capacity`` frame sizes (a camera rarely changes size)."""

    def __init__(self, build: Callable[[Size], object], capacity: int = 4) -> None:
        self.build = build
        self.capacity = int(capacity)
        self.items: OrderedDict[Size, object] = OrderedDict()

    def get(self, size: Size):
        """The graph for frames of ``size`` (H, W), built on first use."""
        if size not in self.items:
            if self.items:
                LOG.info("egsa_ros: new frame size %dx%d, preparing its graph", size[1], size[0])
            self.items[size] = self.build(size)
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)
        self.items.move_to_end(size)
        return self.items[size]
