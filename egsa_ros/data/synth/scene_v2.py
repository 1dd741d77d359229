"""``egsa-synth --generator v2``: diverse glassware scenes sampled as plain data.

Compared with the v1 sampler (:mod:`egsa_ros.data.synth.scene`, unchanged and still the
default), a v2 frame draws:

- 0-5 glass objects from 18 families (:data:`~egsa_ros.data.synth.families.GLASS_TRAIN`), some
  partly filled with water or a tinted liquid (a second dielectric body inside the cavity,
  labelled transparent with its vessel's instance id), jars sometimes with a lid;
- 2-5 opaque look-alikes (ceramic mugs, cups and bowls, plastic bottles, cans, metal cups,
  mirror spheres, glossy blocks, white vases, glass shapes in opaque materials);
- a room (open, back wall, wall with a window, wall with shelves and clutter), a floor, an
  area / spot / point / sun light with a colour temperature, and an environment map;
- a table material (wood, checker, stone, cloth, metal, glossy, stripes, dots, photo);
- a camera with a horizontal FOV of 40-90 deg, 0.3-1.2 m above the table, pitch 15-80 deg,
  roll +-10 deg; and an exposure target (the rendered image is scaled to it).

``split_family="ood"`` draws glass, table, room and light only from the held-out sets of
:mod:`egsa_ros.data.synth.families`; ``"train_tables"`` is ``"train"`` with other table materials,
``"train_lights"`` is ``"train"`` lit by 2-3 hard lights; the diagnostic families ``"ood_glass"``,
``"ood_tables"``, ``"ood_room"``, ``"ood_corner"``, ``"ood_warm"`` and ``"ood_spots"`` draw one of
``"ood"``'s held-out factors each (:data:`~egsa_ros.data.synth.families.HELD_OUT_FACTORS`).
A frame depends only on (seed, index, size, split family).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from egsa_ros.data.photos import photos_in
from egsa_ros.data.synth.camera import look_at, project
from egsa_ros.data.synth.families import HELDOUT_LIGHTS, LOOKALIKES, TRAINING_FAMILIES, choices
from egsa_ros.data.synth.scene import CameraSpec, ObjectSpec, SceneSpec, _pack, _tint
from egsa_ros.data.synth.shapes_v2 import FILLABLE, LABELLED, sample_dims, shape_extent
from egsa_ros.data.synth.textures import ENV_KINDS

GENERATOR = "v2"
HFOV_RANGE_DEG = (40.0, 90.0)
PITCH_RANGE_DEG = (15.0, 80.0)
CAMERA_HEIGHT_RANGE_M = (0.3, 1.2)
ROLL_RANGE_DEG = (-10.0, 10.0)
VIEW_DISTANCE_M = (0.3, 1.6)
"""Camera-to-target distance limits, metres (with the height and pitch they fix the pose)."""
NO_GLASS_SHARE = 0.06
"""Share of ``train`` frames with no glass at all (negatives)."""
FILL_SHARE = 0.35
LABEL_SHARE = 0.2
"""Share of labellable glass (:data:`~egsa_ros.data.synth.shapes_v2.LABELLED`) with a printed label."""
LIQUIDS = {
    "water": [1.0, 1.0, 1.0],
    "amber": [1.0, 0.7, 0.3],
    "wine": [0.75, 0.15, 0.2],
    "green": [0.5, 0.9, 0.5],
    "blue": [0.5, 0.7, 1.0],
    "cola": [0.45, 0.25, 0.12],
}
LOOKALIKE_FAMILY = {
    "ceramic_mug": "mug",
    "ceramic_cup": "tumbler",
    "ceramic_bowl": "bowl",
    "plastic_bottle": "bottle",
    "can": "can",
    "metal_cup": "tumbler",
    "mirror_sphere": "sphere",
    "glossy_block": "block",
    "white_vase": "vase",
    "cylinder": "cylinder",
}
LOOKALIKE_MATERIAL = {
    "ceramic_mug": "ceramic",
    "ceramic_cup": "ceramic",
    "ceramic_bowl": "ceramic",
    "plastic_bottle": "plastic",
    "can": "metal",
    "metal_cup": "metal",
    "mirror_sphere": "mirror",
    "glossy_block": "plastic",
    "white_vase": "white_glossy",
    "cylinder": "plastic",
}
METALS = ("Al", "Cr", "Cu", "Au", "Ag")
TRAIN_PHOTOS = tuple(p.name for p in photos_in("train", photo_set=1))
"""Packaged photos posters draw from (the fixed catalogue of photo set 1, installed or not: draws
never depend on it, nor on photos added to later sets)."""
SCENERY_PHOTOS = tuple(p.name for p in photos_in("train", photo_set=1) if p.scenery)
"""Packaged photos table textures and window views draw from."""
TABLE_PHOTOS_SET_2 = SCENERY_PHOTOS + tuple(p.name for p in photos_in("train", photo_set=2) if p.photo_set == 2)
"""Photos the tables of a split family with ``table_photo_set=2`` draw from (set 1's scenery and
every training photo of set 2: their patterns, not their content, are the point)."""


@dataclass
class ObjectSpecV2(ObjectSpec):
    """A v2 object: ``shape`` is its family; ``base_z`` lifts it (lids on jars), ``liquid`` is
    None or ``{"fill": 0-1, "kind": name, "material": {...}}``, ``label`` None or a printed paper
    band (heights as fractions, azimuths in radians, colour; it counts as part of the glass
    object in the masks), ``role`` says glass, look-alike (with its kind) or lid."""

    role: str = "glass"
    base_z: float = 0.0
    liquid: dict | None = None
    label: dict | None = None


@dataclass
class SceneSpecV2(SceneSpec):
    """A v2 frame: the v1 fields plus the room, camera draws, exposure and split family."""

    generator: str = GENERATOR
    split_family: str = "train"
    room: dict = field(default_factory=dict)
    exposure: dict = field(default_factory=dict)
    camera_draw: dict = field(default_factory=dict)

    def extra_meta(self) -> dict:
        """Keys meta.json gets on top of the v1 ones."""
        return {
            "generator": self.generator,
            "split_family": self.split_family,
            "room": self.room,
            "exposure": self.exposure,
            "camera_draw": self.camera_draw,
        }


def v2_profile(split_family: str, hfov_range: tuple[float, float] | None = None) -> dict:
    """The ``scene_profile`` meta.json records for a v2 frame of ``split_family`` (resume checks
    compare it); ``hfov_range`` only when it overrides :data:`HFOV_RANGE_DEG`."""
    profile = {"generator": GENERATOR, "split_family": split_family, **choices(split_family).to_dict()}
    if hfov_range is not None:
        profile["hfov_range_deg"] = [float(v) for v in hfov_range]
    return profile


def v2_rng(seed: int, index: int) -> np.random.Generator:
    """The v2 stream of frame ``index`` of run ``seed`` (independent of v1's)."""
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be >= 0")
    return np.random.default_rng([int(seed), int(index), 20])


def _glass_material(rng: np.random.Generator) -> dict:
    mat = {"type": "dielectric", "ior": float(rng.uniform(1.4, 1.6)), "tint": _tint(rng)}
    if rng.random() < 0.12:
        mat.update(type="roughdielectric", alpha=float(rng.uniform(0.02, 0.12)))
    return mat


def _opaque_material(rng: np.random.Generator, kind: str) -> dict:
    """Opaque BSDF parameters: ceramic, plastic, matte, metal, mirror or white_glossy."""
    if kind == "ceramic":
        white = rng.random() < 0.5
        colour = [float(c) for c in (rng.uniform(0.75, 0.95, 3) if white else rng.uniform(0.05, 0.85, 3))]
        if rng.random() < 0.6:
            return {"type": "plastic", "colour": colour, "ior": 1.5, "finish": "ceramic"}
        return {"type": "roughplastic", "colour": colour, "alpha": float(rng.uniform(0.05, 0.3)), "finish": "ceramic"}
    if kind == "plastic":
        colour = [float(c) for c in rng.uniform(0.03, 0.9, 3)]
        if rng.random() < 0.5:
            return {"type": "plastic", "colour": colour, "ior": 1.5, "finish": "plastic"}
        return {"type": "roughplastic", "colour": colour, "alpha": float(rng.uniform(0.1, 0.4)), "finish": "plastic"}
    if kind == "metal":
        if rng.random() < 0.3:  # painted can
            return {
                "type": "plastic",
                "colour": [float(c) for c in rng.uniform(0.05, 0.9, 3)],
                "ior": 1.5,
                "finish": "painted",
            }
        return {
            "type": "roughconductor",
            "metal": str(rng.choice(METALS)),
            "alpha": float(rng.uniform(0.03, 0.3)),
            "finish": "metal",
        }
    if kind == "mirror":
        return {"type": "conductor", "metal": str(rng.choice(("Al", "Ag", "Cr"))), "finish": "mirror"}
    if kind == "white_glossy":
        return {
            "type": "plastic",
            "colour": [float(c) for c in rng.uniform(0.82, 0.95, 3)],
            "ior": 1.5,
            "finish": "white_glossy",
        }
    if kind == "matte":
        return {"type": "diffuse", "colour": [float(c) for c in rng.uniform(0.03, 0.9, 3)], "finish": "matte"}
    raise ValueError(f"unknown opaque material kind {kind!r}")


def _liquid(rng: np.random.Generator) -> dict:
    kind = "water" if rng.random() < 0.5 else str(rng.choice(list(LIQUIDS)[1:]))
    strength = float(rng.uniform(0.4, 1.0))
    tint = [float(1.0 - strength * (1.0 - c)) for c in LIQUIDS[kind]]
    return {
        "fill": float(rng.uniform(0.15, 0.85)),
        "kind": kind,
        "material": {"type": "dielectric", "ior": float(rng.uniform(1.33, 1.36)), "tint": tint},
    }


def _camera(rng: np.random.Generator, width: int, height: int, hfov_range=None) -> tuple:
    hfov = float(rng.uniform(*(hfov_range or HFOV_RANGE_DEG)))  # one draw either way: the rest stays the same
    pitch = float(rng.uniform(*PITCH_RANGE_DEG))
    roll = float(rng.uniform(*ROLL_RANGE_DEG))
    look_h = float(rng.uniform(0.02, 0.1))
    s = np.sin(np.radians(pitch))
    lo = max(CAMERA_HEIGHT_RANGE_M[0], look_h + VIEW_DISTANCE_M[0] * s)
    hi = min(CAMERA_HEIGHT_RANGE_M[1], look_h + VIEW_DISTANCE_M[1] * s)
    cam_h = float(rng.uniform(lo, max(lo, hi)))
    distance = (cam_h - look_h) / s
    yaw = float(np.radians(90.0 + rng.uniform(-40.0, 40.0)))
    forward = np.array([np.cos(np.radians(pitch)) * np.cos(yaw), np.cos(np.radians(pitch)) * np.sin(yaw), -s])
    target = np.array([0.0, 0.0, look_h])
    eye = target - distance * forward
    c2w = look_at(eye, target, roll_deg=roll)
    cam = CameraSpec(
        width=int(width),
        height=int(height),
        hfov_deg=hfov,
        c2w=c2w.tolist(),
        pitch_deg=pitch,
        distance_m=float(distance),
        target=target.tolist(),
    )
    draw = {
        "hfov_deg": hfov,
        "pitch_deg": pitch,
        "roll_deg": roll,
        "height_above_table_m": cam_h,
        "distance_m": float(distance),
        "yaw_deg": float(np.degrees(yaw)),
    }
    return cam, draw, eye


def _label(rng: np.random.Generator) -> dict:
    z0 = float(rng.uniform(0.12, 0.4))
    white = rng.random() < 0.5
    colour = rng.uniform(0.7, 0.95, 3) if white else rng.uniform(0.05, 0.9, 3)
    return {
        "z0": z0,
        "z1": float(min(z0 + rng.uniform(0.12, 0.4), 0.8)),
        "phi0": float(rng.uniform(0, 2 * np.pi)),
        "extent": float(rng.uniform(1.0, 2 * np.pi)),
        "colour": [float(c) for c in colour],
    }


def _draw_objects(rng: np.random.Generator, glass_families: tuple, n_glass: int, n_look: int) -> list:
    """(role, family, material, liquid, dims, label) per object, glass first."""
    drawn = []
    for _ in range(n_glass):
        family = str(rng.choice(glass_families))
        dims = sample_dims(family, rng)
        liquid = _liquid(rng) if family in FILLABLE and rng.random() < FILL_SHARE else None
        label = _label(rng) if family in LABELLED and rng.random() < LABEL_SHARE else None
        drawn.append(("glass", family, _glass_material(rng), liquid, dims, label))
    for _ in range(n_look):
        kind = str(rng.choice(LOOKALIKES))
        if kind == "opaque_glass_shape":
            family = str(rng.choice(glass_families))
            material = _opaque_material(rng, str(rng.choice(("ceramic", "plastic", "metal", "matte"))))
        else:
            family = LOOKALIKE_FAMILY[kind]
            material = _opaque_material(rng, LOOKALIKE_MATERIAL[kind])
        drawn.append((f"lookalike:{kind}", family, material, None, sample_dims(family, rng), None))
    return drawn


def _in_view(cam: CameraSpec, point, margin: float = 0.1) -> bool:
    uv, z = project(cam.K, np.asarray(cam.c2w), np.asarray(point, np.float64)[None])
    u, v = uv[0]
    w, h = cam.width, cam.height
    return bool(z[0] > 0.05 and -margin * w <= u <= (1 + margin) * w and -margin * h <= v <= (1 + margin) * h)


def _image_disc(cam: CameraSpec, obj: ObjectSpec) -> tuple[np.ndarray, float, float]:
    """Projected centre (2,), radius (pixels) and camera z (metres) of an object's bounding sphere."""
    centre = np.array([obj.position[0], obj.position[1], obj.base_z + 0.5 * obj.height])
    uv, z = project(cam.K, np.asarray(cam.c2w), centre[None])
    radius = np.hypot(obj.footprint_radius, 0.5 * obj.height)
    return uv[0], float(cam.K[0, 0] * radius / max(z[0], 1e-3)), float(z[0])


def _drop_occluders(cam: CameraSpec, objects: list) -> list:
    """Drop opaque objects whose image disc covers a glass object's centre from in front of it,
    then renumber (glass stays visible behind look-alikes only partly)."""
    discs = [_image_disc(cam, o) for o in objects]
    glass = [(uv, z) for o, (uv, _, z) in zip(objects, discs) if o.category == "transparent"]
    keep = []
    for o, (uv, r, z) in zip(objects, discs):
        hides = (
            o.category == "opaque"
            and not o.role.startswith("lid_of")
            and any(zg > z and np.linalg.norm(ug - uv) < 0.8 * r for ug, zg in glass)
        )
        if not hides:
            keep.append(o)
    renumber = {o.instance_id: k + 1 for k, o in enumerate(keep)}
    for o in keep:
        o.instance_id = renumber[o.instance_id]
        o.name = f"obj_{o.instance_id:02d}"
        if o.role.startswith("lid_of:"):
            o.role = f"lid_of:{renumber.get(int(o.role.split(':')[1]), 0)}"
    return keep


def _room(rng: np.random.Generator, kind: str, wall_y: float, eye_x: float) -> dict:
    room = {
        "kind": kind,
        "floor_z": float(-rng.uniform(0.7, 0.8)),
        "floor_texture": str(rng.choice(("wood", "noise", "tiles_plain"))),
        "floor_seed": int(rng.integers(2**31)),
        "wall_y": wall_y,
        "wall_colour": [float(c) for c in rng.uniform(0.25, 0.92, 3)],
        "wall_texture": str(rng.choice(("plain", "noise"), p=[0.6, 0.4])),
        "wall_seed": int(rng.integers(2**31)),
        "window": None,
        "side_wall_x": None,
        "shelves": [],
        "poster": None,
    }
    if kind != "open" and rng.random() < 0.3:  # a framed training photo on the back wall
        room["poster"] = {
            "photo": str(rng.choice(TRAIN_PHOTOS)),
            "u": float(rng.uniform(-1.0, 1.0)),
            "z": float(rng.uniform(0.3, 1.0)),
            "half_w": float(rng.uniform(0.15, 0.4)),
            "aspect": float(rng.uniform(0.6, 1.4)),
            "seed": int(rng.integers(2**31)),
        }
    if kind in ("window_wall", "corner"):
        room["window"] = {
            "centre_u": float(rng.uniform(-0.8, 0.8)),
            "centre_z": float(rng.uniform(0.35, 0.9)),
            "half_w": float(rng.uniform(0.3, 0.8)),
            "half_h": float(rng.uniform(0.25, 0.5)),
            "radiance": float(rng.uniform(1.5, 6.0)),
            "photo": str(rng.choice(SCENERY_PHOTOS)) if rng.random() < 0.5 else None,
            "seed": int(rng.integers(2**31)),
        }
    if kind == "corner":  # the side wall stands beyond the camera, so the camera is inside the room
        side = float(rng.choice((-1.0, 1.0)))
        room["side_wall_x"] = side * max(float(rng.uniform(0.5, 1.2)), side * float(eye_x) + 0.3)
    if kind == "shelf_wall":
        for _ in range(int(rng.integers(1, 3))):
            clutter = [
                {
                    "kind": str(rng.choice(("box", "cylinder", "sphere"))),
                    "u": float(rng.uniform(-1.0, 1.0)),
                    "size": float(rng.uniform(0.03, 0.1)),
                    "colour": [float(c) for c in rng.uniform(0.05, 0.9, 3)],
                    "glossy": bool(rng.random() < 0.4),
                }
                for _ in range(int(rng.integers(2, 7)))
            ]
            room["shelves"].append(
                {
                    "z": float(rng.uniform(0.25, 0.9)),
                    "depth": float(rng.uniform(0.15, 0.3)),
                    "half_w": float(rng.uniform(0.5, 1.2)),
                    "u": float(rng.uniform(-0.5, 0.5)),
                    "colour": [float(c) for c in rng.uniform(0.2, 0.8, 3)],
                    "clutter": clutter,
                }
            )
    return room


def _light(rng: np.random.Generator, kind: str, temp_range: tuple, min_z: float) -> dict:
    """One light: kind, colour temperature (K) and its geometry and strength (see scene_dict_v2).

    Lights hang at least at ``min_z`` (metres; above the camera, so an area light's dark back
    never fills the view). Area lights are 0.15-1 m wide: smaller ones make fireflies through glass;
    hard shadows come from the spot, point and sun lights.
    """
    light = {"kind": kind, "kelvin": float(rng.uniform(*temp_range))}
    pos = [float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.4)), float(max(rng.uniform(0.6, 1.8), min_z))]
    if kind == "area":
        light.update(centre=pos, size=float(rng.uniform(0.15, 1.0)), power=float(rng.uniform(1.0, 6.0)))
    elif kind in ("spot", "point"):
        light.update(
            position=pos,
            intensity=float(rng.uniform(1.0, 5.0)) * pos[2] ** 2,
            target=[float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.2, 0.2)), 0.0],
            cutoff_deg=float(rng.uniform(20.0, 50.0)),
        )
    elif kind == "window_sun":
        light.update(
            elevation_deg=float(rng.uniform(20.0, 60.0)),
            azimuth_deg=float(rng.uniform(50.0, 130.0)),
            irradiance=float(rng.uniform(1.5, 5.0)),
        )
    elif kind == "warm_spots":
        light.update(
            spots=[
                {
                    "position": [
                        float(rng.uniform(-0.9, 0.9)),
                        float(rng.uniform(-0.6, 0.4)),
                        float(max(rng.uniform(0.8, 1.6), min_z)),
                    ],
                    "target": [float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.25, 0.25)), 0.0],
                    "intensity": float(rng.uniform(2.0, 5.0)),
                    "cutoff_deg": float(rng.uniform(25.0, 45.0)),
                }
                for _ in range(2)
            ]
        )
    elif kind != "env_only":
        raise ValueError(f"unknown light kind {kind!r}")
    return light


def sample_scene_v2(
    seed: int,
    index: int,
    width: int = 320,
    height: int = 240,
    split_family: str = "train",
    hfov_range: tuple[float, float] | None = None,
) -> SceneSpecV2:
    """Draw v2 frame ``index`` of run ``seed`` for a ``width`` x ``height`` image (see the module
    docstring). ``hfov_range`` (degrees) replaces :data:`HFOV_RANGE_DEG` (e.g. a camera family
    the training never saw: the per-frame depth scale test of camera-aware models)."""
    ch = choices(split_family)
    rng = v2_rng(seed, index)
    cam, cam_draw, eye = _camera(rng, width, height, hfov_range)
    visible_half = cam_draw["distance_m"] * np.tan(np.radians(cam_draw["hfov_deg"]) / 2)
    spread = float(np.clip(0.5 * visible_half, 0.06, 0.4))

    no_glass = split_family in TRAINING_FAMILIES and rng.random() < NO_GLASS_SHARE
    n_glass = 0 if no_glass else int(rng.choice([1, 2, 3, 4, 5], p=[0.25, 0.3, 0.22, 0.13, 0.1]))
    drawn = _draw_objects(rng, ch.glass, n_glass, int(rng.integers(2, 6)))
    sizes = [shape_extent(fam, dims) for _, fam, _, _, dims, _ in drawn]
    spots = _pack(rng, [fp for fp, _ in sizes], spread)

    objects: list = []
    for (role, family, material, liquid, dims, label), (fp, h), spot in zip(drawn, sizes, spots):
        yaw = float(rng.uniform(0, 360))
        if spot is None:
            continue
        centre = np.array([spot[0], spot[1], 0.5 * h])
        if not VIEW_DISTANCE_M[0] * 0.8 <= np.linalg.norm(centre - eye) <= 2.2 or not _in_view(cam, centre):
            continue
        iid = len(objects) + 1
        glass = role == "glass"
        objects.append(
            ObjectSpecV2(
                instance_id=iid,
                name=f"obj_{iid:02d}",
                category="transparent" if glass else "opaque",
                shape=family,
                position=spot,
                yaw_deg=yaw,
                footprint_radius=fp,
                height=h,
                dims=dims,
                material=material,
                role=role,
                liquid=liquid,
                label=label,
            )
        )
        if family == "jar" and rng.random() < 0.6:  # a lid on the jar: glass or opaque, its own instance
            lid_glass = rng.random() < 0.4
            lid_dims = {
                "radius": dims["neck_radius"] + 0.003,
                "thickness": float(rng.uniform(0.006, 0.012)),
                "knob_radius": float(rng.uniform(0.008, 0.015)),
            }
            lid_material = (
                _glass_material(rng) if lid_glass else _opaque_material(rng, str(rng.choice(("metal", "plastic"))))
            )
            lid_id = len(objects) + 1
            objects.append(
                ObjectSpecV2(
                    instance_id=lid_id,
                    name=f"obj_{lid_id:02d}",
                    category="transparent" if lid_glass else "opaque",
                    shape="lid",
                    position=spot,
                    yaw_deg=yaw,
                    footprint_radius=lid_dims["radius"],
                    height=lid_dims["thickness"] + 0.006,
                    dims=lid_dims,
                    material=lid_material,
                    role=f"lid_of:{iid}",
                    base_z=h + 0.0005,
                )
            )

    objects = _drop_occluders(cam, objects)
    back = max([o.position[1] + o.footprint_radius for o in objects] + [0.0])
    wall_y = float(back + rng.uniform(0.25, 1.2))
    room = _room(rng, str(rng.choice(ch.rooms)), wall_y, float(eye[0]))
    table_kind = str(rng.choice(ch.tables))
    table = {
        "texture": table_kind,
        "texture_seed": int(rng.integers(2**31)),
        "photo": str(rng.choice(SCENERY_PHOTOS if ch.table_photo_set == 1 else TABLE_PHOTOS_SET_2))
        if table_kind == "photo"
        else None,
        "glossy": bool(table_kind == "glossy" or (table_kind not in ("metal", "cloth") and rng.random() < 0.4)),
        "roughness": float(rng.uniform(0.05, 0.35)),
        "uv_repeat": float(rng.uniform(1.0, 4.0)),
        "x_range": [float(-rng.uniform(0.6, 1.5)), float(rng.uniform(0.6, 1.5))],
        "y_range": [float(min(eye[1], -spread) - rng.uniform(0.2, 1.0)), wall_y],
    }
    if room["side_wall_x"] is not None:  # the table ends at the side wall
        sx = room["side_wall_x"]
        table["x_range"] = (
            [max(table["x_range"][0], sx), table["x_range"][1]]
            if sx < 0
            else [table["x_range"][0], min(table["x_range"][1], sx)]
        )
    light_kind = str(rng.choice(ch.lights))
    min_light_z = cam_draw["height_above_table_m"] + 0.2
    lighting = {
        "env": str(rng.choice(ENV_KINDS + ("constant",), p=[0.4, 0.4, 0.2])),
        "env_seed": int(rng.integers(2**31)),
        "env_scale": float(rng.uniform(0.3, 1.5) * (2.0 if light_kind == "env_only" else 1.0)),
        "constant": float(rng.uniform(0.05, 0.3)),
        "env_rotation_deg": float(rng.uniform(0, 360)),
        "area_light": None,
        "lights": [_light(rng, light_kind, ch.colour_temperature_k, min_light_z)],
    }
    if ch.lights == HELDOUT_LIGHTS:
        lighting["env_scale"] *= 0.3  # the held-out setting is lit mostly by its warm spots
    elif ch.light_count is not None:  # lit mostly by several hard lights
        lighting["env_scale"] *= 0.3
        for _ in range(int(rng.integers(ch.light_count[0], ch.light_count[1] + 1)) - 1):
            lighting["lights"].append(_light(rng, str(rng.choice(ch.lights)), ch.colour_temperature_k, min_light_z))
    elif rng.random() < 0.3:
        lighting["lights"].append(_light(rng, "area", ch.colour_temperature_k, min_light_z))
    exposure = {"target_median": float(rng.uniform(0.12, 0.3)), "max_gain": 8.0, "min_gain": 0.125}
    return SceneSpecV2(
        seed=int(seed),
        index=int(index),
        camera=cam,
        table=table,
        wall={"y": wall_y, "colour": room["wall_colour"]},
        lighting=lighting,
        objects=objects,
        profile=v2_profile(split_family, hfov_range),
        split_family=split_family,
        room=room,
        exposure=exposure,
        camera_draw=cam_draw,
    )
