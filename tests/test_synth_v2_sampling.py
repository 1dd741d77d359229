"""egsa-synth --generator v2: scene sampling as data (no rendering), held-out sets, CLI checks."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from egsa_ros.data.synth import families
from egsa_ros.data.synth.camera import pitch_down_deg
from egsa_ros.data.synth.cli import main
from egsa_ros.data.synth.parallel import worker_argv
from egsa_ros.data.synth.scene import sample_scene
from egsa_ros.data.synth.scene_v2 import sample_scene_v2


def _lights(spec):
    return [light["kind"] for light in spec.lighting["lights"]]


def test_v1_draws_are_unchanged():
    """The default generator reproduces the v1 draws the bundled model was trained on."""
    spec = sample_scene(1, 0, 256, 192)
    assert spec.camera.hfov_deg == pytest.approx(61.158656, abs=1e-5)
    assert spec.camera.pitch_deg == pytest.approx(40.472865, abs=1e-5)
    assert [o.shape for o in spec.objects] == ["box"]
    assert not hasattr(spec, "generator")


def test_v2_sampling_is_deterministic_and_json_ready():
    a = sample_scene_v2(3, 5, 256, 192).to_dict()
    assert a == sample_scene_v2(3, 5, 256, 192).to_dict()
    assert a != sample_scene_v2(3, 6, 256, 192).to_dict()
    assert a != sample_scene_v2(4, 5, 256, 192).to_dict()
    json.dumps(a)


def test_train_draws_never_contain_held_out_families_materials_or_rooms():
    held_glass, held_tables = set(families.HELDOUT_GLASS), set(families.HELDOUT_TABLES)
    seen_glass, seen_tables, seen_rooms, seen_lights = set(), set(), set(), set()
    lo, hi = families.COLOUR_TEMPERATURE_TRAIN_K
    for index in range(2500):
        spec = sample_scene_v2(11, index, 64, 48, "train")
        shapes = {o.shape for o in spec.objects}
        assert not shapes & held_glass, (index, shapes)  # neither as glass nor as opaque look-alike
        assert spec.table["texture"] not in held_tables
        assert spec.room["kind"] not in families.HELDOUT_ROOMS
        assert not set(_lights(spec)) & set(families.HELDOUT_LIGHTS)
        assert all(lo <= light["kelvin"] <= hi for light in spec.lighting["lights"])
        seen_glass |= {o.shape for o in spec.objects if o.category == "transparent"}
        seen_tables.add(spec.table["texture"])
        seen_rooms.add(spec.room["kind"])
        seen_lights |= set(_lights(spec))
    assert seen_glass >= set(families.GLASS_TRAIN)
    assert seen_tables == set(families.TABLES_TRAIN)
    assert seen_rooms == set(families.ROOMS_TRAIN)
    assert seen_lights == set(families.LIGHTS_TRAIN)


def test_ood_draws_only_held_out_glass_tables_room_and_light():
    seen = set()
    lo, hi = families.COLOUR_TEMPERATURE_HELDOUT_K
    for index in range(300):
        spec = sample_scene_v2(12, index, 64, 48, "ood")
        glass = [o for o in spec.objects if o.category == "transparent" and o.shape != "lid"]
        assert glass, "every ood frame shows glass"
        assert {o.shape for o in glass} <= set(families.HELDOUT_GLASS)
        assert spec.table["texture"] in families.HELDOUT_TABLES
        assert spec.room["kind"] == "corner" and _lights(spec) == ["warm_spots"]
        side, eye_x = spec.room["side_wall_x"], spec.camera.c2w[0][3]
        assert abs(side) > 0.45 and np.sign(side) * eye_x < abs(side) - 0.25, "the camera is inside the corner room"
        assert all(lo <= light["kelvin"] <= hi for light in spec.lighting["lights"])
        seen |= {o.shape for o in glass} | {spec.table["texture"]}
    assert seen == set(families.HELDOUT_GLASS) | set(families.HELDOUT_TABLES)
    assert families.COLOUR_TEMPERATURE_HELDOUT_K[1] < families.COLOUR_TEMPERATURE_TRAIN_K[0]


@pytest.mark.parametrize("family", families.OOD_FACTOR_FAMILIES)
def test_each_ood_factor_family_holds_out_exactly_its_own_factor(family):
    """ood_glass / ood_tables / ood_room: one of ood's held-out factors, train's draws for the rest."""
    held = {
        "glass": family == "ood_glass",
        "tables": family == "ood_tables",
        "room": family in ("ood_room", "ood_corner"),
        "spots": family in ("ood_room", "ood_warm", "ood_spots"),
        "warm": family in ("ood_room", "ood_warm"),
    }
    seen_glass, seen_tables, seen_rooms = set(), set(), set()
    for index in range(200):
        spec = sample_scene_v2(12, index, 64, 48, family)
        glass = {o.shape for o in spec.objects if o.category == "transparent" and o.shape != "lid"}
        assert glass, "every diagnostic frame shows glass"
        assert glass <= set(families.HELDOUT_GLASS if held["glass"] else families.GLASS_TRAIN)
        assert spec.table["texture"] in (families.HELDOUT_TABLES if held["tables"] else families.TABLES_TRAIN)
        kelvin_lo, kelvin_hi = (
            families.COLOUR_TEMPERATURE_HELDOUT_K if held["warm"] else families.COLOUR_TEMPERATURE_TRAIN_K
        )
        assert (spec.room["kind"] == "corner") if held["room"] else (spec.room["kind"] in families.ROOMS_TRAIN)
        if held["spots"]:
            assert _lights(spec) == ["warm_spots"]
        else:
            assert set(_lights(spec)) <= set(families.LIGHTS_TRAIN)
        assert all(kelvin_lo <= light["kelvin"] <= kelvin_hi for light in spec.lighting["lights"])
        assert spec.profile["split_family"] == family and spec.split_family == family
        seen_glass |= glass
        seen_tables.add(spec.table["texture"])
        seen_rooms.add(spec.room["kind"])
    assert seen_glass == set(families.HELDOUT_GLASS) if held["glass"] else len(seen_glass) >= 10
    assert seen_tables == set(families.HELDOUT_TABLES) if held["tables"] else len(seen_tables) >= 5
    assert seen_rooms == {"corner"} if held["room"] else seen_rooms == set(families.ROOMS_TRAIN)
    expected = {"ood_room": 3, "ood_warm": 2}.get(family, 1)  # the warm spots: placement and colour
    assert sum(held.values()) == expected


def test_ood_factor_families_share_the_cameras_of_ood_at_one_seed():
    """Rendered with ood's seed, the diagnostic splits see the scenes through ood's cameras."""
    for index in range(20):
        cams = {f: sample_scene_v2(7200, index, 64, 48, f).camera.c2w for f in ("ood", *families.OOD_FACTOR_FAMILIES)}
        for family in families.OOD_FACTOR_FAMILIES:
            np.testing.assert_allclose(cams[family], cams["ood"])


def test_train_tables_adds_table_materials_and_set_2_photos_and_holds_out_the_same():
    """``train_tables`` draws its tables from the extra materials and photos (set 2's training
    photos too), and still nothing held out."""
    from egsa_ros.data.photos import photos_in
    from egsa_ros.data.synth.scene_v2 import TABLE_PHOTOS_SET_2

    heldout_photos = {p.name for p in photos_in("heldout")}
    assert not set(TABLE_PHOTOS_SET_2) & heldout_photos
    seen_tables, seen_photos, no_glass = set(), set(), 0
    for index in range(600):
        spec = sample_scene_v2(21, index, 64, 48, "train_tables")
        assert not {o.shape for o in spec.objects} & set(families.HELDOUT_GLASS)
        assert spec.table["texture"] not in families.HELDOUT_TABLES
        assert spec.room["kind"] not in families.HELDOUT_ROOMS
        seen_tables.add(spec.table["texture"])
        if spec.table["photo"] is not None:
            seen_photos.add(spec.table["photo"])
        no_glass += not [o for o in spec.objects if o.category == "transparent"]
    assert seen_tables == set(families.TABLES_EXTRA) | {"photo"}
    assert seen_photos <= set(TABLE_PHOTOS_SET_2) and any(name.startswith("mvtb_") for name in seen_photos)
    assert 0 < no_glass < 600 * 0.15, "the training family keeps its glass-free negatives"
    profile = sample_scene_v2(21, 0, 64, 48, "train_tables").profile
    assert profile["split_family"] == "train_tables" and profile["table_photo_set"] == 2
    assert "table_photo_set" not in sample_scene_v2(21, 0, 64, 48, "train").profile


def test_train_lights_draws_two_or_three_hard_lights_at_training_temperatures():
    """``train_lights`` lights each scene with 2-3 spot/point lights (colour temperatures of
    ``train``, never the held-out warm range), dims the environment, and holds out the same."""
    lo, hi = families.COLOUR_TEMPERATURE_TRAIN_K
    counts, tables, kinds = set(), set(), set()
    for index in range(300):
        spec = sample_scene_v2(23, index, 64, 48, "train_lights")
        lights = spec.lighting["lights"]
        assert 2 <= len(lights) <= 3
        assert {light["kind"] for light in lights} <= set(families.HARD_LIGHTS)
        assert all(lo <= light["kelvin"] <= hi for light in lights)
        assert spec.lighting["env_scale"] <= 1.5 * 0.3 + 1e-9, "the environment is dimmed"
        assert not {o.shape for o in spec.objects} & set(families.HELDOUT_GLASS)
        assert spec.room["kind"] not in families.HELDOUT_ROOMS
        counts.add(len(lights))
        tables.add(spec.table["texture"])
        kinds |= {light["kind"] for light in lights}
    assert counts == {2, 3} and kinds == set(families.HARD_LIGHTS)
    assert tables == set(families.TABLES_TRAIN) | set(families.TABLES_EXTRA)
    profile = sample_scene_v2(23, 0, 64, 48, "train_lights").profile
    assert profile["split_family"] == "train_lights" and profile["light_count"] == [2, 3]
    assert "light_count" not in sample_scene_v2(23, 0, 64, 48, "train").profile


@pytest.mark.parametrize(
    "family, digest", [("train", "a415f36251a0b023"), ("train_tables", "f8e907f389acab42"), ("ood", "7d34076623363f30")]
)
def test_rendered_split_families_draw_the_same_scenes_as_when_they_were_rendered(family, digest):
    """Frames 0-5 of seed 7000 at 256x192, as drawn when data/egsa_v2 was rendered (checked against
    its meta.json files on 2026-12-04): a new family must not change the old families' draws."""
    import hashlib
    import json

    specs = [sample_scene_v2(7000, i, 256, 192, family).to_dict() for i in range(6)]
    assert hashlib.sha256(json.dumps(specs, sort_keys=True).encode()).hexdigest()[:16] == digest


@pytest.mark.parametrize("kind", families.TABLES_EXTRA)
def test_extra_table_materials_are_deterministic_patterned_bitmaps(kind):
    from egsa_ros.data.synth.textures_v2 import table_bitmap

    a = table_bitmap(kind, np.random.default_rng(5), 128)
    assert a.shape == (128, 128, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.01, "a pattern, not a flat colour"
    np.testing.assert_array_equal(a, table_bitmap(kind, np.random.default_rng(5), 128))
    assert not np.array_equal(a, table_bitmap(kind, np.random.default_rng(6), 128))


def test_train_and_held_out_sets_are_disjoint():
    assert not set(families.GLASS_TRAIN) & set(families.HELDOUT_GLASS)
    assert not set(families.TABLES_TRAIN) & set(families.HELDOUT_TABLES)
    assert not set(families.TABLES_EXTRA) & set(families.HELDOUT_TABLES)
    assert not set(families.ROOMS_TRAIN) & set(families.HELDOUT_ROOMS)
    assert not set(families.LIGHTS_TRAIN) & set(families.HELDOUT_LIGHTS)
    with pytest.raises(ValueError, match="split family"):
        families.choices("test")


def test_v2_cameras_objects_and_negatives():
    no_glass, look = 0, []
    for index in range(400):
        spec = sample_scene_v2(13, index, 64, 48)
        c2w = np.asarray(spec.camera.c2w)
        draw = spec.camera_draw
        assert 40.0 <= spec.camera.hfov_deg <= 90.0
        assert 15.0 - 1e-6 <= pitch_down_deg(c2w) <= 80.0 + 1e-6
        assert 0.3 - 1e-9 <= c2w[2, 3] <= 1.2 + 1e-9 and abs(draw["roll_deg"]) <= 10.0
        glass = [o for o in spec.objects if o.category == "transparent"]
        no_glass += not glass
        for light in spec.lighting["lights"]:  # above the camera: an area light's back never fills the view
            z = light.get("centre", light.get("position", [0, 0, np.inf]))[2]
            assert z >= draw["height_above_table_m"] + 0.2 - 1e-9
            if light["kind"] == "area":
                assert 0.15 <= light["size"] <= 1.0
        look.append(sum(o.role.startswith("lookalike") for o in spec.objects))
        ids = [o.instance_id for o in spec.objects]
        assert ids == list(range(1, len(ids) + 1))
        for o in spec.objects:
            if o.liquid is not None:
                assert o.category == "transparent" and 0.15 <= o.liquid["fill"] <= 0.85
            if o.role.startswith("lid_of:"):
                jar = spec.objects[int(o.role.split(":")[1]) - 1]
                assert jar.shape == "jar" and o.base_z > jar.height
        for i, p in enumerate(spec.objects):  # footprints on the table do not overlap (lids sit on jars)
            for q in spec.objects[i + 1 :]:
                if p.base_z or q.base_z:
                    continue
                assert np.linalg.norm(np.subtract(p.position, q.position)) >= p.footprint_radius + q.footprint_radius
    assert 0.02 < no_glass / 400 < 0.12, "a few glass-free negatives"
    assert np.mean(look) >= 2.0, "several look-alikes per frame"


def test_cli_rejects_mixed_generator_options(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--frames", "1", "--split-family", "ood", "--variant", "scalar_rgb"])
    assert "--split-family needs --generator v2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "--out",
                str(tmp_path),
                "--frames",
                "1",
                "--generator",
                "v2",
                "--ior",
                "1.4,1.5",
                "--variant",
                "scalar_rgb",
            ]
        )
    assert "--ior: v1 options" in capsys.readouterr().err


def test_worker_argv_carries_the_generator(tmp_path):
    args = SimpleNamespace(
        out=tmp_path,
        split="ood",
        frames=8,
        seed=7200,
        width=256,
        height=192,
        spp=32,
        shard=(1, 1),
        jobs=2,
        glass_shapes=None,
        ior=None,
        glass_count=None,
        generator="v2",
        split_family="ood",
    )
    argv = worker_argv(args, "llvm_ad_rgb", (1, 2))
    assert argv[argv.index("--generator") + 1] == "v2" and argv[argv.index("--split-family") + 1] == "ood"


def test_an_hfov_range_changes_only_the_field_of_view_draw_and_is_recorded():
    """--hfov-range: a camera family training never saw, the scenes otherwise drawn alike."""
    for index in range(6):
        base = sample_scene_v2(21, index, 64, 48)
        wide = sample_scene_v2(21, index, 64, 48, hfov_range=(95.0, 110.0))
        assert 95.0 <= wide.camera.hfov_deg <= 110.0 and 40.0 <= base.camera.hfov_deg <= 90.0
        assert wide.camera.c2w == base.camera.c2w  # same pose: only the lens differs
        assert [o["shape"] for o in wide.to_dict()["objects"]] == [o["shape"] for o in base.to_dict()["objects"]]
        assert wide.to_dict()["profile"]["hfov_range_deg"] == [95.0, 110.0]
        assert "hfov_range_deg" not in base.to_dict()["profile"]
    assert sample_scene_v2(21, 0, 64, 48).to_dict() == sample_scene_v2(21, 0, 64, 48, hfov_range=None).to_dict()
