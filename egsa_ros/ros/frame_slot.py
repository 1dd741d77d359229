"""The newest-frame hand-over between ROS callbacks and the inference worker (ROS-free).

A callback ``put``s every frame that passed its checks; the worker ``take``s the newest, so lag
never builds up: an older frame is dropped (and counted as superseded) as soon as it can no
longer be the one processed. Some frames can only be checked by decoding them (a compressed
image whose damage only the decoder finds): those are put ``verified=False`` and the older
frames stay behind them as fallbacks, so a run of such junk arriving right after a good frame
never pushes the good one out. The worker says :meth:`processed` when a taken frame was used
(the older fallbacks are dropped then) and simply takes again when it was unusable.

Freshness: when the worker comes back from a frame at a high input rate, the newest pending
frame is on average half an input period old. ``take(fresher_within_s=...)`` waits for the next
frame instead when the one pending is older than the time until the next is due (from the
measured input period) and that time is short: the output is fresher for a small loss of
throughput (the wait is at most ``fresher_within_s``).

    slot.put(item, verified=True) -> int   frames dropped by this put (superseded)
    slot.take(timeout, fresher_within_s=0) -> item | None   newest pending frame (None: timeout or closed)
    slot.processed() -> int                frames dropped because the last taken one was used
    slot.last_taken_age_s                  seconds the last taken frame had waited in the slot
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

MAX_FALLBACKS = 16
"""Unverified frames kept behind the newest one; beyond this the oldest unverified one goes."""

PERIOD_SAMPLES = 16
"""Recent arrival intervals whose median is the input period used by the freshness wait."""


class LatestFrameSlot:
    def __init__(self, max_fallbacks: int = MAX_FALLBACKS) -> None:
        self._cond = threading.Condition()
        self._pending: list[tuple[int, Any, bool, float]] = []  # (sequence, item, verified, arrival s), oldest first
        self._seq = 0
        self._taken_seq: int | None = None
        self._max = int(max_fallbacks)
        self._closed = False
        self.superseded = 0  # frames dropped unprocessed, in total
        self.fallbacks_used = 0  # frames taken after a newer one was taken (it proved unusable)
        self.fresher_waits = 0  # takes that waited for the next frame (and got it)
        self.last_taken_age_s = 0.0
        self._arrivals: deque = deque(maxlen=PERIOD_SAMPLES + 1)  # time.monotonic() of recent puts

    def put(self, item: Any, *, verified: bool = True) -> int:
        """Offer the newest frame; never blocks. ``verified``: its checks are complete (it cannot
        turn out unusable), so every older pending frame is dropped now. Returns how many frames
        this dropped."""
        with self._cond:
            if self._closed:
                return 0
            self._seq += 1
            now = time.monotonic()
            self._arrivals.append(now)
            dropped = len(self._pending) if verified else 0
            if verified:
                self._pending.clear()
            self._pending.append((self._seq, item, verified, now))
            dropped += self._trim()
            self.superseded += dropped
            self._cond.notify()
            return dropped

    def _trim(self) -> int:
        """Keep at most ``max_fallbacks`` + 1 frames, dropping the oldest unverified ones. A verified
        put clears what came before it, so a verified frame can only be the oldest pending one,
        and it stays: it is the good frame to fall back to."""
        dropped = 0
        while len(self._pending) > self._max + 1:
            del self._pending[1 if self._pending[0][2] else 0]
            dropped += 1
        return dropped

    def input_period_s(self) -> float | None:
        """Median interval between the recent puts (None before 4 intervals)."""
        with self._cond:
            return self._period()

    def _period(self) -> float | None:
        times = list(self._arrivals)
        if len(times) < 5:
            return None
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        return gaps[len(gaps) // 2]

    def take(self, timeout: float | None = None, *, fresher_within_s: float = 0.0) -> Any | None:
        """The newest pending frame, waiting up to ``timeout`` s; None on timeout or after
        :meth:`close`. Older pending frames stay as fallbacks until :meth:`processed`.

        ``fresher_within_s`` > 0: if the newest pending frame has waited longer than the time
        until the next frame is due, and that is at most ``fresher_within_s``, wait for the next
        one (up to a quarter period late) and take it instead; the older one stays a fallback."""
        with self._cond:
            if not self._pending and not self._closed:
                self._cond.wait(timeout)
            if self._closed or not self._pending:
                return None
            if fresher_within_s > 0:
                self._wait_for_fresher(fresher_within_s)
                if self._closed or not self._pending:
                    return None
            seq, item, _, arrived = self._pending.pop()
            if self._taken_seq is not None and seq < self._taken_seq:
                self.fallbacks_used += 1
            self._taken_seq = seq
            self.last_taken_age_s = time.monotonic() - arrived
            return item

    def _wait_for_fresher(self, within_s: float) -> None:
        """Called with the lock held and a frame pending: see :meth:`take`."""
        period = self._period()
        if period is None:
            return
        age = time.monotonic() - self._pending[-1][3]
        until_next = period - age
        if not 0.0 < until_next <= within_s or age < until_next:
            return
        newest = self._seq
        arrived = self._cond.wait_for(lambda: self._seq != newest or self._closed, until_next + 0.25 * period)
        if arrived and not self._closed:
            self.fresher_waits += 1

    def processed(self) -> int:
        """The last taken frame was used: drop (and count) the pending frames older than it.
        Returns how many."""
        with self._cond:
            if self._taken_seq is None:
                return 0
            keep = [entry for entry in self._pending if entry[0] > self._taken_seq]
            dropped = len(self._pending) - len(keep)
            self._pending = keep
            self._taken_seq = None
            self.superseded += dropped
            return dropped

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
