"""Counters, latency statistics and health of the node, as diagnostics values (ROS-free).

Counters are cumulative (they match what was sent over the node's life); the health verdict
uses only the last ``window_s`` seconds, like diagnostic_updater's frequency and counter
tasks, so one bad frame does not leave the status at WARN forever.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR, STALE = "OK", "WARN", "ERROR", "STALE"
TIMINGS = ("latency", "inference", "queue_wait", "input_delay", "processing")
"""Per-frame times kept for the diagnostics' ``<name>_p50_ms`` / ``<name>_p99_ms``."""


class NodeStats:
    """Thread-safe counters, recent latencies and processed-frame times.

    Args:
        window: how many recent frames the latency percentiles and rate use.
    """

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.counters: Counter = Counter()
        self.timings_ms = {name: deque(maxlen=window) for name in TIMINGS}  # recent values, ms
        self.done_times: deque = deque(maxlen=window)
        self.last_input: float | None = None  # time.monotonic() of the newest image
        self._history: deque = deque()  # (time.monotonic(), counters) at each tick

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def count_many(self, counts: dict[str, int]) -> None:
        """Add several counters at once (e.g. a frame's glass-geometry choices and refusals)."""
        with self._lock:
            self.counters.update(counts)

    def input_arrived(self, delay_ms: float | None = None) -> None:
        """An image arrived (counted as ``frames_in``, and the STALE clock restarts);
        ``delay_ms``: its arrival time minus its stamp (transport and executor delay)."""
        with self._lock:
            self.counters["frames_in"] += 1
            self.last_input = time.monotonic()
            if delay_ms is not None:
                self.timings_ms["input_delay"].append(delay_ms)

    def set(self, key: str, value) -> None:
        with self._lock:
            self.counters[key] = value

    def frame_done(
        self, latency_ms: float, inference_ms: float, queue_wait_ms: float = 0.0, processing_ms: float = 0.0
    ) -> None:
        """A frame was published. Latency = publish time minus the input stamp = input delay
        (:meth:`input_arrived`) + ``queue_wait_ms`` (arrival until the worker took it) +
        ``processing_ms`` (taken until published, of which ``inference_ms`` is the pipeline's)."""
        with self._lock:
            self.counters["frames_processed"] += 1
            for name, value in (
                ("latency", latency_ms),
                ("inference", inference_ms),
                ("queue_wait", queue_wait_ms),
                ("processing", processing_ms),
            ):
                self.timings_ms[name].append(value)
            self.done_times.append(time.monotonic())

    def snapshot(self) -> dict[str, float]:
        """Counters plus rate (Hz over the recent frames) and p50/p99 (ms) of latency, inference,
        the input delay, the wait for the worker and the processing."""
        with self._lock:
            out: dict[str, float] = dict(self.counters)
            times = list(self.done_times)
            timings = {name: list(values) for name, values in self.timings_ms.items()}
        out["rate_hz"] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        for name, values in timings.items():
            out[f"{name}_p50_ms"] = float(np.percentile(values, 50)) if values else float("nan")
            out[f"{name}_p99_ms"] = float(np.percentile(values, 99)) if values else float("nan")
        return out

    def tick(self, window_s: float, now: float | None = None) -> tuple[dict[str, int], float]:
        """Record the counters now; return (how much each grew over the last ``window_s``, the
        seconds that span really covers: shorter right after start)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            current = {k: v for k, v in self.counters.items() if isinstance(v, int)}
        self._history.append((now, current))
        while len(self._history) > 1 and now - self._history[1][0] >= window_s:
            self._history.popleft()
        then, old = self._history[0]
        return {k: v - old.get(k, 0) for k, v in current.items()}, now - then

    def key_values(self, extra: dict[str, str]) -> list[tuple[str, str]]:
        """Everything as sorted (key, text) pairs for a DiagnosticStatus."""
        snap = self.snapshot()
        pairs = [(k, f"{v:.2f}" if isinstance(v, float) else str(v)) for k, v in snap.items()]
        pairs += list(extra.items())
        return sorted(pairs)


@dataclass(frozen=True)
class HealthLimits:
    """Expected limits: rates in Hz (0 = not checked), timeout in seconds."""

    stale_timeout_s: float = 3.0
    min_input_rate_hz: float = 0.0
    min_output_rate_hz: float = 0.0


def health(
    window: dict[str, int],
    span_s: float,
    since_input_s: float | None,
    listening: bool,
    limits: HealthLimits,
    fallback: str | None = None,
) -> tuple[str, str]:
    """(OK / WARN / ERROR / STALE, one-line summary) from the counter growth over the last ``span_s``.

    STALE: no image for ``stale_timeout_s`` (or never); ERROR: images arrive and someone listens
    but none was processed, or every attempt failed; WARN: bad messages or failed frames in the
    window, a rate below its limit, or an engine fallback; OK otherwise.
    """
    span = max(span_s, 1e-6)
    got, done = window.get("frames_in", 0), window.get("frames_processed", 0)
    bad, errors = window.get("bad_messages", 0), window.get("errors", 0)
    rate_in, rate_out = got / span, done / span
    summary = f"in {rate_in:.1f} Hz, out {rate_out:.1f} Hz over {span_s:.1f} s"
    if bad:
        summary += f", {bad} bad messages"
    if errors:
        summary += f", {errors} failed frames"
    if since_input_s is None or since_input_s > limits.stale_timeout_s:
        waited = "no image received yet" if since_input_s is None else f"no image for {since_input_s:.1f} s"
        return STALE, f"{waited} (stale_timeout_s {limits.stale_timeout_s:g})"
    if errors and not done:
        return ERROR, "every frame failed: " + summary
    attempted = got - window.get("skipped_rate_limit", 0) - window.get("skipped_no_subscribers", 0)
    if listening and attempted > 0 and not done and span_s >= 1.0 and not errors and not bad:
        return ERROR, "images arrive but none was processed: " + summary
    warnings = []
    if bad or errors:
        warnings.append("bad input or failed frames")
    if limits.min_input_rate_hz and rate_in < limits.min_input_rate_hz:
        warnings.append(f"input below {limits.min_input_rate_hz:g} Hz")
    if listening and limits.min_output_rate_hz and rate_out < limits.min_output_rate_hz:
        warnings.append(f"output below {limits.min_output_rate_hz:g} Hz")
    if fallback:
        warnings.append(f"engine fallback: {fallback}")
    if warnings:
        return WARN, "; ".join(warnings) + ": " + summary
    return OK, summary
