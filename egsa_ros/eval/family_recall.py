"""Which glass the mask finds and which look-alikes it mistakes for glass, per object family.

A rendered split (``egsa-synth``) knows every object: its instance id in ``instance.png`` and,
in ``meta.json``, its ``category`` (transparent | opaque), ``family`` (tumbler, carafe, mug, ...)
and ``role`` (``glass``, ``lookalike:<kind>``, ``lid_of:<id>``, ...). For each family of glass
objects this counts the share of their pixels the mask marks transparent (pixel recall) and the
share of objects with at least half of their pixels marked (object recall); for the opaque
objects, per role, the share of their pixels wrongly marked transparent. Aggregated over all
frames (sums, not a mean of per-frame means).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

FOUND_FRACTION = 0.5
"""An object counts as found when at least this share of its visible pixels is marked."""


class FamilyRecall:
    """Adds frames (predicted mask, instance image, objects); :meth:`result` gives the tables."""

    def __init__(self) -> None:
        self.glass: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # objects, found, pixels, marked
        self.opaque: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # objects, pixels, marked

    def add(self, mask: np.ndarray, instances: np.ndarray, objects: Sequence[dict]) -> None:
        """mask (H, W) non-zero = predicted transparent; instances (H, W) int ids (0 none); objects
        the frame's ``meta.json`` objects. Objects with no visible pixel are skipped."""
        if mask.shape != instances.shape:
            raise ValueError(f"mask {mask.shape} and instance image {instances.shape} differ")
        ids = instances.ravel().astype(np.int64)
        marked = np.asarray(mask).ravel() != 0
        size = int(ids.max()) + 1 if ids.size else 1
        pixels = np.bincount(ids, minlength=size)
        hits = np.bincount(ids, weights=marked, minlength=size).astype(np.int64)
        for obj in objects:
            i = int(obj.get("instance_id", 0))
            if i <= 0 or i >= size or pixels[i] == 0:
                continue
            n, m = int(pixels[i]), int(hits[i])
            if obj.get("category") == "transparent":
                entry = self.glass[str(obj.get("family") or obj.get("shape") or "unknown")]
                entry[0] += 1
                entry[1] += int(m >= FOUND_FRACTION * n)
                entry[2] += n
                entry[3] += m
            else:
                entry = self.opaque[_opaque_kind(obj)]
                entry[0] += 1
                entry[1] += n
                entry[2] += m

    def result(self) -> dict:
        """``glass``: family -> objects, found, object_recall, pixel_recall; ``opaque``: kind ->
        objects, pixels_marked_glass (share of their pixels marked transparent)."""
        glass = {
            family: {
                "objects": objects,
                "found": found,
                "object_recall": found / objects,
                "pixel_recall": marked / pixels,
            }
            for family, (objects, found, pixels, marked) in sorted(self.glass.items())
        }
        opaque = {
            kind: {"objects": objects, "pixels_marked_glass": marked / pixels}
            for kind, (objects, pixels, marked) in sorted(self.opaque.items())
        }
        return {"glass": glass, "opaque": opaque}


def _opaque_kind(obj: dict) -> str:
    """``lookalike:plastic_bottle`` -> ``plastic_bottle``; lids and plain distractors by family."""
    role = str(obj.get("role") or "")
    if role.startswith("lookalike:"):
        return role.split(":", 1)[1]
    if role.startswith("lid_of:"):
        return "lid"
    return str(obj.get("family") or obj.get("shape") or "other")


def family_markdown(result: dict) -> list[str]:
    """Markdown lines: a glass table (recall per family) and an opaque table (false glass per kind)."""
    lines = [
        "| glass family | objects | found (>= 50 % of pixels) | pixel recall |",
        "|---|---:|---:|---:|",
    ]
    for family, r in result["glass"].items():
        lines.append(f"| {family} | {r['objects']} | {r['object_recall']:.2f} | {r['pixel_recall']:.2f} |")
    lines += ["", "| opaque object | objects | pixels marked glass |", "|---|---:|---:|"]
    for kind, r in result["opaque"].items():
        lines.append(f"| {kind} | {r['objects']} | {r['pixels_marked_glass']:.3f} |")
    return lines
