"""Counters and latency statistics of the node, as diagnostics key/values (ROS-free)."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Dict, List, Tuple

import numpy as np


class NodeStats:
    """Thread-safe counters, recent latencies and processed-frame times.

    Args:
        window: how many recent frames the latency percentiles and rate use.
    """

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.counters: Counter = Counter()
        self.latency_ms: deque = deque(maxlen=window)
        self.inference_ms: deque = deque(maxlen=window)
        self.done_times: deque = deque(maxlen=window)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def set(self, key: str, value: int) -> None:
        with self._lock:
            self.counters[key] = value

    def frame_done(self, latency_ms: float, inference_ms: float) -> None:
        """A frame was published; ``latency_ms`` = publish time minus the input stamp."""
        with self._lock:
            self.counters["frames_processed"] += 1
            self.latency_ms.append(latency_ms)
            self.inference_ms.append(inference_ms)
            self.done_times.append(time.monotonic())

    def snapshot(self) -> Dict[str, float]:
        """Counters plus rate (Hz over the window) and latency p50/p99 (ms)."""
        with self._lock:
            out: Dict[str, float] = dict(self.counters)
            times = list(self.done_times)
            lat = list(self.latency_ms)
            inf = list(self.inference_ms)
        out["rate_hz"] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        for name, values in (("latency", lat), ("inference", inf)):
            out[f"{name}_p50_ms"] = float(np.percentile(values, 50)) if values else float("nan")
            out[f"{name}_p99_ms"] = float(np.percentile(values, 99)) if values else float("nan")
        return out

    def key_values(self, extra: Dict[str, str]) -> List[Tuple[str, str]]:
        """Everything as sorted (key, text) pairs for a DiagnosticStatus."""
        snap = self.snapshot()
        pairs = [(k, f"{v:.2f}" if isinstance(v, float) else str(v)) for k, v in snap.items()]
        pairs += list(extra.items())
        return sorted(pairs)
