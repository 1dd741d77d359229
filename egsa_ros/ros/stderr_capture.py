"""Capture what C libraries print to stderr (file descriptor 2) while a call runs.

libjpeg and libpng print warnings such as ``Corrupt JPEG data: ...`` or ``libpng error: ...``
straight to fd 2, bypassing Python and OpenCV's log level, once per bad image: a flood of bad
compressed images would flood the console. The node decodes inside :func:`captured_stderr` and
reports what was said through its own throttled logger instead.

fd 2 is process-wide: for the few milliseconds of a decode, other threads' stderr lines land in
the capture too; :func:`captured_stderr` hands everything back, so nothing is lost.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Redirect fd 2 to a temporary file; on exit the yielded list holds the captured text."""
    said: list[str] = []
    with _LOCK, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield said
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            said.append(capture.read().decode("utf-8", errors="replace"))
