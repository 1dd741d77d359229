"""A latest-frame-only hand-over between a ROS callback and a worker thread (ROS-free).

``put`` never blocks: a frame that the worker has not taken yet is replaced and counted as
superseded, so lag can never build up. ``take`` blocks until a frame or ``close``. When the
taken frame turns out unusable (a compressed image whose damage only decoding finds),
``take_displaced`` hands back the frame it had replaced, if nothing newer has arrived since.
"""

from __future__ import annotations

import threading
from typing import Any


class LatestFrameSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any | None = None
        self._displaced: Any | None = None  # what the current item replaced
        self._fallback: Any | None = None  # what the last taken item replaced
        self._closed = False
        self.superseded = 0

    def put(self, item: Any) -> bool:
        """Offer the newest item; an untaken older one is dropped (and counted). True when one was."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.superseded += 1
            self._displaced = self._item
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any | None:
        """The newest item, waiting up to ``timeout`` s; None on timeout or after ``close``."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._fallback, self._displaced = self._displaced, None
            return None if self._closed else item

    def take_displaced(self) -> Any | None:
        """The item the last taken one had replaced, once, if no newer item has arrived since
        (None otherwise, or after ``close``)."""
        with self._cond:
            item, self._fallback = self._fallback, None
            return None if self._closed or self._item is not None else item

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
