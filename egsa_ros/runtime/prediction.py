"""The result type every backend returns for one camera frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STAGES = ("preprocess", "inference", "postprocess", "total")


@dataclass
class Prediction:
    """Result for one camera frame.

    Attributes:
        depth: (H, W) float32 metres, NaN where unknown.
        mask: (H, W) uint8, 1 on transparent pixels, 0 elsewhere.
        timings: milliseconds per stage: ``preprocess`` (frame conversion and upload),
            ``inference`` (the fused graph: resize, Canny, network, upsampling, argmax),
            ``postprocess`` (download, NaN marking) and ``total``.
    """

    depth: np.ndarray
    mask: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


def stage_timings(t0: float, t1: float, t2: float, t3: float) -> dict[str, float]:
    """perf_counter stamps (start, converted, inferred, done) -> per-stage ms dict."""
    return {
        "preprocess": (t1 - t0) * 1e3,
        "inference": (t2 - t1) * 1e3,
        "postprocess": (t3 - t2) * 1e3,
        "total": (t3 - t0) * 1e3,
    }


def finite_or_nan(depth: np.ndarray) -> np.ndarray:
    """float32 depth with every non-finite value set to NaN (REP 118 "unknown"), in place if possible."""
    depth = np.asarray(depth, dtype=np.float32)
    if not depth.flags.writeable:
        depth = depth.copy()
    depth[~np.isfinite(depth)] = np.nan
    return depth
