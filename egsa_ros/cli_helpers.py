"""Small helpers shared by the command-line tools (argparse types, one-line errors)."""

from __future__ import annotations

import argparse

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
