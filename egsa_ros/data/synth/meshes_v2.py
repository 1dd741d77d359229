"""Non-lathe mesh parts of the ``v2`` generator (metres): open glass boxes, mug handles, spouts.

All builders return :class:`~egsa_ros.data.synth.lathe.TriMesh` objects whose faces wind
counter-clockwise seen from outside the material, like :func:`~egsa_ros.data.synth.lathe.revolve`.
"""

from __future__ import annotations

import numpy as np

from egsa_ros.data.synth.lathe import TriMesh


def merge(meshes: list) -> TriMesh:
    """One mesh holding all ``meshes`` (their vertex indices shifted)."""
    verts, faces, norms, offset = [], [], [], 0
    for m in meshes:
        verts.append(m.vertices)
        norms.append(m.normals)
        faces.append(m.faces.astype(np.int64) + offset)
        offset += len(m.vertices)
    return TriMesh(
        np.concatenate(verts).astype(np.float32),
        np.concatenate(faces).astype(np.uint32),
        np.concatenate(norms).astype(np.float32),
    )


def recompute_normals(mesh: TriMesh) -> TriMesh:
    """Area-weighted vertex normals from the faces (after a deformation).

    Vertex rows that :func:`revolve` duplicated at sharp corners stay split, since each copy
    only belongs to the faces on its own side.
    """
    v = mesh.vertices.astype(np.float64)
    f = mesh.faces.astype(np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-20, n / np.maximum(length, 1e-20), mesh.normals)
    return TriMesh(mesh.vertices, mesh.faces, n.astype(np.float32))


def add_spout(mesh: TriMesh, height: float, depth: float, width_rad: float = 0.35, start: float = 0.75) -> TriMesh:
    """Pull the rim of a vessel out into a pouring spout towards +x.

    Vertices above ``start`` * ``height`` move radially outwards by up to ``depth`` metres,
    most at azimuth 0 and the rim, fading over ``width_rad`` radians; normals are recomputed.
    """
    v = mesh.vertices.astype(np.float64).copy()
    phi = np.arctan2(v[:, 1], v[:, 0])
    r = np.hypot(v[:, 0], v[:, 1])
    t = np.clip((v[:, 2] - start * height) / ((1.0 - start) * height), 0.0, 1.0)
    push = depth * np.exp(-((phi / width_rad) ** 2)) * t**2
    scale = np.where(r > 1e-9, (r + push) / np.maximum(r, 1e-9), 1.0)
    v[:, 0] *= scale
    v[:, 1] *= scale
    return recompute_normals(TriMesh(v.astype(np.float32), mesh.faces, mesh.normals))


def _frame_along(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit tangent (N, 3) and a normal (N, 3) of a planar path lying in the x-z plane."""
    tang = np.gradient(points, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    side = np.array([0.0, 1.0, 0.0])
    normal = np.cross(side, tang)
    return tang, normal / np.linalg.norm(normal, axis=1, keepdims=True)


def handle_tube(
    wall_radius: float,
    z_centre: float,
    reach: float,
    tube_radius: float,
    embed: float = 0.004,
    rings: int = 28,
    sides: int = 14,
) -> TriMesh:
    """A C-shaped handle on the +x side of a vessel: a tube along a half-ellipse, ends capped.

    The path starts and ends ``embed`` metres inside the wall at radius ``wall_radius``, at
    heights ``z_centre`` +- ``reach``/1.2, and reaches ``reach`` metres out from the wall.
    """
    half_h = reach / 1.2
    ang = np.linspace(-np.pi / 2, np.pi / 2, rings)
    x = wall_radius - embed + (reach + embed) * np.cos(ang)
    z = z_centre + half_h * np.sin(ang)
    path = np.stack([x, np.zeros_like(x), z], axis=1)
    tang, normal = _frame_along(path)
    binormal = np.cross(tang, normal)
    a = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    ring_dirs = np.cos(a)[None, :, None] * normal[:, None, :] + np.sin(a)[None, :, None] * binormal[:, None, :]
    verts = (path[:, None, :] + tube_radius * ring_dirs).reshape(-1, 3)
    norms = ring_dirs.reshape(-1, 3)
    faces = []
    k = np.arange(sides)
    k1 = (k + 1) % sides
    for i in range(rings - 1):
        a0, b0 = i * sides, (i + 1) * sides
        faces.append(np.stack([a0 + k, b0 + k, a0 + k1], axis=1))
        faces.append(np.stack([a0 + k1, b0 + k, b0 + k1], axis=1))
    # Caps: a centre vertex per end (own normals, so the cap is flat-shaded).
    cap_faces, cap_v, cap_n = [], [], []
    base = len(verts)
    for end, sign in ((0, -1.0), (rings - 1, 1.0)):
        ring = verts[end * sides : (end + 1) * sides]
        cap_v.append(np.concatenate([path[end][None], ring]))
        cap_n.append(np.repeat(sign * tang[end][None], sides + 1, axis=0))
        c = base
        if sign < 0:
            cap_faces.append(np.stack([np.full(sides, c), c + 1 + k, c + 1 + k1], axis=1))
        else:
            cap_faces.append(np.stack([np.full(sides, c), c + 1 + k1, c + 1 + k], axis=1))
        base += sides + 1
    v = np.concatenate([verts] + cap_v)
    n = np.concatenate([norms] + cap_n)
    f = np.concatenate(faces + cap_faces)
    mesh = TriMesh(v.astype(np.float32), f.astype(np.uint32), n.astype(np.float32))
    return _orient_outward(mesh)


def _orient_outward(mesh: TriMesh) -> TriMesh:
    """Flip all faces if the signed volume is negative (faces wound inwards)."""
    v = mesh.vertices.astype(np.float64)
    f = mesh.faces.astype(np.int64)
    vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0
    if vol < 0:
        return TriMesh(mesh.vertices, mesh.faces[:, ::-1].copy(), mesh.normals)
    return mesh


def _quad(corners, normal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two triangles of a planar quad (4, 3) wound counter-clockwise around ``normal``."""
    c = np.asarray(corners, np.float64)
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    if np.dot(np.cross(c[1] - c[0], c[2] - c[0]), normal) < 0:
        tri = tri[:, ::-1]
    return c, tri, np.repeat(np.asarray(normal, np.float64)[None], 4, axis=0)


def open_box(hx: float, hy: float, height: float, wall: float, bottom: float) -> TriMesh:
    """Open-topped rectangular container with walls ``wall`` and a floor ``bottom`` thick (metres).

    Outer half-sizes ``hx``, ``hy``; stands on z = 0. Flat shading (every face has its own
    vertices); closed once coincident corners are merged.
    """
    ix, iy = hx - wall, hy - wall
    H, B = height, bottom
    quads = []
    # Outer skin: bottom (normal -z) and four sides.
    quads.append(([(-hx, -hy, 0), (hx, -hy, 0), (hx, hy, 0), (-hx, hy, 0)], (0, 0, -1)))
    quads.append(([(-hx, -hy, 0), (hx, -hy, 0), (hx, -hy, H), (-hx, -hy, H)], (0, -1, 0)))
    quads.append(([(hx, -hy, 0), (hx, hy, 0), (hx, hy, H), (hx, -hy, H)], (1, 0, 0)))
    quads.append(([(hx, hy, 0), (-hx, hy, 0), (-hx, hy, H), (hx, hy, H)], (0, 1, 0)))
    quads.append(([(-hx, hy, 0), (-hx, -hy, 0), (-hx, -hy, H), (-hx, hy, H)], (-1, 0, 0)))
    # Rim: four trapezoids at z = H between the outer and the inner rectangle (normal +z).
    outer = [(-hx, -hy, H), (hx, -hy, H), (hx, hy, H), (-hx, hy, H)]
    inner = [(-ix, -iy, H), (ix, -iy, H), (ix, iy, H), (-ix, iy, H)]
    for i in range(4):
        j = (i + 1) % 4
        quads.append(([outer[i], outer[j], inner[j], inner[i]], (0, 0, 1)))
    # Inner skin: four sides facing the cavity and the inner floor (normal +z).
    quads.append(([(-ix, -iy, B), (ix, -iy, B), (ix, -iy, H), (-ix, -iy, H)], (0, 1, 0)))
    quads.append(([(ix, -iy, B), (ix, iy, B), (ix, iy, H), (ix, -iy, H)], (-1, 0, 0)))
    quads.append(([(ix, iy, B), (-ix, iy, B), (-ix, iy, H), (ix, iy, H)], (0, -1, 0)))
    quads.append(([(-ix, iy, B), (-ix, -iy, B), (-ix, -iy, H), (-ix, iy, H)], (1, 0, 0)))
    quads.append(([(-ix, -iy, B), (ix, -iy, B), (ix, iy, B), (-ix, iy, B)], (0, 0, 1)))
    verts, faces, norms = [], [], []
    for corners, normal in quads:
        c, tri, n = _quad(corners, normal)
        faces.append(tri + 4 * len(verts))
        verts.append(c)
        norms.append(n)
    return TriMesh(
        np.concatenate(verts).astype(np.float32),
        np.concatenate(faces).astype(np.uint32),
        np.concatenate(norms).astype(np.float32),
    )


def box_liquid(hx: float, hy: float, wall: float, bottom: float, level: float, gap: float) -> TriMesh:
    """Closed box of liquid inside :func:`open_box`'s cavity, up to height ``level`` (metres)."""
    ix, iy = hx - wall - gap, hy - wall - gap
    z0, z1 = bottom + gap, level
    quads = [
        ([(-ix, -iy, z0), (ix, -iy, z0), (ix, iy, z0), (-ix, iy, z0)], (0, 0, -1)),
        ([(-ix, -iy, z1), (ix, -iy, z1), (ix, iy, z1), (-ix, iy, z1)], (0, 0, 1)),
        ([(-ix, -iy, z0), (ix, -iy, z0), (ix, -iy, z1), (-ix, -iy, z1)], (0, -1, 0)),
        ([(ix, -iy, z0), (ix, iy, z0), (ix, iy, z1), (ix, -iy, z1)], (1, 0, 0)),
        ([(ix, iy, z0), (-ix, iy, z0), (-ix, iy, z1), (ix, iy, z1)], (0, 1, 0)),
        ([(-ix, iy, z0), (-ix, -iy, z0), (-ix, -iy, z1), (-ix, iy, z1)], (-1, 0, 0)),
    ]
    verts, faces, norms = [], [], []
    for corners, normal in quads:
        c, tri, n = _quad(corners, normal)
        faces.append(tri + 4 * len(verts))
        verts.append(c)
        norms.append(n)
    return TriMesh(
        np.concatenate(verts).astype(np.float32),
        np.concatenate(faces).astype(np.uint32),
        np.concatenate(norms).astype(np.float32),
    )


def lay_down(mesh: TriMesh, length: float, radius: float) -> TriMesh:
    """Turn a mesh built along +z (0..``length``) to lie along +x on the table, centred, resting at z = 0."""
    rot = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # +z -> +x
    v = mesh.vertices.astype(np.float64) @ rot.T + [-0.5 * length, 0.0, radius]
    n = mesh.normals.astype(np.float64) @ rot.T
    return TriMesh(v.astype(np.float32), mesh.faces, n.astype(np.float32))


def transform(mesh: TriMesh, yaw_deg: float, offset) -> TriMesh:
    """Rotate about +z by ``yaw_deg`` and translate by ``offset`` (3,) metres."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    v = mesh.vertices.astype(np.float64) @ rot.T + np.asarray(offset, np.float64)
    n = mesh.normals.astype(np.float64) @ rot.T
    return TriMesh(v.astype(np.float32), mesh.faces, n.astype(np.float32))


def label_band(
    profile: np.ndarray, z0: float, z1: float, phi0: float, extent: float, offset: float = 0.0004, step: float = 0.003
) -> TriMesh | None:
    """An open band (a printed label) wrapped around a lathe body's outer wall, ``offset`` metres out.

    Covers heights ``z0``-``z1`` (metres) and azimuths ``phi0`` to ``phi0 + extent`` (radians);
    faces wind counter-clockwise seen from outside. None when the outer wall is not a single
    function r(z) over that height range.
    """
    profile = np.asarray(profile, np.float64)
    top = int(np.argmax(profile[:, 1]))
    outer = profile[1 : top + 1]
    if len(outer) < 2 or np.any(np.diff(outer[:, 1]) < -1e-9) or z1 - z0 < 2 * step:
        return None
    z = np.linspace(z0, z1, max(2, int(np.ceil((z1 - z0) / step)) + 1))
    r = np.interp(z, outer[:, 1], outer[:, 0]) + offset
    n_phi = max(2, int(np.ceil(extent * r.max() / step)) + 1)
    phi = phi0 + np.linspace(0.0, extent, n_phi)
    cos, sin = np.cos(phi), np.sin(phi)
    v = np.stack([r[:, None] * cos[None], r[:, None] * sin[None], np.repeat(z[:, None], n_phi, 1)], axis=2)
    dr = np.gradient(r, z) if len(z) > 1 else np.zeros_like(z)
    nrm = np.stack(
        [cos[None] * np.ones_like(r)[:, None], sin[None] * np.ones_like(r)[:, None], np.repeat(-dr[:, None], n_phi, 1)],
        axis=2,
    )
    nrm /= np.linalg.norm(nrm, axis=2, keepdims=True)
    idx = np.arange(len(z) * n_phi).reshape(len(z), n_phi)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    return TriMesh(v.reshape(-1, 3).astype(np.float32), faces.astype(np.uint32), nrm.reshape(-1, 3).astype(np.float32))
