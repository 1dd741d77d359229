"""Render one frame to disk: RGB, depths, masks and ``meta.json`` (written last).

Layout of ``<frame_dir>`` (read by the dataset loader):
- ``rgb.png``: uint8 sRGB, 3 channels;
- ``depth_gt.png``: uint16 millimetres, z of the first hit (glass included), 0 = no hit;
- ``depth_sensor.png``: uint16 millimetres, simulated RGB-D sensor depth, 0 = no reading;
- ``semantic.png``: uint8, 0 background/wall, 1 table, 2 transparent, 3 opaque distractor;
- ``instance.png``: uint16, object ``instance_id`` (see meta), 0 = none;
- ``meta.json``: K, size, seed, index, spp, variant, objects, camera pose (camera-to-world,
  OpenCV axes x right, y down, z forward; world z up, metres), sensor parameters.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from egsa_ros.data.synth.raycast import GLASS_CLASS, cast_labels
from egsa_ros.data.synth.scene import SceneSpec
from egsa_ros.data.synth.scene_dict import SEMANTIC_CLASSES, build_scene
from egsa_ros.data.synth.sensor_model import sample_sensor_params, simulate_sensor_depth

FRAME_FILES = ("rgb.png", "depth_gt.png", "depth_sensor.png", "semantic.png", "instance.png", "meta.json")
META_VERSION = 1


def frame_id(index: int) -> str:
    """Directory name of frame ``index``: 6-digit zero-padded."""
    return f"{int(index):06d}"


def frame_complete(frame_dir: Path) -> bool:
    """True if every output exists and ``meta.json`` parses and says complete."""
    frame_dir = Path(frame_dir)
    if not all((frame_dir / f).is_file() for f in FRAME_FILES):
        return False
    try:
        return bool(json.loads((frame_dir / "meta.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def linear_to_srgb8(img: np.ndarray) -> np.ndarray:
    """Linear RGB float (H, W, 3) -> uint8 sRGB (clipped)."""
    x = np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def metres_to_mm16(depth: np.ndarray) -> np.ndarray:
    """Metres (0 = missing) -> uint16 millimetres, clipped to 65535."""
    return np.clip(np.round(np.asarray(depth, np.float64) * 1000.0), 0, 65535).astype(np.uint16)


def _write_png(path: Path, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def render_frame(spec: SceneSpec, frame_dir: Path, *, spp: int = 32, split: str = "train") -> dict:
    """Render ``spec`` with the current Mitsuba variant and write the frame files.

    Returns:
        The metadata dict written to ``meta.json`` (also holds ``render_seconds``).
    """
    import mitsuba as mi

    t0 = time.perf_counter()
    frame_dir = Path(frame_dir)
    frame_dir.mkdir(parents=True, exist_ok=True)
    cam = spec.camera
    c2w = np.asarray(cam.c2w)
    scene, labels = build_scene(spec, spp)
    px = cast_labels(scene, labels, cam.width, cam.height, c2w)
    render_seed = int(np.random.default_rng([spec.seed, spec.index, 2]).integers(2**31))
    rgb = linear_to_srgb8(np.array(mi.render(scene, spp=int(spp), seed=render_seed))[..., :3])

    # Sensor model draws from its own stream so scene sampling changes don't shift it.
    sensor_rng = np.random.default_rng([spec.seed, spec.index, 1])
    params = sample_sensor_params(sensor_rng)
    glass = px.semantic == GLASS_CLASS
    sensor = simulate_sensor_depth(px.depth_behind_glass, glass, params, sensor_rng)

    _write_png(frame_dir / "rgb.png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    _write_png(frame_dir / "depth_gt.png", metres_to_mm16(px.depth_gt))
    _write_png(frame_dir / "depth_sensor.png", metres_to_mm16(sensor))
    _write_png(frame_dir / "semantic.png", px.semantic)
    _write_png(frame_dir / "instance.png", px.instance)

    objects = []
    for o in spec.objects:
        entry = {"instance_id": o.instance_id, "name": o.name, "category": o.category, "shape": o.shape,
                 "position_m": [o.position[0], o.position[1], 0.0], "yaw_deg": o.yaw_deg,
                 "height_m": o.height, "footprint_radius_m": o.footprint_radius, "dims_m": o.dims,
                 "material": o.material["type"], "pixels": int((px.instance == o.instance_id).sum())}
        if o.category == "transparent":
            entry.update(ior=o.material["ior"], tint=o.material["tint"], roughness=o.material.get("alpha", 0.0))
        else:
            entry.update(colour=o.material["colour"])
        objects.append(entry)
    meta = {
        "version": META_VERSION, "split": split, "frame_id": frame_id(spec.index),
        "seed": spec.seed, "frame_index": spec.index, "width": cam.width, "height": cam.height,
        "K": cam.K.tolist(), "hfov_deg": cam.hfov_deg, "camera_to_world": c2w.tolist(),
        "camera_convention": "opencv (x right, y down, z forward); world z up, metres",
        "pitch_down_deg": cam.pitch_deg, "look_at_distance_m": cam.distance_m,
        "depth_unit": "mm (uint16), 0 = no hit / no reading; z along the optical axis",
        "semantic_classes": {str(k): v for k, v in SEMANTIC_CLASSES.items()},
        "spp": int(spp), "variant": mi.variant(), "mitsuba_version": mi.__version__,
        "render_seed": render_seed, "objects": objects, "table": spec.table, "wall": spec.wall,
        "lighting": spec.lighting, "sensor": params.to_dict(), "scene_profile": spec.profile,
        "render_seconds": round(time.perf_counter() - t0, 3), "complete": True,
    }
    write_json_atomic(frame_dir / "meta.json", meta)
    return meta
