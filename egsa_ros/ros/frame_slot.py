"""A latest-frame-only hand-over between a ROS callback and a worker thread (ROS-free).

``put`` never blocks: a frame that the worker has not taken yet is replaced and counted as
superseded, so lag can never build up. ``take`` blocks until a frame or ``close``.
"""
from __future__ import annotations

import threading
from typing import Any, Optional


class LatestFrameSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Optional[Any] = None
        self._closed = False
        self.superseded = 0

    def put(self, item: Any) -> None:
        """Offer the newest item; an untaken older one is dropped (and counted)."""
        with self._cond:
            if self._item is not None:
                self.superseded += 1
            self._item = item
            self._cond.notify()

    def take(self, timeout: Optional[float] = None) -> Optional[Any]:
        """The newest item, waiting up to ``timeout`` s; None on timeout or after ``close``."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
