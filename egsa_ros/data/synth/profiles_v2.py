"""Lathe profiles of the ``v2`` generator's glassware and look-alike families (metres).

Every builder returns an (N, 2) (r, z) polyline that :func:`egsa_ros.data.synth.lathe.revolve`
turns into a closed mesh (see that module for the walking convention: axis -> outer wall ->
rim -> inner wall -> axis, material on the left). Vessels have a real wall thickness and a
bottom of their own thickness; :func:`cavity_profile` gives the inner wall, from which
:func:`liquid_profile` builds a closed liquid body filled to a given height.
"""

from __future__ import annotations

import numpy as np

from egsa_ros.data.synth.lathe import _arc, _vessel

LIQUID_GAP_M = 0.0004
"""Gap between a liquid body and its vessel's inner wall, metres (keeps the surfaces apart)."""


def _smooth_wall(radii, height: float, z0: float = 0.0, n: int = 48) -> np.ndarray:
    """Outer wall (n, 2) through control radii spaced evenly in z from ``z0`` to ``height``.

    A monotone cubic (Catmull-Rom without overshoot clamp) through the control points.
    """
    radii = np.asarray(radii, np.float64)
    zc = np.linspace(z0, height, len(radii))
    z = np.linspace(z0, height, n)
    r = np.interp(z, zc, radii)
    # Smooth the piecewise-linear curve with a small moving average (keeps the ends).
    k = max(3, n // 12) | 1
    pad = np.pad(r, k // 2, mode="edge")
    smooth = np.convolve(pad, np.ones(k) / k, mode="valid")
    smooth[0], smooth[-1] = r[0], r[-1]
    return np.stack([smooth, z], axis=1)


def _inner_of(outer: np.ndarray, wall: float, bottom: float) -> np.ndarray:
    """Inner wall of a vessel: the outer wall moved inwards by ``wall``, starting at ``bottom``."""
    keep = outer[:, 1] > bottom + 1e-4
    inner = outer[keep].copy()
    inner[:, 0] = np.maximum(inner[:, 0] - wall, 0.25 * inner[:, 0])
    first = np.array([[max(float(np.interp(bottom, outer[:, 1], outer[:, 0])) - wall, 0.002), bottom]])
    return np.concatenate([first, inner])


def vessel_from_wall(outer: np.ndarray, wall: float, bottom: float) -> np.ndarray:
    """Closed vessel profile from its outer wall (bottom to rim), wall and bottom thickness (metres)."""
    return _vessel(outer, _inner_of(outer, wall, bottom))


def vase_profile(
    height: float, radius: float, neck_radius: float, lip_radius: float, belly: float, wall: float, bottom: float
) -> np.ndarray:
    """Vase: bulging body (widest at ``belly`` of the height), narrow neck, flared lip."""
    zs = [0.0, belly * 0.5, belly, 0.5 * (1 + belly), 0.85, 1.0]
    rs = [0.8 * radius, 0.95 * radius, radius, 0.5 * (radius + neck_radius), neck_radius, lip_radius]
    z = np.linspace(0.0, 1.0, 60)
    r = np.interp(z, zs, rs)
    outer = _smooth_wall(r, height, n=60)
    return vessel_from_wall(outer, wall, bottom)


def beaker_profile(height: float, radius: float, wall: float, bottom: float, lip: float) -> np.ndarray:
    """Laboratory beaker / measuring cup: straight wall, thin flared lip (the spout is a mesh deformation)."""
    outer = np.array([[radius, 0.0], [radius, height - 0.004], [radius + lip, height]])
    inner = np.array([[radius - wall, bottom], [radius - wall, height - 0.004], [radius + lip - wall, height]])
    return _vessel(outer, inner)


def test_tube_profile(length: float, radius: float, wall: float) -> np.ndarray:
    """Test tube: hemispherical bottom, straight wall, small rolled lip; axis along +z."""
    bottom = _arc(0.0, radius, radius, -np.pi / 2, 0.0, 16)
    outer = np.concatenate([bottom[1:], [[radius, length - 0.002], [radius + 0.001, length]]])
    inner_r = radius - wall
    ib = _arc(0.0, radius, inner_r, -np.pi / 2, 0.0, 16)
    inner = np.concatenate([ib[1:], [[inner_r, length - 0.002], [inner_r + 0.001, length]]])
    start, end = np.array([[0.0, 0.0]]), np.array([[0.0, radius - inner_r]])
    return np.concatenate([start, outer, inner[::-1], end])


def graduated_cylinder_profile(height: float, radius: float, foot_radius: float, wall: float) -> np.ndarray:
    """Thin tall cylinder on a flat foot (graduated cylinder)."""
    foot_t = 0.006
    outer = np.array(
        [
            [foot_radius, 0.0],
            [foot_radius, foot_t],
            [radius, foot_t + 0.002],
            [radius, height - 0.003],
            [radius + 0.0015, height],
        ]
    )
    inner = np.array(
        [[radius - wall, foot_t + 0.004], [radius - wall, height - 0.003], [radius + 0.0015 - wall, height]]
    )
    return _vessel(outer, inner)


def jar_profile(
    height: float, radius: float, shoulder: float, neck_radius: float, wall: float, bottom: float
) -> np.ndarray:
    """Preserving jar: straight body, rounded shoulder at ``shoulder`` of the height, short wide neck."""
    t = np.linspace(0.0, 1.0, 12)
    z_sh = height * (shoulder + (0.9 - shoulder) * t)
    r_sh = neck_radius + (radius - neck_radius) * np.cos(0.5 * np.pi * t)
    outer = np.concatenate([[[radius, 0.0]], np.stack([r_sh, z_sh], axis=1), [[neck_radius, height]]])
    return vessel_from_wall(outer, wall, bottom)


def lid_profile(radius: float, thickness: float, knob_radius: float) -> np.ndarray:
    """Solid lid: a disc of ``radius`` and ``thickness`` with a low knob on top (z = 0 at its bottom)."""
    return np.array(
        [
            [0.0, 0.0],
            [radius, 0.0],
            [radius, thickness],
            [knob_radius, thickness],
            [knob_radius, thickness + 0.006],
            [0.0, thickness + 0.006],
        ]
    )


def carafe_profile(height: float, radius: float, neck_radius: float, wall: float, bottom: float) -> np.ndarray:
    """Carafe / decanter: wide low body sweeping into a long neck with a slight flare."""
    z = np.linspace(0.0, 1.0, 60)
    body = radius * np.sqrt(np.clip(1.0 - ((z - 0.2) / 0.45) ** 2, 0.0, 1.0))
    r = np.maximum(body, neck_radius * (1.0 + 0.35 * np.clip((z - 0.85) / 0.15, 0, 1) ** 2))
    r[z < 0.2] = radius * (0.85 + 0.15 * z[z < 0.2] / 0.2)
    return vessel_from_wall(_smooth_wall(r, height, n=60), wall, bottom)


def mug_profile(height: float, radius: float, wall: float, bottom: float) -> np.ndarray:
    """Mug body: straight wall with a slightly rounded base (the handle is a separate tube)."""
    base = _arc(radius - 0.006, 0.006, 0.006, -np.pi / 2, 0.0, 8)
    outer = np.concatenate([base, [[radius, height]]])
    outer[0, 0] = max(outer[0, 0], 0.004)
    inner = np.array([[radius - wall, bottom], [radius - wall, height]])
    return _vessel(outer, inner)


def flute_profile(height: float, bowl_radius: float, stem_height: float, foot_radius: float, wall: float) -> np.ndarray:
    """Champagne flute: foot, thin stem, tall narrow bowl."""
    stem_r = 0.0035
    bowl_h = height - stem_height
    t = np.linspace(0.0, 1.0, 30)[1:]
    r_out = stem_r + (bowl_radius - stem_r) * np.sin(0.5 * np.pi * np.clip(t / 0.35, 0, 1)) ** 0.8
    z_out = stem_height + bowl_h * t
    outer = np.concatenate(
        [
            [[foot_radius, 0.0], [foot_radius, 0.003], [stem_r, 0.008], [stem_r, stem_height]],
            np.stack([r_out, z_out], axis=1),
        ]
    )
    bottom_z = stem_height + 0.12 * bowl_h
    keep = z_out > bottom_z + 1e-4
    r_in = np.maximum(r_out[keep] - wall, 0.0008)
    inner = np.concatenate([[[0.001, bottom_z]], np.stack([r_in, z_out[keep]], axis=1)])
    return _vessel(outer, inner)


def cocktail_profile(
    height: float, bowl_radius: float, stem_height: float, foot_radius: float, wall: float
) -> np.ndarray:
    """Cocktail (martini) glass: foot, stem, wide conical bowl."""
    stem_r = 0.0035
    outer = np.array(
        [[foot_radius, 0.0], [foot_radius, 0.003], [stem_r, 0.008], [stem_r, stem_height], [bowl_radius, height]]
    )
    bowl_h = height - stem_height
    bottom_z = stem_height + 0.08 * bowl_h
    inner = np.array([[0.0015, bottom_z + 0.0005], [bowl_radius - wall * 1.4, height]])
    return _vessel(outer, inner)


def goblet_profile(
    height: float, bowl_radius: float, stem_height: float, foot_radius: float, wall: float
) -> np.ndarray:
    """Goblet: short thick stem with a knop, round bowl."""
    stem_r = 0.006
    bowl_h = height - stem_height
    t = np.linspace(0.0, 1.0, 30)[1:]
    r_out = stem_r + (bowl_radius - stem_r) * np.sin(0.5 * np.pi * np.clip(t / 0.55, 0, 1)) ** 0.5
    z_out = stem_height + bowl_h * t
    knop = _arc(stem_r, 0.55 * stem_height, 0.004, -np.pi / 2, np.pi / 2, 8)
    outer = np.concatenate(
        [
            [[foot_radius, 0.0], [foot_radius, 0.004], [stem_r, 0.01]],
            knop,
            [[stem_r, stem_height]],
            np.stack([r_out, z_out], axis=1),
        ]
    )
    bottom_z = stem_height + 0.2 * bowl_h
    keep = z_out > bottom_z + 1e-4
    inner = np.concatenate([[[0.002, bottom_z]], np.stack([np.maximum(r_out[keep] - wall, 0.001), z_out[keep]], 1)])
    return _vessel(outer, inner)


def random_vessel_profile(height: float, radii: list, wall: float, bottom: float) -> np.ndarray:
    """Random lathe vessel: a smooth outer wall through ``radii`` (4-7 control radii, bottom to rim)."""
    return vessel_from_wall(_smooth_wall(radii, height, n=64), wall, bottom)


def can_profile(radius: float, height: float) -> np.ndarray:
    """Drinks can (solid): bevelled bottom and top with a raised rim."""
    b = 0.006
    return np.array(
        [
            [0.0, 0.002],
            [radius - b, 0.0],
            [radius, b],
            [radius, height - b],
            [radius - b, height - 0.001],
            [radius - b - 0.001, height],
            [radius - b - 0.002, height - 0.003],
            [0.0, height - 0.003],
        ]
    )


def cavity_profile(profile: np.ndarray) -> np.ndarray:
    """The inner wall of a vessel profile as (M, 2) (r, z), from the inner bottom (axis) up to the rim.

    It is the part of the profile after its highest point, reversed.
    """
    profile = np.asarray(profile, np.float64)
    top = int(np.flatnonzero(profile[:, 1] >= profile[:, 1].max() - 1e-9)[-1])
    return profile[top:][::-1]


def liquid_profile(profile: np.ndarray, fill: float, gap: float = LIQUID_GAP_M) -> np.ndarray | None:
    """Closed lathe profile of liquid filling a vessel's cavity to ``fill`` (0-1) of its depth.

    The body sits ``gap`` metres inside the inner wall and above the inner bottom. Returns None
    when the cavity is not a single cup open at the top (z not increasing along the inner wall)
    or is too small.
    """
    cav = cavity_profile(profile)
    z = cav[:, 1]
    if len(cav) < 2 or np.any(np.diff(z) < -1e-9):
        return None
    z_bottom, z_rim = z[0] + gap, z[-1]
    z_fill = z_bottom + fill * (z_rim - z_bottom)
    if z_fill - z_bottom < 0.003:
        return None
    wall = cav[(z > z_bottom) & (z < z_fill)]
    r_bottom = max(float(np.interp(z_bottom, z, cav[:, 0])) - gap, 0.0005)
    r_top = float(np.interp(z_fill, z, cav[:, 0])) - gap
    if r_top < 0.003 or (len(wall) and wall[:, 0].min() - gap < 0.0005):
        return None
    side = np.stack([wall[:, 0] - gap, wall[:, 1]], axis=1)
    return np.concatenate([[[0.0, z_bottom], [r_bottom, z_bottom]], side, [[r_top, z_fill], [0.0, z_fill]]])
