"""Lathe (surface-of-revolution) meshes for glassware, built in numpy.

A profile is an (N, 2) polyline of (r, z) points in metres in the half-plane r >= 0. It
starts and ends on the axis (r = 0) and is walked so that the material lies on its left:
for a vessel it runs outer bottom centre -> outer wall -> rim -> inner wall -> inner bottom
centre. Revolving it around +z gives one closed surface (outer and inner skin, rim and
closed bottom), so glass walls have real thickness and refract twice.

Rendering facts this module encodes (measured with Mitsuba 3.9): the profile is
resampled to segments of at most ``MAX_SEGMENT_M`` (3 mm), and at sharp corners the row of
vertices is duplicated (one copy per adjacent segment normal) so smooth vertex normals never
average across a corner; without both, thin walls render black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SEGMENT_M = 0.003
"""Longest profile segment after resampling, metres."""

SHARP_CORNER_DEG = 30.0
"""Profile turns sharper than this get duplicated vertex rows (split normals)."""

LATHE_KINDS = ("wine_glass", "tumbler", "bottle", "flask", "bowl", "cylinder")
"""Profile families :func:`sample_profile` can draw ("cylinder" is a solid, for distractors)."""


@dataclass
class TriMesh:
    """Triangle mesh in metres: vertices (V, 3) float32, faces (F, 3) uint32, normals (V, 3)."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray


# ----------------------------------------------------------------------------- profiles
def _arc(cr: float, cz: float, radius: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    """Points on a circular arc (angles in radians, measured from +r towards +z)."""
    a = np.linspace(a0, a1, n)
    return np.stack([cr + radius * np.cos(a), cz + radius * np.sin(a)], axis=1)


def _vessel(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Closed vessel profile: axis -> outer wall (bottom to rim) -> inner wall (rim to bottom) -> axis.

    ``outer`` and ``inner`` both run bottom to rim, without the axis points; the rim is the
    segment between their last points.
    """
    start = np.array([[0.0, outer[0, 1]]])
    end = np.array([[0.0, inner[0, 1]]])
    return np.concatenate([start, outer, inner[::-1], end], axis=0)


def tumbler_profile(height: float, radius_top: float, radius_bottom: float, wall: float, bottom: float) -> np.ndarray:
    """Drinking glass: slightly conical wall, thick flat bottom. All arguments in metres."""
    outer = np.array([[radius_bottom, 0.0], [radius_top, height]])
    inner = np.array([[radius_bottom - wall, bottom], [radius_top - wall, height]])
    return _vessel(outer, inner)


def wine_glass_profile(
    height: float, bowl_radius: float, stem_height: float, foot_radius: float, wall: float
) -> np.ndarray:
    """Stemmed glass: flat foot, solid stem, tulip bowl (cosine-shaped). Metres."""
    stem_r = max(0.0035, 0.12 * bowl_radius)
    foot_t = 0.003
    bowl_h = height - stem_height
    t = np.linspace(0.0, 1.0, 40)[1:]
    # Bowl radius grows fast, peaks at ~70 % height, narrows a little to the rim.
    rise = np.sin(np.pi * 0.5 * np.clip(t / 0.7, 0, 1)) ** 0.6
    shape = rise * (1.0 - 0.12 * np.clip((t - 0.7) / 0.3, 0, 1) ** 2)
    r_out = stem_r + (bowl_radius - stem_r) * shape
    z_out = stem_height + bowl_h * t
    outer = np.concatenate(
        [
            [[foot_radius, 0.0], [foot_radius, foot_t], [stem_r, foot_t + 0.004], [stem_r, stem_height]],
            np.stack([r_out, z_out], axis=1),
        ]
    )
    bottom_z = stem_height + 0.25 * bowl_h  # inner cavity starts a bit above the stem
    keep = z_out > bottom_z + 1e-4
    r_in = np.maximum(r_out[keep] - wall, 0.0)
    inner = np.concatenate([[[max(r_in[0] * 0.5, 0.001), bottom_z]], np.stack([r_in, z_out[keep]], axis=1)])
    return _vessel(outer, inner)


def bottle_profile(height: float, radius: float, neck_radius: float, wall: float) -> np.ndarray:
    """Bottle: cylindrical body, rounded shoulder, straight neck. Metres."""
    body_h = 0.6 * height
    shoulder_h = 0.15 * height
    t = np.linspace(0.0, 1.0, 20)
    r_sh = neck_radius + (radius - neck_radius) * 0.5 * (1.0 + np.cos(np.pi * t))
    z_sh = body_h + shoulder_h * t
    outer = np.concatenate(
        [
            [[radius, 0.0]],
            np.stack([r_sh, z_sh], axis=1),
            [[neck_radius, height]],
        ]
    )
    bottom = 1.5 * wall
    inner = np.concatenate(
        [
            [[radius - wall, bottom]],
            np.stack([np.maximum(r_sh - wall, 0.3 * neck_radius), z_sh], axis=1),
            [[neck_radius - wall, height]],
        ]
    )
    return _vessel(outer, inner)


def flask_profile(height: float, radius: float, neck_radius: float, wall: float) -> np.ndarray:
    """Erlenmeyer flask: conical body, short cylindrical neck with a lip. Metres."""
    cone_h = 0.72 * height
    outer = np.array(
        [
            [radius, 0.0],
            [radius, 0.004],
            [neck_radius, cone_h],
            [neck_radius, height - 0.006],
            [neck_radius + 0.002, height],
        ]
    )
    bottom = 1.5 * wall
    inner = np.array(
        [
            [radius - wall, bottom],
            [radius - wall, bottom + 0.004],
            [neck_radius - wall, cone_h],
            [neck_radius - wall, height],
        ]
    )
    return _vessel(outer, inner)


def bowl_profile(radius: float, height: float, foot_radius: float, wall: float) -> np.ndarray:
    """Bowl: elliptic cap on a short foot ring. Metres."""
    a = np.linspace(0.0, 1.0, 40)
    r_out = foot_radius + (radius - foot_radius) * np.sin(0.5 * np.pi * a)
    z_out = 0.006 + (height - 0.006) * (1.0 - np.cos(0.5 * np.pi * a))
    outer = np.concatenate([[[foot_radius, 0.0]], np.stack([r_out, z_out], axis=1)])
    inner_r = np.maximum(r_out - wall, 0.0)
    inner_z = z_out + wall * np.cos(0.5 * np.pi * a)
    keep = inner_z <= height
    inner = np.stack([inner_r[keep], inner_z[keep]], axis=1)
    inner = np.concatenate([inner, [[radius - wall, height]]]) if inner[-1, 1] < height else inner
    return _vessel(outer, inner)


def cylinder_profile(radius: float, height: float) -> np.ndarray:
    """Solid closed cylinder (an opaque distractor). Metres."""
    return np.array([[0.0, 0.0], [radius, 0.0], [radius, height], [0.0, height]])


def sample_profile(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Draw the dimensions of one ``kind`` (see :data:`LATHE_KINDS`) and build its profile.

    Returns:
        (profile (N, 2) metres, dims dict of the drawn dimensions in metres).
    """
    u = rng.uniform
    wall = float(u(0.0015, 0.004))
    if kind == "tumbler":
        d = dict(height=u(0.08, 0.15), radius_top=u(0.03, 0.045), wall=wall, bottom=u(0.004, 0.012))
        d["radius_bottom"] = d["radius_top"] * u(0.75, 1.0)
        prof = tumbler_profile(**d)
    elif kind == "wine_glass":
        d = dict(height=u(0.15, 0.22), bowl_radius=u(0.035, 0.048), foot_radius=u(0.03, 0.04), wall=wall)
        d["stem_height"] = d["height"] * u(0.3, 0.45)
        prof = wine_glass_profile(**d)
    elif kind == "bottle":
        d = dict(height=u(0.18, 0.3), radius=u(0.028, 0.045), neck_radius=u(0.01, 0.015), wall=wall)
        prof = bottle_profile(**d)
    elif kind == "flask":
        d = dict(height=u(0.12, 0.2), radius=u(0.04, 0.065), neck_radius=u(0.012, 0.018), wall=wall)
        prof = flask_profile(**d)
    elif kind == "bowl":
        d = dict(radius=u(0.06, 0.1), foot_radius=u(0.025, 0.04), wall=wall)
        d["height"] = d["radius"] * u(0.45, 0.7)
        prof = bowl_profile(**d)
    elif kind == "cylinder":
        d = dict(radius=u(0.02, 0.05), height=u(0.05, 0.2))
        prof = cylinder_profile(**d)
    else:
        raise ValueError(f"unknown lathe kind {kind!r}; expected one of {LATHE_KINDS}")
    return prof, {k: float(v) for k, v in d.items()}


# ----------------------------------------------------------------------------- meshing
def resample_profile(profile: np.ndarray, max_segment: float = MAX_SEGMENT_M) -> np.ndarray:
    """Split every segment longer than ``max_segment`` (metres) into equal pieces; drops repeats."""
    profile = np.asarray(profile, np.float64)
    out = [profile[0]]
    for a, b in zip(profile[:-1], profile[1:]):
        length = float(np.linalg.norm(b - a))
        if length < 1e-9:
            continue
        n = int(np.ceil(length / max_segment))
        for k in range(1, n + 1):
            out.append(a + (b - a) * (k / n))
    return np.asarray(out)


def _profile_rows(profile: np.ndarray, sharp_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the lathe: positions (R, 2), 2D normals (R, 2), and ``joined`` (R-1,) bool.

    ``joined[i]`` is False between the two copies of a duplicated corner row (no faces there).
    """
    seg = np.diff(profile, axis=0)
    seg /= np.linalg.norm(seg, axis=1, keepdims=True)
    seg_n = np.stack([seg[:, 1], -seg[:, 0]], axis=1)  # right of the walking direction = outward
    pos, nrm, joined = [profile[0]], [seg_n[0]], []
    cos_sharp = np.cos(np.radians(sharp_deg))
    for i in range(1, len(profile) - 1):
        n0, n1 = seg_n[i - 1], seg_n[i]
        if float(n0 @ n1) < cos_sharp:  # sharp corner: two rows, one normal each
            pos += [profile[i], profile[i]]
            nrm += [n0, n1]
            joined += [True, False]
        else:
            n = n0 + n1
            pos.append(profile[i])
            nrm.append(n / np.linalg.norm(n))
            joined.append(True)
    pos.append(profile[-1])
    nrm.append(seg_n[-1])
    joined.append(True)
    return np.asarray(pos), np.asarray(nrm), np.asarray(joined)


def revolve(
    profile: np.ndarray,
    *,
    segments: int | None = None,
    max_segment: float = MAX_SEGMENT_M,
    sharp_deg: float = SHARP_CORNER_DEG,
) -> TriMesh:
    """Revolve a profile (see module docstring) around +z into a closed triangle mesh.

    Args:
        profile: (N, 2) (r, z) metres; first and last points must lie on the axis (r = 0).
        segments: number of angular steps; default keeps the outer circumference steps
            near 4 mm (48 to 160 steps).
        max_segment: longest profile segment after resampling, metres.
        sharp_deg: profile turns above this angle get split normals (duplicated rows).

    Returns:
        A :class:`TriMesh` whose faces wind counter-clockwise seen from outside
        (face normals agree with the vertex normals).
    """
    profile = np.asarray(profile, np.float64)
    if abs(profile[0, 0]) > 1e-9 or abs(profile[-1, 0]) > 1e-9:
        raise ValueError("profile must start and end on the axis (r = 0)")
    if np.any(profile[:, 0] < -1e-9):
        raise ValueError("profile must lie in r >= 0")
    prof = resample_profile(profile, max_segment)
    pos, nrm, joined = _profile_rows(prof, sharp_deg)
    if segments is None:
        segments = int(np.clip(np.ceil(2 * np.pi * prof[:, 0].max() / 0.004), 48, 160))
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    cos, sin = np.cos(phi), np.sin(phi)

    verts, norms, ring_start = [], [], []
    count = 0
    for (r, z), (nr, nz) in zip(pos, nrm):
        ring_start.append(count)
        if r < 1e-9:  # pole: one vertex on the axis
            verts.append([[0.0, 0.0, z]])
            norms.append([[0.0, 0.0, np.sign(nz) if abs(nz) > 1e-9 else 1.0]])
            count += 1
        else:
            verts.append(np.stack([r * cos, r * sin, np.full(segments, z)], axis=1))
            norms.append(np.stack([nr * cos, nr * sin, np.full(segments, nz)], axis=1))
            count += segments
    faces = []
    k = np.arange(segments)
    k1 = (k + 1) % segments
    for i in range(len(pos) - 1):
        if not joined[i]:
            continue
        a, b = ring_start[i], ring_start[i + 1]
        a_pole, b_pole = pos[i][0] < 1e-9, pos[i + 1][0] < 1e-9
        if a_pole and b_pole:
            continue
        # Row i is nearer the start of the profile. Walking the profile with material on the
        # left and phi counter-clockwise around +z, (i,k) -> (i,k+1) -> (i+1,k) faces outward.
        if a_pole:
            faces.append(np.stack([np.full(segments, a), b + k1, b + k], axis=1))
        elif b_pole:
            faces.append(np.stack([a + k, a + k1, np.full(segments, b)], axis=1))
        else:
            faces.append(np.stack([a + k, a + k1, b + k], axis=1))
            faces.append(np.stack([a + k1, b + k1, b + k], axis=1))
    v = np.concatenate(verts).astype(np.float32)
    n = np.concatenate(norms)
    n = (n / np.linalg.norm(n, axis=1, keepdims=True)).astype(np.float32)
    f = np.concatenate(faces).astype(np.uint32)
    return TriMesh(v, f, n)


def to_mitsuba_mesh(mesh: TriMesh, name: str, bsdf) -> object:
    """Wrap a :class:`TriMesh` as ``mi.Mesh`` with vertex normals and the given BSDF object.

    Needs a Mitsuba variant to be set already. ``name`` becomes the shape's id.
    """
    import mitsuba as mi  # noqa: PLC0415 - mitsuba loads only to render

    props = mi.Properties()
    props["bsdf"] = bsdf
    m = mi.Mesh(name, len(mesh.vertices), len(mesh.faces), has_vertex_normals=True, props=props)
    params = mi.traverse(m)
    params["vertex_positions"] = type(params["vertex_positions"])(mesh.vertices.ravel())
    params["faces"] = type(params["faces"])(mesh.faces.ravel())
    params["vertex_normals"] = type(params["vertex_normals"])(mesh.normals.ravel())
    params.update()
    return m
