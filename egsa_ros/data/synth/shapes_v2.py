"""Shape families of the ``v2`` generator: drawing their dimensions and building their meshes.

:func:`sample_dims` draws a family's dimensions (metres, a JSON-able dict) from a generator;
:func:`build_shape` rebuilds the mesh from those dims alone, so meta.json holds everything
needed to rebuild a frame. Meshes stand on z = 0 around the z axis (footprint centre at the
origin) in the object's own frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egsa_ros.data.synth import lathe
from egsa_ros.data.synth import profiles_v2 as pv
from egsa_ros.data.synth.lathe import TriMesh, revolve
from egsa_ros.data.synth.meshes_v2 import add_spout, box_liquid, handle_tube, label_band, lay_down, merge, open_box

LATHE_FAMILIES = {
    "wine_glass": lathe.wine_glass_profile,
    "tumbler": lathe.tumbler_profile,
    "bottle": lathe.bottle_profile,
    "flask": lathe.flask_profile,
    "bowl": lathe.bowl_profile,
    "vase": pv.vase_profile,
    "beaker": pv.beaker_profile,
    "graduated_cylinder": pv.graduated_cylinder_profile,
    "jar": pv.jar_profile,
    "carafe": pv.carafe_profile,
    "flute": pv.flute_profile,
    "cocktail_glass": pv.cocktail_profile,
    "goblet": pv.goblet_profile,
    "random_vessel": pv.random_vessel_profile,
    "whisky_tumbler": lathe.tumbler_profile,
    "can": pv.can_profile,
    "cylinder": lathe.cylinder_profile,
    "lid": pv.lid_profile,
}
"""Families whose body is one lathe profile (dims = the profile builder's keyword arguments)."""

SHAPE_FAMILIES = tuple(LATHE_FAMILIES) + ("mug", "measuring_cup", "test_tube", "glass_box", "sphere", "block")
"""Every family :func:`build_shape` knows."""


@dataclass
class BuiltShape:
    """A family's geometry in its own frame: ``mesh`` (None for an analytic sphere), height and
    footprint radius (metres), and ``liquid`` (a closed mesh of the cavity filled to the drawn
    level, or None)."""

    mesh: TriMesh | None
    height: float
    footprint: float
    liquid: TriMesh | None = None


def _f(d: dict) -> dict:
    return {k: (float(v) if np.isscalar(v) else [float(x) for x in v]) for k, v in d.items()}


def sample_dims(family: str, rng: np.random.Generator) -> dict:
    """Draw the dimensions (metres) of one object of ``family`` (see :data:`SHAPE_FAMILIES`)."""
    u = rng.uniform
    wall = u(0.0015, 0.004)
    thick = u(0.003, 0.02)  # bottom thickness: some thick bases
    if family in ("wine_glass", "tumbler", "bottle", "flask", "bowl", "cylinder"):
        return lathe.sample_profile(family, rng)[1]
    if family == "whisky_tumbler":
        r = u(0.035, 0.045)
        return _f(
            dict(
                height=u(0.07, 0.1),
                radius_top=r,
                radius_bottom=r * u(0.92, 1.0),
                wall=u(0.003, 0.006),
                bottom=u(0.012, 0.025),
            )
        )
    if family == "vase":
        r = u(0.04, 0.08)
        return _f(
            dict(
                height=u(0.15, 0.32),
                radius=r,
                neck_radius=r * u(0.35, 0.7),
                lip_radius=r * u(0.5, 0.9),
                belly=u(0.25, 0.55),
                wall=wall,
                bottom=thick,
            )
        )
    if family in ("beaker", "measuring_cup"):
        d = dict(
            height=u(0.07, 0.16),
            radius=u(0.025, 0.055),
            wall=u(0.0012, 0.0025),
            bottom=u(0.002, 0.006),
            lip=u(0.0, 0.003),
            spout=u(0.004, 0.012),
        )
        if family == "measuring_cup":
            d.update(handle_reach=u(0.025, 0.04), handle_radius=u(0.004, 0.007))
        return _f(d)
    if family == "graduated_cylinder":
        r = u(0.01, 0.022)
        return _f(dict(height=u(0.15, 0.3), radius=r, foot_radius=r * u(2.0, 3.0), wall=u(0.001, 0.002)))
    if family == "test_tube":
        return _f(dict(length=u(0.1, 0.18), radius=u(0.007, 0.014), wall=u(0.0007, 0.0012)))
    if family == "jar":
        r = u(0.035, 0.06)
        return _f(
            dict(
                height=u(0.08, 0.18),
                radius=r,
                shoulder=u(0.6, 0.8),
                neck_radius=r * u(0.7, 0.9),
                wall=u(0.002, 0.004),
                bottom=thick,
            )
        )
    if family == "carafe":
        return _f(dict(height=u(0.2, 0.3), radius=u(0.05, 0.08), neck_radius=u(0.014, 0.022), wall=wall, bottom=thick))
    if family == "mug":
        r = u(0.03, 0.045)
        return _f(
            dict(
                height=u(0.08, 0.12),
                radius=r,
                wall=u(0.003, 0.006),
                bottom=u(0.006, 0.015),
                handle_reach=u(0.025, 0.04),
                handle_radius=u(0.005, 0.008),
            )
        )
    if family in ("flute", "cocktail_glass", "goblet"):
        lo, hi = {"flute": (0.02, 0.03), "cocktail_glass": (0.05, 0.065), "goblet": (0.035, 0.05)}[family]
        h = u(0.15, 0.24) if family == "flute" else u(0.13, 0.19)
        return _f(
            dict(height=h, bowl_radius=u(lo, hi), stem_height=h * u(0.3, 0.5), foot_radius=u(0.028, 0.04), wall=wall)
        )
    if family == "random_vessel":
        n = int(rng.integers(4, 8))
        base = u(0.025, 0.06)
        radii = np.clip(base * np.exp(np.cumsum(rng.normal(0.0, 0.25, n)) - 0.0), 0.012, 0.08)
        return _f(dict(height=u(0.06, 0.28), radii=radii, wall=wall, bottom=thick))
    if family == "glass_box":
        return _f(
            dict(hx=u(0.03, 0.08), hy=u(0.03, 0.08), height=u(0.04, 0.14), wall=u(0.002, 0.005), bottom=u(0.003, 0.01))
        )
    if family == "can":
        return _f(dict(radius=u(0.026, 0.034), height=u(0.09, 0.16)))
    if family == "lid":
        return _f(dict(radius=u(0.03, 0.06), thickness=u(0.006, 0.014), knob_radius=u(0.008, 0.015)))
    if family == "sphere":
        return _f(dict(radius=u(0.02, 0.05)))
    if family == "block":
        return _f(dict(hx=u(0.015, 0.05), hy=u(0.015, 0.05), hz=u(0.015, 0.06)))
    raise ValueError(f"unknown shape family {family!r}; expected one of {SHAPE_FAMILIES}")


def _lathe_kwargs(family: str, dims: dict) -> dict:
    drop = {"spout", "handle_reach", "handle_radius"}
    return {k: v for k, v in dims.items() if k not in drop}


def _handle(dims: dict, radius: float) -> TriMesh:
    h = dims["height"]
    return handle_tube(radius, 0.55 * h, dims["handle_reach"], dims["handle_radius"])


def build_shape(family: str, dims: dict, fill: float | None = None) -> BuiltShape:
    """The geometry of ``family`` with ``dims``; ``fill`` (0-1) adds a liquid body where the cavity allows."""
    liquid = None
    if family == "sphere":
        r = dims["radius"]
        return BuiltShape(None, 2 * r, r)
    if family == "block":
        raise ValueError("block is analytic (a Mitsuba cube): the scene dict builds it")
    if family == "glass_box":
        mesh = open_box(dims["hx"], dims["hy"], dims["height"], dims["wall"], dims["bottom"])
        if fill:
            level = dims["bottom"] + fill * (dims["height"] - dims["bottom"])
            if level - dims["bottom"] > 0.004:
                liquid = box_liquid(dims["hx"], dims["hy"], dims["wall"], dims["bottom"], level, pv.LIQUID_GAP_M)
        return BuiltShape(mesh, dims["height"], float(np.hypot(dims["hx"], dims["hy"])), liquid)
    if family == "test_tube":
        prof = pv.test_tube_profile(**dims)
        mesh = lay_down(revolve(prof), dims["length"], dims["radius"] + 0.001)
        return BuiltShape(mesh, 2 * dims["radius"] + 0.002, 0.5 * dims["length"] + 0.001)
    if family == "mug":
        prof = pv.mug_profile(dims["height"], dims["radius"], dims["wall"], dims["bottom"])
        mesh = merge([revolve(prof), _handle(dims, dims["radius"])])
        footprint = dims["radius"] + dims["handle_reach"] + dims["handle_radius"]
    elif family == "measuring_cup":
        prof = pv.beaker_profile(dims["height"], dims["radius"], dims["wall"], dims["bottom"], dims["lip"])
        body = add_spout(revolve(prof), dims["height"], dims["spout"])
        # Handle opposite the spout (the spout points to +x): build on +x, turn by 180 degrees.
        handle = _handle(dims, dims["radius"])
        handle.vertices = (handle.vertices * np.array([-1, -1, 1], np.float32)).astype(np.float32)
        handle.normals = (handle.normals * np.array([-1, -1, 1], np.float32)).astype(np.float32)
        mesh = merge([body, handle])
        footprint = dims["radius"] + dims["handle_reach"] + dims["handle_radius"]
    elif family == "beaker":
        prof = pv.beaker_profile(dims["height"], dims["radius"], dims["wall"], dims["bottom"], dims["lip"])
        mesh = add_spout(revolve(prof), dims["height"], dims["spout"])
        footprint = dims["radius"] + dims["lip"] + dims["spout"]
    elif family in LATHE_FAMILIES:
        prof = LATHE_FAMILIES[family](**_lathe_kwargs(family, dims))
        mesh = revolve(prof)
        footprint = float(prof[:, 0].max())
    else:
        raise ValueError(f"unknown shape family {family!r}; expected one of {SHAPE_FAMILIES}")
    if fill:
        # Spouted rims: fill below the spout so the liquid never meets the deformed wall.
        level = min(fill, 0.7) if family in ("beaker", "measuring_cup") else fill
        lp = pv.liquid_profile(prof, level)
        liquid = revolve(lp) if lp is not None else None
    return BuiltShape(mesh, float(prof[:, 1].max()), float(footprint), liquid)


def shape_extent(family: str, dims: dict) -> tuple[float, float]:
    """(footprint radius, height) in metres of ``family`` with ``dims``, without building the mesh."""
    if family == "sphere":
        return dims["radius"], 2 * dims["radius"]
    if family == "block":
        return float(np.hypot(dims["hx"], dims["hy"])), 2.0 * dims["hz"]
    if family == "glass_box":
        return float(np.hypot(dims["hx"], dims["hy"])), dims["height"]
    if family == "test_tube":
        return 0.5 * dims["length"] + 0.001, 2 * dims["radius"] + 0.002
    if family in ("mug", "measuring_cup"):
        return dims["radius"] + dims["handle_reach"] + dims["handle_radius"], dims["height"]
    if family == "beaker":
        return dims["radius"] + dims["lip"] + dims["spout"], dims["height"]
    if family in LATHE_FAMILIES:
        prof = LATHE_FAMILIES[family](**_lathe_kwargs(family, dims))
        return float(prof[:, 0].max()), float(prof[:, 1].max())
    raise ValueError(f"unknown shape family {family!r}; expected one of {SHAPE_FAMILIES}")


FILLABLE = (
    "wine_glass",
    "tumbler",
    "bowl",
    "vase",
    "beaker",
    "measuring_cup",
    "graduated_cylinder",
    "jar",
    "carafe",
    "mug",
    "flute",
    "cocktail_glass",
    "goblet",
    "random_vessel",
    "whisky_tumbler",
    "glass_box",
    "bottle",
    "flask",
)
"""Families that can hold a liquid body."""


LABELLED = (
    "bottle",
    "jar",
    "vase",
    "tumbler",
    "whisky_tumbler",
    "beaker",
    "graduated_cylinder",
    "carafe",
    "random_vessel",
)
"""Glass families that may carry a printed label band."""


def label_mesh(family: str, dims: dict, label: dict) -> TriMesh | None:
    """The label band of ``label`` (``z0``/``z1`` as fractions of the height, ``phi0``/``extent`` in
    radians) on a ``family`` body with ``dims``; None where the wall does not allow one."""
    if family in ("beaker", "measuring_cup"):
        prof = pv.beaker_profile(dims["height"], dims["radius"], dims["wall"], dims["bottom"], dims["lip"])
    elif family in LATHE_FAMILIES:
        prof = LATHE_FAMILIES[family](**_lathe_kwargs(family, dims))
    else:
        return None
    height = float(prof[:, 1].max())
    return label_band(prof, label["z0"] * height, label["z1"] * height, label["phi0"], label["extent"])
