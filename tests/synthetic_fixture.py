"""A tiny on-disk dataset in the egsa-synth layout (see egsa_ros/data/synthetic.py).

``write_synthetic_fixture(root, {"train": 4, "val": 2})`` writes per frame
``<root>/<split>/<6-digit>/rgb.png, depth_gt.png, depth_sensor.png (uint16 mm),
semantic.png (uint8 0..3), instance.png (uint16), meta.json``: a table plane receding in
depth, a grey wall above it, a bright 'glass' box (class 2) and a dark opaque box (class 3)
whose positions vary per frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def write_frame(folder: Path, index: int, size: tuple[int, int] = (96, 144)) -> None:
    h, w = size
    rng = np.random.default_rng(index)
    folder.mkdir(parents=True, exist_ok=True)
    rows = np.linspace(2.5, 0.8, h, dtype=np.float32)[:, None].repeat(w, 1)
    depth = rows.copy()
    semantic = np.ones((h, w), np.uint8)  # table
    instance = np.zeros((h, w), np.uint16)
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = (120, 100, 80)
    horizon = h // 4
    semantic[:horizon] = 0  # background wall
    depth[:horizon] = 2.8
    rgb[:horizon] = (60, 70, 90)
    # a transparent box and an opaque box, positions vary per frame
    bh, bw = h // 3, w // 5
    y0 = int(rng.integers(horizon, h - bh))
    x0 = int(rng.integers(0, w // 2 - bw))
    semantic[y0 : y0 + bh, x0 : x0 + bw] = 2
    instance[y0 : y0 + bh, x0 : x0 + bw] = 1
    depth[y0 : y0 + bh, x0 : x0 + bw] = depth[y0 + bh - 1, x0] - 0.1
    rgb[y0 : y0 + bh, x0 : x0 + bw] = (210, 225, 230)
    y1 = int(rng.integers(horizon, h - bh))
    x1 = int(rng.integers(w // 2, w - bw))
    semantic[y1 : y1 + bh, x1 : x1 + bw] = 3
    instance[y1 : y1 + bh, x1 : x1 + bw] = 2
    depth[y1 : y1 + bh, x1 : x1 + bw] = depth[y1 + bh - 1, x1] - 0.15
    rgb[y1 : y1 + bh, x1 : x1 + bw] = (30, 40, 30)
    noise = rng.integers(-6, 7, rgb.shape)
    rgb = np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    sensor = depth.copy()
    sensor[semantic == 2] = 0.0  # the sensor misses the glass
    depth_mm = np.round(depth * 1000).astype(np.uint16)
    cv2.imwrite(str(folder / "rgb.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "depth_gt.png"), depth_mm)
    cv2.imwrite(str(folder / "depth_sensor.png"), np.round(sensor * 1000).astype(np.uint16))
    cv2.imwrite(str(folder / "semantic.png"), semantic)
    cv2.imwrite(str(folder / "instance.png"), instance)
    f = 0.9 * w
    meta = {
        "K": [[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]],
        "width": w,
        "height": h,
        "seed": index,
        "complete": True,
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def write_synthetic_fixture(root, splits: dict[str, int] = None, size: tuple[int, int] = (96, 144)) -> Path:
    """Write ``splits`` ({split: n_frames}, default train 4 / val 2) under ``root``; return root."""
    root = Path(root)
    splits = splits or {"train": 4, "val": 2}
    index = 0
    for split, n in splits.items():
        for i in range(n):
            write_frame(root / split / f"{i:06d}", index, size)
            index += 1
    return root
