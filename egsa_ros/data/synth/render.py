"""Render one frame to disk: RGB, depths, masks and ``meta.json`` (written last).

Layout of ``<frame_dir>`` (read by the dataset loader):
- ``rgb.png``: uint8 sRGB, 3 channels;
- ``depth_gt.png``: uint16 millimetres, z of the first hit (glass included), 0 = no hit;
- ``depth_sensor.png``: uint16 millimetres, simulated RGB-D sensor depth, 0 = no reading;
- ``semantic.png``: uint8, 0 background/wall, 1 table, 2 transparent, 3 opaque distractor;
- ``instance.png``: uint16, object ``instance_id`` (see meta), 0 = none;
- ``meta.json``: K, size, seed, index, spp, variant, objects, camera pose (camera-to-world,
  OpenCV axes x right, y down, z forward; world z up, metres), sensor parameters.

v2 frames (``egsa-synth --generator v2``) also record the generator, split family, room,
camera draws and exposure in meta.json; semantic 2 covers the glass, the liquid inside it and
printed labels on it; the linear render loses its fireflies (:func:`remove_fireflies`) and is
scaled to a drawn median brightness (:func:`auto_exposure`) before the sRGB encoding.
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
from egsa_ros.data.synth.scene_dict_v2 import build_scene_v2
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


FIREFLY_RATIO = 2.0
"""A pixel brighter than this many times its brightest neighbour (plus 0.05) is a firefly."""


def remove_fireflies(linear: np.ndarray, ratio: float = FIREFLY_RATIO) -> tuple[np.ndarray, int]:
    """Replace isolated over-bright pixels of a linear (H, W, 3) render by their neighbours' mean.

    A firefly (a rare, very bright path sample) is one pixel far brighter than all 8 neighbours;
    lines and edges of highlights have bright neighbours and are kept. Returns (image, count).
    """
    img = np.nan_to_num(np.asarray(linear, np.float32), nan=0.0, posinf=0.0)
    ring = np.ones((3, 3), np.uint8)
    ring[1, 1] = 0
    count = 0
    for _ in range(2):  # a second pass finds pairs whose partner the first pass removed
        lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        brightest_neighbour = cv2.dilate(lum, ring, borderType=cv2.BORDER_REFLECT)
        fire = lum > ratio * brightest_neighbour + 0.05
        if not fire.any():
            break
        mean8 = (cv2.blur(img, (3, 3), borderType=cv2.BORDER_REFLECT) * 9.0 - img) / 8.0
        img = np.where(fire[..., None], mean8, img)
        count += int(fire.sum())
    return img, count


def auto_exposure(linear: np.ndarray, exposure: dict) -> tuple[np.ndarray, float]:
    """Scale a linear (H, W, 3) image so its median luminance is ``exposure["target_median"]``.

    The gain is clipped to [``min_gain``, ``max_gain``]; returns (scaled image, gain).
    """
    lum = linear @ np.array([0.2126, 0.7152, 0.0722])
    median = float(np.median(np.nan_to_num(lum, nan=0.0)))
    gain = exposure["target_median"] / max(median, 1e-6)
    gain = float(np.clip(gain, exposure["min_gain"], exposure["max_gain"]))
    return linear * gain, gain


def render_frame(spec: SceneSpec, frame_dir: Path, *, spp: int = 32, split: str = "train") -> dict:
    """Render ``spec`` with the current Mitsuba variant and write the frame files.

    Returns:
        The metadata dict written to ``meta.json`` (also holds ``render_seconds``).
    """
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only to render, after its variant is chosen

    t0 = time.perf_counter()
    frame_dir = Path(frame_dir)
    frame_dir.mkdir(parents=True, exist_ok=True)
    cam = spec.camera
    c2w = np.asarray(cam.c2w)
    v2 = hasattr(spec, "extra_meta")
    scene, labels = build_scene_v2(spec, spp) if v2 else build_scene(spec, spp)
    px = cast_labels(scene, labels, cam.width, cam.height, c2w)
    render_seed = int(np.random.default_rng([spec.seed, spec.index, 2]).integers(2**31))
    linear = np.array(mi.render(scene, spp=int(spp), seed=render_seed))[..., :3]
    exposure_gain = fireflies = None
    if v2:
        linear, fireflies = remove_fireflies(linear)
        linear, exposure_gain = auto_exposure(linear, spec.exposure)
    rgb = linear_to_srgb8(linear)

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
        entry = {
            "instance_id": o.instance_id,
            "name": o.name,
            "category": o.category,
            "shape": o.shape,
            "position_m": [o.position[0], o.position[1], 0.0],
            "yaw_deg": o.yaw_deg,
            "height_m": o.height,
            "footprint_radius_m": o.footprint_radius,
            "dims_m": o.dims,
            "material": o.material["type"],
            "pixels": int((px.instance == o.instance_id).sum()),
        }
        if o.category == "transparent":
            entry.update(ior=o.material["ior"], tint=o.material["tint"], roughness=o.material.get("alpha", 0.0))
        elif "colour" in o.material:
            entry.update(colour=o.material["colour"])
        if v2:
            entry.update(
                family=o.shape,
                role=o.role,
                base_z_m=o.base_z,
                liquid=o.liquid,
                label=o.label,
                material_params=o.material,
            )
        objects.append(entry)
    meta = {
        "version": META_VERSION,
        "split": split,
        "frame_id": frame_id(spec.index),
        "seed": spec.seed,
        "frame_index": spec.index,
        "width": cam.width,
        "height": cam.height,
        "K": cam.K.tolist(),
        "hfov_deg": cam.hfov_deg,
        "camera_to_world": c2w.tolist(),
        "camera_convention": "opencv (x right, y down, z forward); world z up, metres",
        "pitch_down_deg": cam.pitch_deg,
        "look_at_distance_m": cam.distance_m,
        "depth_unit": "mm (uint16), 0 = no hit / no reading; z along the optical axis",
        "semantic_classes": {str(k): v for k, v in SEMANTIC_CLASSES.items()},
        "spp": int(spp),
        "variant": mi.variant(),
        "mitsuba_version": mi.__version__,
        "render_seed": render_seed,
        "objects": objects,
        "table": spec.table,
        "wall": spec.wall,
        "lighting": spec.lighting,
        "sensor": params.to_dict(),
        "scene_profile": spec.profile,
        "render_seconds": round(time.perf_counter() - t0, 3),
        "complete": True,
    }
    if v2:
        meta.update(spec.extra_meta())
        meta["exposure"] = {**spec.exposure, "gain": exposure_gain}
        meta["fireflies_removed"] = fireflies
        meta["semantic_classes"]["2"] = "transparent (glass and the liquids inside it)"
    write_json_atomic(frame_dir / "meta.json", meta)
    return meta
