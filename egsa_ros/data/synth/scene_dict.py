"""Turn a :class:`SceneSpec` into a loaded Mitsuba scene plus per-shape labels.

Needs a Mitsuba variant set first (see :mod:`egsa_ros.data.synth.variant`). The scene is
loaded with ``optimize=False`` so shapes sharing a material are not merged and every shape
keeps its id for the label masks.
"""

from __future__ import annotations

import numpy as np

from egsa_ros.data.synth import lathe
from egsa_ros.data.synth.camera import OPENCV_TO_MITSUBA
from egsa_ros.data.synth.lathe import revolve, to_mitsuba_mesh
from egsa_ros.data.synth.scene import SceneSpec
from egsa_ros.data.synth.textures import environment_map, noise_texture, table_texture

SEMANTIC_CLASSES = {0: "background", 1: "table", 2: "transparent", 3: "opaque"}
"""Values of semantic.png."""

LIFT_M = 0.001
"""Objects stand this far above the table top so their bases never coincide with it
(coincident surfaces break rays continued through a glass bottom)."""

MAX_PATH_DEPTH = 16
"""Path length limit; glass needs many bounces (entering and leaving two walls)."""


def _rgb(c) -> dict:
    return {"type": "rgb", "value": [float(x) for x in c]}


def _bsdf_dict(mat: dict) -> dict:
    kind = mat["type"]
    if kind in ("dielectric", "roughdielectric"):
        d = {"type": kind, "int_ior": mat["ior"], "ext_ior": 1.000277, "specular_transmittance": _rgb(mat["tint"])}
        if kind == "roughdielectric":
            d.update(distribution="ggx", alpha=mat["alpha"])
        return d
    if kind == "diffuse":
        return {"type": "diffuse", "reflectance": _rgb(mat["colour"])}
    if kind == "plastic":
        return {"type": "plastic", "diffuse_reflectance": _rgb(mat["colour"]), "int_ior": mat["ior"]}
    raise ValueError(f"unknown material type {kind!r}")


def _object_shape(mi, obj) -> object:
    """Mitsuba shape (dict or mi.Mesh) of one :class:`ObjectSpec`, placed on the table."""
    T = mi.ScalarTransform4f
    x, y = obj.position
    bsdf = _bsdf_dict(obj.material)
    if obj.shape == "sphere":
        r = obj.dims["radius"]
        return {"type": "sphere", "center": [x, y, r + LIFT_M], "radius": r, "bsdf": bsdf}
    place = T().translate([x, y, LIFT_M]) @ T().rotate([0, 0, 1], obj.yaw_deg)
    if obj.shape == "box":
        d = obj.dims
        return {
            "type": "cube",
            "bsdf": bsdf,
            "to_world": place @ T().translate([0, 0, d["hz"]]) @ T().scale([d["hx"], d["hy"], d["hz"]]),
        }
    profile = _rebuild_profile(obj)
    mesh = revolve(profile)
    v = mesh.vertices.astype(np.float64)
    c, s = np.cos(np.radians(obj.yaw_deg)), np.sin(np.radians(obj.yaw_deg))
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    mesh.vertices = (v @ rot.T + [x, y, LIFT_M]).astype(np.float32)
    mesh.normals = (mesh.normals.astype(np.float64) @ rot.T).astype(np.float32)
    return to_mitsuba_mesh(mesh, obj.name, mi.load_dict(bsdf))


def _rebuild_profile(obj) -> np.ndarray:
    """The lathe profile of ``obj`` from its stored dims (same code path as sampling)."""

    builders = {
        "tumbler": lathe.tumbler_profile,
        "wine_glass": lathe.wine_glass_profile,
        "bottle": lathe.bottle_profile,
        "flask": lathe.flask_profile,
        "bowl": lathe.bowl_profile,
        "cylinder": lathe.cylinder_profile,
    }
    return builders[obj.shape](**obj.dims)


def _rect(mi, centre, half_x, half_y, rotate=None) -> object:
    T = mi.ScalarTransform4f
    tf = T().translate(list(centre))
    if rotate is not None:
        tf = tf @ T().rotate(*rotate)
    return tf @ T().scale([half_x, half_y, 1.0])


def build_scene(spec: SceneSpec, spp: int = 32):
    """Load the Mitsuba scene of ``spec``.

    Returns:
        (scene, labels) where labels maps each shape id to (semantic class, instance id).
    """
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only to render

    cam = spec.camera
    labels: dict = {}
    d: dict = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": MAX_PATH_DEPTH},
        "sensor": perspective_sensor(mi, cam, spp, "gaussian"),
    }
    # Table: rectangle at z = 0 with a procedural bitmap.
    t = spec.table
    tex = table_texture(t["texture"], np.random.default_rng(t["texture_seed"]))
    # The bitmap holds linear values: "raw" stops Mitsuba from applying an sRGB curve.
    tex_dict = {
        "type": "bitmap",
        "bitmap": mi.Bitmap(tex),
        "raw": True,
        "to_uv": mi.ScalarTransform4f().scale([t["uv_repeat"], t["uv_repeat"], 1.0]),
    }
    table_bsdf = (
        {"type": "plastic", "diffuse_reflectance": tex_dict, "int_ior": 1.5}
        if t["glossy"]
        else {"type": "diffuse", "reflectance": tex_dict}
    )
    (x0, x1), (y0, y1) = t["x_range"], t["y_range"]
    d["table"] = {
        "type": "rectangle",
        "bsdf": table_bsdf,
        "to_world": _rect(mi, [(x0 + x1) / 2, (y0 + y1) / 2, 0.0], (x1 - x0) / 2, (y1 - y0) / 2),
    }
    labels["table"] = (1, 0)
    # Wall: vertical rectangle at y = wall.y facing -y (normal +z rotated by +90 deg about x -> -y).
    w = spec.wall
    wall_refl = _rgb(w["colour"])
    if w["textured"]:
        wt = noise_texture(np.random.default_rng(w["texture_seed"]), 128) * np.asarray(w["colour"], np.float32)
        wall_refl = {"type": "bitmap", "bitmap": mi.Bitmap(wt.astype(np.float32)), "raw": True}
    d["wall"] = {
        "type": "rectangle",
        "bsdf": {"type": "diffuse", "reflectance": wall_refl},
        "to_world": _rect(mi, [0.0, w["y"], 1.5], 4.0, 1.6, rotate=([1, 0, 0], 90.0)),
    }
    labels["wall"] = (0, 0)
    # Lighting: one environment emitter (Mitsuba allows one), optional area light.
    lt = spec.lighting
    if lt["env"] == "constant":
        d["env"] = {"type": "constant", "radiance": _rgb([lt["constant"] * 3.0] * 3)}
    else:
        env = environment_map(lt["env"], np.random.default_rng(lt["env_seed"])) + lt["constant"]
        # Mitsuba's envmap has +y up; rotate it so +z is up, then spin it about z.
        T = mi.ScalarTransform4f
        tf = T().rotate([0, 0, 1], lt["env_rotation_deg"]) @ T().rotate([1, 0, 0], 90.0)
        d["env"] = {
            "type": "envmap",
            "bitmap": mi.Bitmap(env.astype(np.float32)),
            "scale": lt["env_scale"],
            "to_world": tf,
        }
    if lt["area_light"] is not None:
        a = lt["area_light"]
        d["area_light"] = {
            "type": "rectangle",
            "flip_normals": True,
            "to_world": _rect(mi, a["centre"], a["size"] / 2, a["size"] / 2),
            "emitter": {"type": "area", "radiance": _rgb([a["radiance"]] * 3)},
        }
        labels["area_light"] = (0, 0)
    for obj in spec.objects:
        d[obj.name] = _object_shape(mi, obj)
        labels[obj.name] = (2 if obj.category == "transparent" else 3, obj.instance_id)
    return mi.load_dict(d, optimize=False), labels


def perspective_sensor(mi, cam, spp: int, rfilter: str) -> dict:
    """Mitsuba perspective sensor dict of a sampled camera (OpenCV pose ``cam.c2w``, horizontal FOV
    ``cam.hfov_deg``, ``cam.width`` x ``cam.height`` pixels, ``spp`` samples, reconstruction filter
    ``rfilter``: ``gaussian`` or ``box``)."""
    return {
        "type": "perspective",
        "fov": cam.hfov_deg,
        "fov_axis": "x",
        "near_clip": 0.01,
        "far_clip": 100.0,
        "to_world": mi.ScalarTransform4f((np.asarray(cam.c2w) @ OPENCV_TO_MITSUBA).tolist()),
        "sampler": {"type": "independent", "sample_count": int(spp)},
        "film": {
            "type": "hdrfilm",
            "width": cam.width,
            "height": cam.height,
            "pixel_format": "rgb",
            "rfilter": {"type": rfilter},
        },
    }
