"""Latency statistics shared by the benchmarks: percentiles, per-stage rows, timing a call."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ..runtime.prediction import STAGES

Size = tuple[int, int]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 and mean of a list of milliseconds."""
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p90": float(np.percentile(arr, 90)),
        "p99": float(np.percentile(arr, 99)),
        "mean": float(arr.mean()),
    }


def summarise(name: str, size: Size, timings: list[dict[str, float]]) -> dict:
    """One result row: per-stage percentiles (ms) and fps at the median total."""
    row = {"candidate": name, "frame_size": list(size), "frames": len(timings)}
    for stage in STAGES:
        row[stage] = percentiles([t[stage] for t in timings])
    row["fps_p50"] = 1000.0 / row["total"]["p50"]
    return row


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 3) -> dict[str, float]:
    """Percentiles (ms) of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return percentiles(times)
