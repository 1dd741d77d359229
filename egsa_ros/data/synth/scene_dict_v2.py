"""Turn a :class:`~egsa_ros.data.synth.scene_v2.SceneSpecV2` into a loaded Mitsuba scene plus labels.

Labels (shape id -> (semantic, instance)): the table is 1; glass bodies, the liquids inside
them and printed labels on them are 2 with their vessel's instance id; look-alikes and opaque lids are 3 with their own
instance id; walls, floor, shelves, clutter, window exteriors and lights are 0 (background).
Loaded with ``optimize=False`` (see :mod:`egsa_ros.data.synth.scene_dict`).
"""

from __future__ import annotations

import cv2
import numpy as np

from egsa_ros.data.synth.lathe import cylinder_profile, revolve, to_mitsuba_mesh
from egsa_ros.data.synth.meshes_v2 import transform
from egsa_ros.data.synth.scene_dict import LIFT_M, _bsdf_dict, _rgb, perspective_sensor
from egsa_ros.data.synth.scene_v2 import SceneSpecV2
from egsa_ros.data.synth.shapes_v2 import build_shape, label_mesh
from egsa_ros.data.synth.textures import environment_map
from egsa_ros.data.synth.textures_v2 import kelvin_to_rgb, photo_texture, table_bitmap, window_exterior

MAX_PATH_DEPTH_V2 = 20
"""Path length limit (glass walls plus a liquid body need more bounces than v1's 16)."""
ENV_BLUR_TEXELS = 2.5
"""Gaussian blur of the environment map (v1's maps), texels of the 256-wide map."""
WALL_TOP_M = 3.0
"""Walls reach this far above the floor, metres."""


def bsdf_v2(mat: dict) -> dict:
    """Mitsuba BSDF dict of a v2 material (v1 types plus roughplastic, conductor, roughconductor)."""
    kind = mat["type"]
    if kind == "roughplastic":
        return {
            "type": "roughplastic",
            "distribution": "ggx",
            "alpha": mat["alpha"],
            "diffuse_reflectance": _rgb(mat["colour"]),
        }
    if kind == "conductor":
        return {"type": "conductor", "material": mat["metal"]}
    if kind == "roughconductor":
        return {"type": "roughconductor", "material": mat["metal"], "distribution": "ggx", "alpha": mat["alpha"]}
    return _bsdf_dict(mat)


def _frame(mi, centre, axis_u, axis_v, half_u: float, half_v: float):
    """to_world of a Mitsuba rectangle spanning ``axis_u`` x ``axis_v`` (unit, u x v = its normal)."""
    m = np.eye(4)
    m[:3, 0] = np.asarray(axis_u, np.float64) * half_u
    m[:3, 1] = np.asarray(axis_v, np.float64) * half_v
    m[:3, 2] = np.cross(axis_u, axis_v)
    m[:3, 3] = centre
    return mi.ScalarTransform4f(m.tolist())


def _bitmap(mi, img: np.ndarray, repeat: float = 1.0) -> dict:
    return {
        "type": "bitmap",
        "bitmap": mi.Bitmap(np.ascontiguousarray(img, np.float32)),
        "raw": True,
        "to_uv": mi.ScalarTransform4f().scale([repeat, repeat, 1.0]),
    }


def _wall(
    mi, d: dict, labels: dict, name: str, origin, axis_u, u_range, v_range, bsdf: dict, hole: tuple | None
) -> None:
    """A vertical wall (v = +z) from rectangles, with an optional rectangular ``hole`` (u0, u1, v0, v1)."""
    axis_u = np.asarray(axis_u, np.float64)
    up = np.array([0.0, 0.0, 1.0])
    origin = np.asarray(origin, np.float64)
    (u0, u1), (v0, v1) = u_range, v_range
    pieces = [(u0, u1, v0, v1)]
    if hole is not None:
        hu0, hu1, hv0, hv1 = hole
        pieces = [(u0, hu0, v0, v1), (hu1, u1, v0, v1), (hu0, hu1, v0, hv0), (hu0, hu1, hv1, v1)]
    for k, (a0, a1, b0, b1) in enumerate(pieces):
        if a1 - a0 < 1e-3 or b1 - b0 < 1e-3:
            continue
        centre = origin + axis_u * (a0 + a1) / 2 + up * (b0 + b1) / 2
        d[f"{name}_{k}"] = {
            "type": "rectangle",
            "bsdf": bsdf,
            "to_world": _frame(mi, centre, axis_u, up, (a1 - a0) / 2, (b1 - b0) / 2),
        }
        labels[f"{name}_{k}"] = (0, 0)


def _room(mi, spec: SceneSpecV2, d: dict, labels: dict) -> None:
    room = spec.room
    rng = np.random.default_rng(room["wall_seed"])
    colour = np.asarray(room["wall_colour"], np.float32)
    if room["wall_texture"] == "noise":
        wall_refl = _bitmap(mi, table_bitmap("noise", rng, 128) * 0.5 + 0.5 * colour)
    else:
        wall_refl = _rgb(colour)
    wall_bsdf = {"type": "diffuse", "reflectance": wall_refl}
    floor_z = room["floor_z"]
    frng = np.random.default_rng(room["floor_seed"])
    floor_kind = {"tiles_plain": "tiles"}.get(room["floor_texture"], room["floor_texture"])
    d["floor"] = {
        "type": "rectangle",
        "to_world": _frame(mi, [0.0, 0.0, floor_z], [1, 0, 0], [0, 1, 0], 6.0, 6.0),
        "bsdf": {"type": "diffuse", "reflectance": _bitmap(mi, table_bitmap(floor_kind, frng, 128), 12.0)},
    }
    labels["floor"] = (0, 0)
    if room["kind"] == "open":
        return
    window = room["window"]
    wy = room["wall_y"]
    v_range = (floor_z, floor_z + WALL_TOP_M)
    side = room["side_wall_x"]
    back_hole = None
    if window is not None and side is None:
        back_hole = (
            window["centre_u"] - window["half_w"],
            window["centre_u"] + window["half_w"],
            window["centre_z"] - window["half_h"],
            window["centre_z"] + window["half_h"],
        )
    # Back wall at y = wall_y facing -y: u = +x, v = +z, u x v = -y.
    x_lo, x_hi = (-6.0, 6.0) if side is None else ((side, 6.0) if side < 0 else (-6.0, side))
    _wall(mi, d, labels, "wall", [0.0, wy, 0.0], [1, 0, 0], (x_lo, x_hi), v_range, wall_bsdf, back_hole)
    if back_hole is not None:
        _window_light(
            mi, d, labels, window, centre=[window["centre_u"], wy + 0.4, window["centre_z"]], axis_u=[1, 0, 0]
        )
    if side is not None:
        # Side wall at x = side facing the table: u = -y (x > 0) or +y (x < 0), so u x z points inwards.
        axis_u = [0.0, -1.0, 0.0] if side > 0 else [0.0, 1.0, 0.0]
        sign = -1.0 if side > 0 else 1.0  # u coordinate of world y
        hole = None
        if window is not None:
            cu = sign * (0.5 * wy + window["centre_u"] * 0.3)
            hole = (
                cu - window["half_w"],
                cu + window["half_w"],
                window["centre_z"] - window["half_h"],
                window["centre_z"] + window["half_h"],
            )
        # u spans world y from -6 to wall_y.
        u_a, u_b = sorted((sign * -6.0, sign * wy))
        _wall(mi, d, labels, "side_wall", [side, 0.0, 0.0], axis_u, (u_a, u_b), v_range, wall_bsdf, hole)
        if hole is not None:
            cu = 0.5 * (hole[0] + hole[1])
            outside = side + (0.4 if side > 0 else -0.4)
            _window_light(mi, d, labels, window, centre=[outside, sign * cu, window["centre_z"]], axis_u=axis_u)
    for k, shelf in enumerate(room["shelves"]):
        _shelf(mi, d, labels, k, shelf, wy)
    poster = room.get("poster")
    if poster is not None:
        img = photo_texture(np.random.default_rng(poster["seed"]), 128, poster["photo"])
        half_h = poster["half_w"] * poster["aspect"]
        d["poster"] = {
            "type": "rectangle",
            "bsdf": {"type": "diffuse", "reflectance": _bitmap(mi, img)},
            "to_world": _frame(
                mi, [poster["u"], wy - 0.003, poster["z"]], [1, 0, 0], [0, 0, 1], poster["half_w"], half_h
            ),
        }
        labels["poster"] = (0, 0)


def _window_light(mi, d: dict, labels: dict, window: dict, centre, axis_u) -> None:
    """An emitting rectangle behind a window hole showing a sky/skyline or a training photo."""
    img = window_exterior(np.random.default_rng(window["seed"]), window["photo"]) * window["radiance"]
    d["window_exterior"] = {
        "type": "rectangle",
        "bsdf": {"type": "diffuse", "reflectance": _rgb([0.0, 0.0, 0.0])},
        "to_world": _frame(mi, centre, axis_u, [0, 0, 1], window["half_w"] * 2.0, window["half_h"] * 2.0),
        "emitter": {
            "type": "area",
            "radiance": {"type": "bitmap", "bitmap": mi.Bitmap(img.astype(np.float32)), "raw": True},
        },
    }
    labels["window_exterior"] = (0, 0)


def _shelf(mi, d: dict, labels: dict, k: int, shelf: dict, wall_y: float) -> None:
    """A shelf board against the back wall with opaque clutter on it (all background)."""
    T = mi.ScalarTransform4f
    y = wall_y - shelf["depth"] / 2 - 0.002
    thick = 0.012
    d[f"shelf_{k}"] = {
        "type": "cube",
        "bsdf": {"type": "diffuse", "reflectance": _rgb(shelf["colour"])},
        "to_world": T().translate([shelf["u"], y, shelf["z"]])
        @ T().scale([shelf["half_w"], shelf["depth"] / 2, thick]),
    }
    labels[f"shelf_{k}"] = (0, 0)
    top = shelf["z"] + thick
    for j, c in enumerate(shelf["clutter"]):
        x = shelf["u"] + c["u"] * (shelf["half_w"] - c["size"])
        s = c["size"] / 2
        bsdf = (
            {"type": "plastic", "diffuse_reflectance": _rgb(c["colour"])}
            if c["glossy"]
            else {"type": "diffuse", "reflectance": _rgb(c["colour"])}
        )
        name = f"shelf_{k}_item_{j}"
        if c["kind"] == "sphere":
            d[name] = {"type": "sphere", "center": [x, y, top + s + 0.001], "radius": s, "bsdf": bsdf}
        elif c["kind"] == "box":
            d[name] = {
                "type": "cube",
                "bsdf": bsdf,
                "to_world": T().translate([x, y, top + 1.6 * s + 0.001]) @ T().scale([s, s * 0.8, 1.6 * s]),
            }
        else:
            mesh = transform(revolve(cylinder_profile(s * 0.7, 2.5 * s)), 0.0, [x, y, top + 0.001])
            d[name] = to_mitsuba_mesh(mesh, name, mi.load_dict(bsdf))
        labels[name] = (0, 0)


def _table(mi, spec: SceneSpecV2, d: dict, labels: dict) -> None:
    t = spec.table
    img = table_bitmap(t["texture"], np.random.default_rng(t["texture_seed"]), photo=t.get("photo"))
    tex = _bitmap(mi, img, t["uv_repeat"])
    if t["texture"] == "metal":
        bsdf = {
            "type": "roughconductor",
            "material": "Al",
            "distribution": "ggx",
            "alpha": t["roughness"],
            "specular_reflectance": tex,
        }
    elif t["glossy"]:
        bsdf = {"type": "plastic", "diffuse_reflectance": tex, "int_ior": 1.5}
    else:
        bsdf = {"type": "diffuse", "reflectance": tex}
    (x0, x1), (y0, y1) = t["x_range"], t["y_range"]
    d["table"] = {
        "type": "rectangle",
        "bsdf": bsdf,
        "to_world": _frame(mi, [(x0 + x1) / 2, (y0 + y1) / 2, 0.0], [1, 0, 0], [0, 1, 0], (x1 - x0) / 2, (y1 - y0) / 2),
    }
    labels["table"] = (1, 0)


def _lights(mi, spec: SceneSpecV2, d: dict, labels: dict) -> None:
    lt = spec.lighting
    T = mi.ScalarTransform4f
    if lt["env"] == "constant":
        d["env"] = {"type": "constant", "radiance": _rgb([lt["constant"] * 3.0 * lt["env_scale"]] * 3)}
    else:
        env = environment_map(lt["env"], np.random.default_rng(lt["env_seed"])) + lt["constant"]
        # Spread the sun and softbox edges over a few texels: a tiny, very bright sun seen through
        # glass makes fireflies at any practical sample count.
        pad = int(np.ceil(3 * ENV_BLUR_TEXELS))
        wrapped = np.pad(env, ((0, 0), (pad, pad), (0, 0)), mode="wrap")  # azimuth wraps around
        env = cv2.GaussianBlur(wrapped, (0, 0), ENV_BLUR_TEXELS, borderType=cv2.BORDER_REFLECT)[:, pad:-pad]
        tf = T().rotate([0, 0, 1], lt["env_rotation_deg"]) @ T().rotate([1, 0, 0], 90.0)
        d["env"] = {
            "type": "envmap",
            "bitmap": mi.Bitmap(env.astype(np.float32)),
            "scale": lt["env_scale"],
            "to_world": tf,
        }

    def spot(name, pos, target, intensity, cutoff, rgb):
        up = [0, 0, 1] if np.linalg.norm(np.cross(np.subtract(target, pos), [0, 0, 1])) > 1e-3 else [0, 1, 0]
        d[name] = {
            "type": "spot",
            "to_world": T().look_at(origin=pos, target=target, up=up),
            "intensity": _rgb(np.asarray(rgb) * intensity),
            "cutoff_angle": cutoff,
            "beam_width": 0.7 * cutoff,
        }

    for i, light in enumerate(lt["lights"]):
        rgb = kelvin_to_rgb(light["kelvin"])
        name = f"light_{i}"
        kind = light["kind"]
        if kind == "area":
            radiance = light["power"] / light["size"] ** 2
            d[name] = {
                "type": "rectangle",
                "flip_normals": True,
                "to_world": _frame(mi, light["centre"], [1, 0, 0], [0, 1, 0], light["size"] / 2, light["size"] / 2),
                "emitter": {"type": "area", "radiance": _rgb(np.asarray(rgb) * radiance)},
            }
            labels[name] = (0, 0)
        elif kind == "spot":
            spot(name, light["position"], light["target"], light["intensity"], light["cutoff_deg"], rgb)
        elif kind == "point":
            d[name] = {
                "type": "point",
                "position": light["position"],
                "intensity": _rgb(np.asarray(rgb) * light["intensity"]),
            }
        elif kind == "window_sun":
            el, az = np.radians(light["elevation_deg"]), np.radians(light["azimuth_deg"])
            towards_sun = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            d[name] = {
                "type": "directional",
                "direction": (-towards_sun).tolist(),
                "irradiance": _rgb(np.asarray(rgb) * light["irradiance"]),
            }
        elif kind == "warm_spots":
            for j, s in enumerate(light["spots"]):
                spot(
                    f"{name}_{j}",
                    s["position"],
                    s["target"],
                    s["intensity"] * s["position"][2] ** 2,
                    s["cutoff_deg"],
                    rgb,
                )


def _objects(mi, spec: SceneSpecV2, d: dict, labels: dict) -> None:
    T = mi.ScalarTransform4f
    for obj in spec.objects:
        sem = 2 if obj.category == "transparent" else 3
        bsdf = bsdf_v2(obj.material)
        x, y = obj.position
        z = LIFT_M + obj.base_z
        labels[obj.name] = (sem, obj.instance_id)
        if obj.shape == "sphere":
            r = obj.dims["radius"]
            d[obj.name] = {"type": "sphere", "center": [x, y, z + r], "radius": r, "bsdf": bsdf}
            continue
        if obj.shape == "block":
            dm = obj.dims
            d[obj.name] = {
                "type": "cube",
                "bsdf": bsdf,
                "to_world": T().translate([x, y, z + dm["hz"]])
                @ T().rotate([0, 0, 1], obj.yaw_deg)
                @ T().scale([dm["hx"], dm["hy"], dm["hz"]]),
            }
            continue
        liquid = obj.liquid
        built = build_shape(obj.shape, obj.dims, fill=liquid["fill"] if liquid else None)
        d[obj.name] = to_mitsuba_mesh(transform(built.mesh, obj.yaw_deg, [x, y, z]), obj.name, mi.load_dict(bsdf))
        if built.liquid is not None:
            name = f"{obj.name}_liquid"
            d[name] = to_mitsuba_mesh(
                transform(built.liquid, obj.yaw_deg, [x, y, z]), name, mi.load_dict(bsdf_v2(liquid["material"]))
            )
            labels[name] = (2, obj.instance_id)
        band = label_mesh(obj.shape, obj.dims, obj.label) if obj.label else None
        if band is not None:  # printed paper on the glass: part of the glass object in the masks
            name = f"{obj.name}_label"
            paper = {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": _rgb(obj.label["colour"])}}
            d[name] = to_mitsuba_mesh(transform(band, obj.yaw_deg, [x, y, z]), name, mi.load_dict(paper))
            labels[name] = (sem, obj.instance_id)


def build_scene_v2(spec: SceneSpecV2, spp: int = 32):
    """Load the Mitsuba scene of a v2 ``spec``; returns (scene, labels) like :func:`scene_dict.build_scene`."""
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only to render

    cam = spec.camera
    labels: dict = {}
    d: dict = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": MAX_PATH_DEPTH_V2},
        # Box filter: each sample lands in one pixel, so the rare firefly stays a single pixel
        # that render.remove_fireflies can find.
        "sensor": perspective_sensor(mi, cam, spp, "box"),
    }
    _table(mi, spec, d, labels)
    _room(mi, spec, d, labels)
    _lights(mi, spec, d, labels)
    _objects(mi, spec, d, labels)
    return mi.load_dict(d, optimize=False), labels
