"""egsa-synth v2 shapes: every family's mesh is closed, consistently wound and finely resampled;
liquid bodies are closed and sit inside their vessel."""

from __future__ import annotations

import numpy as np
import pytest

from egsa_ros.data.synth.lathe import MAX_SEGMENT_M, resample_profile, tumbler_profile
from egsa_ros.data.synth.meshes_v2 import handle_tube, open_box
from egsa_ros.data.synth.profiles_v2 import beaker_profile, cavity_profile, liquid_profile
from egsa_ros.data.synth.shapes_v2 import (
    FILLABLE,
    LABELLED,
    LATHE_FAMILIES,
    SHAPE_FAMILIES,
    build_shape,
    label_mesh,
    sample_dims,
    shape_extent,
)

MESH_FAMILIES = [f for f in SHAPE_FAMILIES if f not in ("sphere", "block")]


def _edges_closed_and_consistent(mesh) -> None:
    v, f = mesh.vertices, mesh.faces
    assert f.max() < len(v) and v.dtype == np.float32 and f.dtype == np.uint32
    _, canon = np.unique(np.round(v / 1e-6).astype(np.int64), axis=0, return_inverse=True)
    cf = canon.reshape(-1)[f]
    directed = np.concatenate([cf[:, [0, 1]], cf[:, [1, 2]], cf[:, [2, 0]]])
    as_set = {tuple(e) for e in directed.tolist()}
    assert len(as_set) == len(directed), "an edge is used twice in the same direction"
    assert all((b, a) in as_set for a, b in as_set), "open boundary edge"
    v64 = v.astype(np.float64)
    volume = np.einsum("ij,ij->i", v64[f[:, 0]], np.cross(v64[f[:, 1]], v64[f[:, 2]])).sum() / 6.0
    assert volume > 0, "faces wind inwards"


@pytest.mark.parametrize("family", MESH_FAMILIES)
def test_family_mesh_is_closed_outward_and_tabletop_sized(family):
    for seed in (0, 1):
        dims = sample_dims(family, np.random.default_rng(seed))
        built = build_shape(family, dims, fill=0.6 if family in FILLABLE else None)
        _edges_closed_and_consistent(built.mesh)
        v = built.mesh.vertices
        assert v[:, 2].min() >= -1e-6, "stands on the table"
        assert 0.01 < v[:, 2].max() < 0.35 and 0.005 < np.abs(v[:, :2]).max() < 0.2
        assert (built.footprint, built.height) == pytest.approx(shape_extent(family, dims), abs=2e-3)
        if built.liquid is not None:
            _edges_closed_and_consistent(built.liquid)
            lv = built.liquid.vertices
            assert lv[:, 2].min() > v[:, 2].min() and lv[:, 2].max() < v[:, 2].max()
            assert np.hypot(lv[:, 0], lv[:, 1]).max() < np.hypot(v[:, 0], v[:, 1]).max()


@pytest.mark.parametrize("family", [f for f in LATHE_FAMILIES if f not in ("lid",)])
def test_lathe_profiles_resample_to_short_segments(family):
    dims = sample_dims(family, np.random.default_rng(4))
    prof = LATHE_FAMILIES[family](
        **{k: v for k, v in dims.items() if k not in ("spout", "handle_reach", "handle_radius")}
    )
    assert prof[0, 0] == 0.0 and prof[-1, 0] == 0.0 and (prof[:, 0] >= 0).all()
    seg = np.linalg.norm(np.diff(resample_profile(prof), axis=0), axis=1)
    assert seg.max() <= MAX_SEGMENT_M + 1e-9


def test_liquid_fills_the_cavity_to_the_level():
    prof = tumbler_profile(height=0.1, radius_top=0.04, radius_bottom=0.035, wall=0.003, bottom=0.008)
    cav = cavity_profile(prof)
    bottom, rim = cav[0, 1], cav[-1, 1]
    liquid = liquid_profile(prof, 0.5)
    assert liquid[0, 0] == 0.0 and liquid[-1, 0] == 0.0
    assert liquid[:, 1].max() == pytest.approx(bottom + 0.5 * (rim - bottom), abs=1e-3)
    assert liquid[:, 0].max() < cav[:, 0].max()
    assert liquid_profile(prof, 0.001) is None, "too little liquid: none"


def test_open_box_and_handle_are_closed():
    _edges_closed_and_consistent(open_box(0.05, 0.04, 0.1, 0.003, 0.006))
    _edges_closed_and_consistent(handle_tube(0.04, 0.05, 0.03, 0.006))


@pytest.mark.parametrize("family", LABELLED)
def test_label_band_wraps_the_outer_wall(family):
    dims = sample_dims(family, np.random.default_rng(5))
    label = {"z0": 0.2, "z1": 0.5, "phi0": 0.3, "extent": 2.0, "colour": [0.9, 0.9, 0.9]}
    band = label_mesh(family, dims, label)
    body = build_shape(family, dims).mesh
    if band is None:
        pytest.skip(f"this {family} draw has no single-valued wall")
    height = body.vertices[:, 2].max()
    assert band.vertices[:, 2].min() == pytest.approx(0.2 * height, abs=1e-4)
    assert band.vertices[:, 2].max() == pytest.approx(0.5 * height, abs=1e-4)
    # Just outside the outer wall: 0.4 mm farther from the axis than the profile at the same height.
    prof = (
        beaker_profile(**{k: dims[k] for k in ("height", "radius", "wall", "bottom", "lip")})
        if family == "beaker"
        else LATHE_FAMILIES[family](**dims)
    )
    outer = prof[1 : int(np.argmax(prof[:, 1])) + 1]
    wall_r = np.interp(band.vertices[:, 2], outer[:, 1], outer[:, 0])
    gap = np.hypot(band.vertices[:, 0], band.vertices[:, 1]) - wall_r
    assert gap.min() > 0.0002 and gap.max() < 0.0006
    f = band.faces.astype(np.int64)
    w = band.vertices.astype(np.float64)
    face_n = np.cross(w[f[:, 1]] - w[f[:, 0]], w[f[:, 2]] - w[f[:, 0]])
    radial = w[f].mean(axis=1) * [1, 1, 0]
    assert (np.einsum("ij,ij->i", face_n, radial) > 0).mean() > 0.99, "faces wind outwards"
