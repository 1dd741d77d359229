"""Seeded sampling of glassware scenes as plain data (no Mitsuba needed here).

A frame depends only on (seed, frame index): :func:`frame_rng` seeds a
``numpy.random.Generator`` from both, so shards and resumed runs reproduce it exactly.
World frame: metres, z up, table top at z = 0, the wall stands at y = ``wall.y`` facing -y.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from egsa_ros.data.synth.camera import intrinsics, look_at
from egsa_ros.data.synth.lathe import sample_profile
from egsa_ros.data.synth.textures import ENV_KINDS, TABLE_TEXTURES

GLASS_SHAPES = ("wine_glass", "tumbler", "bottle", "flask", "bowl", "sphere", "box")
GLASS_WEIGHTS = (0.18, 0.22, 0.16, 0.14, 0.12, 0.09, 0.09)
DISTRACTOR_SHAPES = ("box", "cylinder", "sphere")
IOR_RANGE = (1.33, 1.6)
PITCH_RANGE_DEG = (20.0, 60.0)
DISTANCE_RANGE_M = (0.3, 1.5)
HFOV_RANGE_DEG = (60.0, 70.0)
CLEARANCE_M = 0.005
"""Minimum gap between object footprints on the table."""


@dataclass(frozen=True)
class SceneProfile:
    """What glass a run draws: shapes, refractive index range and how many per frame.

    The default reproduces the standard distribution draw for draw. Narrower profiles build
    held-out sets for generalisation tests, e.g. only flasks and bowls of IOR 1.5-1.6 in
    cluttered groups of 4-6 (``egsa-synth --glass-shapes flask,bowl --ior 1.5,1.6
    --glass-count 4,6``), against a training set filtered to exclude them
    (``data.exclude_glass_shapes``, ``data.max_glass_ior`` in egsa-train).
    """

    glass_shapes: tuple = GLASS_SHAPES
    ior_range: tuple = IOR_RANGE
    glass_count: tuple = (1, 4)

    def __post_init__(self) -> None:
        unknown = set(self.glass_shapes) - set(GLASS_SHAPES)
        if not self.glass_shapes or unknown:
            raise ValueError(f"glass shapes must be a non-empty subset of {GLASS_SHAPES}, got {self.glass_shapes}")
        lo, hi = self.ior_range
        if not 1.0 < lo <= hi <= 3.0:
            raise ValueError(f"IOR range must satisfy 1 < low <= high <= 3, got {self.ior_range}")
        if not 1 <= self.glass_count[0] <= self.glass_count[1] <= 8:
            raise ValueError(f"glass count must satisfy 1 <= min <= max <= 8, got {self.glass_count}")

    def shape_weights(self) -> np.ndarray:
        """Draw probabilities of ``glass_shapes`` (the standard weights, renormalised)."""
        if tuple(self.glass_shapes) == GLASS_SHAPES:
            return np.array(GLASS_WEIGHTS)  # exactly the standard draws
        weights = np.array([GLASS_WEIGHTS[GLASS_SHAPES.index(s)] for s in self.glass_shapes])
        return weights / weights.sum()

    def to_dict(self) -> dict:
        return {
            "glass_shapes": list(self.glass_shapes),
            "ior_range": list(self.ior_range),
            "glass_count": list(self.glass_count),
        }


DEFAULT_PROFILE = SceneProfile()


@dataclass
class ObjectSpec:
    """One object standing on the table.

    ``position`` is the footprint centre (x, y) in metres, ``yaw_deg`` the rotation about z,
    ``dims`` the shape's dimensions in metres (for lathe shapes the profile parameters; for
    ``box`` half-sizes ``hx, hy, hz``; for ``sphere`` ``radius``), ``material`` a dict with
    ``type`` (dielectric, roughdielectric, diffuse, plastic) and its parameters.
    """

    instance_id: int
    name: str
    category: str  # "transparent" or "opaque"
    shape: str
    position: list
    yaw_deg: float
    footprint_radius: float
    height: float
    dims: dict
    material: dict


@dataclass
class CameraSpec:
    """Pinhole camera: image size (pixels), horizontal FOV, OpenCV camera-to-world (4x4 list)."""

    width: int
    height: int
    hfov_deg: float
    c2w: list
    pitch_deg: float
    distance_m: float
    target: list

    @property
    def K(self) -> np.ndarray:
        return intrinsics(self.width, self.height, self.hfov_deg)


@dataclass
class SceneSpec:
    """Everything needed to build and label one frame."""

    seed: int
    index: int
    camera: CameraSpec
    table: dict
    wall: dict
    lighting: dict
    objects: list = field(default_factory=list)
    profile: dict = field(default_factory=dict)  # the SceneProfile it was drawn from

    def to_dict(self) -> dict:
        return asdict(self)


def frame_rng(seed: int, index: int) -> np.random.Generator:
    """Generator for frame ``index`` of run ``seed`` (independent of sharding)."""
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be >= 0")
    return np.random.default_rng([int(seed), int(index)])


def _tint(rng: np.random.Generator) -> list:
    """Specular transmittance colour: white, or a light tint (green/amber/blue...)."""
    if rng.random() < 0.65:
        return [1.0, 1.0, 1.0]
    hue = rng.dirichlet([1.0, 1.0, 1.0])
    strength = rng.uniform(0.1, 0.5)
    return [float(c) for c in np.clip(1.0 - strength * (1.0 - hue / hue.max()), 0.3, 1.0)]


def _glass_material(rng: np.random.Generator, ior_range=IOR_RANGE) -> dict:
    mat = {"type": "dielectric", "ior": float(rng.uniform(*ior_range)), "tint": _tint(rng)}
    if rng.random() < 0.15:
        mat.update(type="roughdielectric", alpha=float(rng.uniform(0.02, 0.12)))
    return mat


def _opaque_material(rng: np.random.Generator) -> dict:
    colour = [float(c) for c in rng.uniform(0.03, 0.85, 3)]
    if rng.random() < 0.5:
        return {"type": "diffuse", "colour": colour}
    return {"type": "plastic", "colour": colour, "ior": 1.5}


def _sample_object(rng: np.random.Generator, shape: str, transparent: bool) -> dict:
    """Shape dims, footprint radius and height (metres)."""
    if shape == "sphere":
        r = float(rng.uniform(0.02, 0.05))
        return dict(dims={"radius": r}, footprint=r, height=2 * r)
    if shape == "box":
        hx, hy = rng.uniform(0.015, 0.05, 2)
        hz = float(rng.uniform(0.015, 0.08 if not transparent else 0.05))
        return dict(dims={"hx": float(hx), "hy": float(hy), "hz": hz}, footprint=float(np.hypot(hx, hy)), height=2 * hz)
    profile, dims = sample_profile(shape, rng)
    return dict(dims=dims, footprint=float(profile[:, 0].max()), height=float(profile[:, 1].max()))


def _pack(rng: np.random.Generator, radii: list, spread: float, tries: int = 200) -> list:
    """Place discs of ``radii`` (metres) on the table without overlap (2D disc packing).

    The first disc sits at the origin; the others are drawn uniformly within ``spread`` + their
    radius of it and rejected while they overlap a placed disc (gap ``CLEARANCE_M``).
    Returns (x, y) or None per disc (None: no free spot in ``tries`` draws).
    """
    placed = [(np.zeros(2), radii[0])]
    out: list = [[0.0, 0.0]]
    for r in radii[1:]:
        spot = None
        for _ in range(tries):
            rho, ang = (spread + r) * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            p = np.array([rho * np.cos(ang), rho * np.sin(ang)])
            if all(np.linalg.norm(p - q) >= r + rq + CLEARANCE_M for q, rq in placed):
                spot = p
                break
        if spot is not None:
            placed.append((spot, r))
        out.append(None if spot is None else [float(spot[0]), float(spot[1])])
    return out


def sample_scene(
    seed: int, index: int, width: int = 320, height: int = 240, profile: SceneProfile = DEFAULT_PROFILE
) -> SceneSpec:
    """Draw scene ``index`` of run ``seed`` for a ``width`` x ``height`` image.

    1 to 4 glass objects (``profile``) and 0 to 3 opaque distractors stand on a textured
    table in front of a wall; the camera looks down 20-60 degrees from 0.3-1.5 m at the group.
    """
    rng = frame_rng(seed, index)
    pitch = float(rng.uniform(*PITCH_RANGE_DEG))
    distance = float(rng.uniform(0.45, 1.3))
    spread = float(np.clip(0.3 * distance, 0.08, 0.3))

    n_glass = int(rng.integers(profile.glass_count[0], profile.glass_count[1] + 1))
    shapes, weights = profile.glass_shapes, profile.shape_weights()
    kinds = [("transparent", str(rng.choice(shapes, p=weights))) for _ in range(n_glass)]
    kinds += [("opaque", str(rng.choice(DISTRACTOR_SHAPES))) for _ in range(int(rng.integers(0, 4)))]
    drawn = [_sample_object(rng, shape, cat == "transparent") for cat, shape in kinds]
    # The first glass goes near the middle so every frame has at least one in view.
    spots = _pack(rng, [d["footprint"] for d in drawn], spread)

    yaw = float(np.radians(90.0 + rng.uniform(-35.0, 35.0)))  # looking roughly towards +y (the wall)
    look_h = float(rng.uniform(0.02, 0.08))
    forward = np.array(
        [np.cos(np.radians(pitch)) * np.cos(yaw), np.cos(np.radians(pitch)) * np.sin(yaw), -np.sin(np.radians(pitch))]
    )
    target = np.array([0.0, 0.0, look_h])
    eye = target - distance * forward
    c2w = look_at(eye, target, roll_deg=float(rng.uniform(-4.0, 4.0)))

    objects = []
    for (cat, shape), d, spot in zip(kinds, drawn, spots):
        if spot is None:
            continue
        centre = np.array([spot[0], spot[1], 0.5 * d["height"]])
        if not DISTANCE_RANGE_M[0] <= np.linalg.norm(centre - eye) <= DISTANCE_RANGE_M[1]:
            continue
        iid = len(objects) + 1
        objects.append(
            ObjectSpec(
                instance_id=iid,
                name=f"obj_{iid:02d}",
                category=cat,
                shape=shape,
                position=spot,
                yaw_deg=float(rng.uniform(0, 360)),
                footprint_radius=d["footprint"],
                height=d["height"],
                dims=d["dims"],
                material=_glass_material(rng, profile.ior_range) if cat == "transparent" else _opaque_material(rng),
            )
        )

    back = max((o.position[1] + o.footprint_radius for o in objects), default=0.0)
    back = max(back, 0.0)
    wall_y = float(back + rng.uniform(0.25, 1.2))
    table = {
        "texture": str(rng.choice(TABLE_TEXTURES)),
        "texture_seed": int(rng.integers(2**31)),
        "glossy": bool(rng.random() < 0.5),
        "uv_repeat": float(rng.uniform(1.0, 4.0)),
        "x_range": [float(-rng.uniform(0.6, 1.5)), float(rng.uniform(0.6, 1.5))],
        "y_range": [float(min(eye[1], -spread) - rng.uniform(0.2, 1.0)), wall_y],
    }
    wall = {
        "y": wall_y,
        "colour": [float(c) for c in rng.uniform(0.2, 0.9, 3)],
        "textured": bool(rng.random() < 0.4),
        "texture_seed": int(rng.integers(2**31)),
    }
    lighting = {
        "env": str(rng.choice(ENV_KINDS + ("constant",), p=[0.45, 0.45, 0.1])),
        "env_seed": int(rng.integers(2**31)),
        "env_scale": float(rng.uniform(0.5, 1.8)),
        "constant": float(rng.uniform(0.05, 0.4)),
        "env_rotation_deg": float(rng.uniform(0, 360)),
        "area_light": None,
    }
    if rng.random() < 0.5:
        lighting["area_light"] = {
            "centre": [float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.3)), float(rng.uniform(1.0, 2.0))],
            "size": float(rng.uniform(0.2, 0.8)),
            "radiance": float(rng.uniform(3.0, 15.0)),
        }
    hfov = float(rng.uniform(*HFOV_RANGE_DEG))
    camera = CameraSpec(
        width=int(width),
        height=int(height),
        hfov_deg=hfov,
        c2w=c2w.tolist(),
        pitch_deg=pitch,
        distance_m=distance,
        target=target.tolist(),
    )
    return SceneSpec(
        seed=int(seed),
        index=int(index),
        camera=camera,
        table=table,
        wall=wall,
        lighting=lighting,
        objects=objects,
        profile=profile.to_dict(),
    )
