"""Small helpers shared by the command-line tools (argparse types, one-line errors)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

MIN_SIDE = 3


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` (e.g. ``480x640``; ``H,W`` also accepted) -> (H, W) pixels, for argparse ``type=``.

    Raises:
        argparse.ArgumentTypeError: not two integers, or a side below 3 pixels.
    """
    parts = text.lower().replace(",", "x").split("x")
    try:
        height, width = (int(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 480x640, got {text!r}") from None
    if height < MIN_SIDE or width < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"size {text} too small (at least {MIN_SIDE}x{MIN_SIDE})")
    return height, width


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``480x640,720x1280`` -> [(480, 640), (720, 1280)] (an empty string gives [])."""
    return [parse_size(part) for part in text.split(",") if part.strip()] if "x" in text.lower() else []


def format_size(size: tuple[int, int]) -> str:
    """(H, W) -> ``HxW``."""
    return f"{size[0]}x{size[1]}"


def output_file(text: str) -> Path:
    """A file the tool writes when it is done (``--json``, ``--out``), for argparse ``type=``.

    Its folder is made now, while the arguments are read, so that a long run does not end in a
    traceback at its last step.

    Raises:
        argparse.ArgumentTypeError: the path is a folder, or its folder cannot be made or written.
    """
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot make the folder of {text}: {exc.strerror or exc}") from None
    if not os.access(path.parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {path.parent} (permissions)")
    return path
