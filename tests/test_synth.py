"""egsa-synth: lathe meshes, scene sampling, sensor model, and one tiny rendered frame.

Rendering uses Mitsuba's ``scalar_rgb`` variant (needs only ``pip install mitsuba``) at
64x48 and 4 spp; those tests skip when Mitsuba is not installed.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from egsa_ros.data.synth.camera import intrinsics, look_at, pitch_down_deg, project
from egsa_ros.data.synth.cli import main, parse_shard, shard_indices
from egsa_ros.data.synth.lathe import LATHE_KINDS, MAX_SEGMENT_M, resample_profile, revolve, sample_profile
from egsa_ros.data.synth.scene import sample_scene
from egsa_ros.data.synth.sensor_model import SensorParams, simulate_sensor_depth

W, H, SPP = 64, 48, 4


# ------------------------------------------------------------------------ lathe meshes
@pytest.mark.parametrize("kind", LATHE_KINDS)
def test_lathe_mesh_closed_and_consistent(kind):
    profile, dims = sample_profile(kind, np.random.default_rng(3))
    seg = np.linalg.norm(np.diff(resample_profile(profile), axis=0), axis=1)
    assert seg.max() <= MAX_SEGMENT_M + 1e-9
    mesh = revolve(profile)
    v, f, n = mesh.vertices, mesh.faces, mesh.normals
    assert v.dtype == np.float32 and f.dtype == np.uint32 and n.shape == v.shape
    assert f.max() < len(v)
    e1, e2 = v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
    cross = np.cross(e1, e2)
    area = 0.5 * np.linalg.norm(cross, axis=1)
    assert area.min() > 1e-10, "degenerate triangle"
    # Watertight: after merging duplicated corner rows, every edge has exactly two faces,
    # traversed in opposite directions (consistent winding).
    _, canon = np.unique(np.round(v / 1e-6).astype(np.int64), axis=0, return_inverse=True)
    cf = canon.reshape(-1)[f]
    directed = np.concatenate([cf[:, [0, 1]], cf[:, [1, 2]], cf[:, [2, 0]]])
    as_set = {tuple(e) for e in directed.tolist()}
    assert len(as_set) == len(directed), "an edge is used twice in the same direction"
    assert all((b, a) in as_set for a, b in as_set), "open boundary edge"
    # Winding agrees with the outward vertex normals.
    face_n = cross / np.linalg.norm(cross, axis=1, keepdims=True)
    agree = np.einsum("ij,ij->i", face_n, n[f].mean(axis=1))
    assert (agree > 0).mean() > 0.99
    # Real dimensions in metres: tabletop glassware.
    assert 0.02 < v[:, 2].max() < 0.35 and 0.01 < np.abs(v[:, :2]).max() < 0.12


def test_revolve_rejects_open_profile():
    with pytest.raises(ValueError):
        revolve(np.array([[0.01, 0.0], [0.02, 0.1], [0.0, 0.1]]))


# ------------------------------------------------------------------------ scene sampling
def test_scene_sampling_deterministic():
    a, b = sample_scene(7, 11, W, H).to_dict(), sample_scene(7, 11, W, H).to_dict()
    assert a == b
    assert sample_scene(8, 11, W, H).to_dict() != a
    assert sample_scene(7, 12, W, H).to_dict() != a


def test_camera_and_objects_within_ranges():
    for index in range(40):
        spec = sample_scene(1, index, W, H)
        c2w = np.asarray(spec.camera.c2w)
        assert 20.0 <= pitch_down_deg(c2w) <= 60.0
        assert np.allclose(c2w[:3, :3] @ c2w[:3, :3].T, np.eye(3), atol=1e-9)
        assert c2w[2, 3] > 0.05, "camera above the table"
        assert 60.0 <= spec.camera.hfov_deg <= 70.0
        assert any(o.category == "transparent" for o in spec.objects)
        assert 1 <= sum(o.category == "transparent" for o in spec.objects) <= 4
        assert sum(o.category == "opaque" for o in spec.objects) <= 3
        for o in spec.objects:
            centre = np.array([*o.position, o.height / 2])
            assert 0.3 <= np.linalg.norm(centre - c2w[:3, 3]) <= 1.5
            if o.category == "transparent":
                assert 1.33 <= o.material["ior"] <= 1.6
            uv, z = project(spec.camera.K, c2w, centre[None])
            assert z[0] > 0, "object in front of the camera"
        for i, p in enumerate(spec.objects):  # footprints do not overlap
            for q in spec.objects[i + 1 :]:
                gap = np.linalg.norm(np.subtract(p.position, q.position))
                assert gap >= p.footprint_radius + q.footprint_radius


def test_intrinsics_and_look_at():
    K = intrinsics(640, 480, 90.0)
    assert K[0, 0] == pytest.approx(320.0) and K[1, 1] == pytest.approx(320.0)
    assert (K[0, 2], K[1, 2]) == (319.5, 239.5)
    c2w = look_at([0, -1, 1], [0, 0, 0])
    uv, z = project(K, c2w, np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 0.1]]))
    assert uv[0] == pytest.approx([319.5, 239.5]) and z[0] == pytest.approx(np.sqrt(2))
    assert uv[1, 0] > uv[0, 0], "world +x appears to the right"
    assert uv[2, 1] < uv[0, 1], "world up appears higher in the image (smaller v)"


# ------------------------------------------------------------------------ sensor model
def test_sensor_model_dropout_and_noise():
    rng = np.random.default_rng(0)
    depth = np.tile(np.linspace(0.5, 3.0, 200, dtype=np.float32), (100, 1))
    glass = np.zeros(depth.shape, bool)
    glass[30:70, 20:180] = True
    params = SensorParams(glass_dropout=0.5, dropout_blob_px=2.0, edge_dropout=0.5, noise_k=0.003)
    out = simulate_sensor_depth(depth, glass, params, rng)
    assert out.dtype == np.float32 and out.shape == depth.shape
    inner = glass.copy()
    inner[[30, 69], :] = False
    inner[:, [20, 179]] = False
    assert 0.35 < (out[inner] == 0).mean() < 0.65
    plain = ~glass & (out > 0)
    err = np.abs(out - depth)
    near, far = plain & (depth < 1.0), plain & (depth > 2.5)
    assert err[far].std() > 3 * err[near].std(), "noise grows with depth^2"


# ------------------------------------------------------------------------ CLI parsing
def test_shards_cover_every_index_once():
    for n in range(1, 6):
        got = sorted(i for k in range(1, n + 1) for i in shard_indices(23, (k, n)))
        assert got == list(range(23))
    assert shard_indices(10, parse_shard("2/4")) == [1, 5, 9]


@pytest.mark.parametrize("bad", ["0/4", "5/4", "1/0", "a/b", "1-4", "1/4/2", ""])
def test_bad_shard_gives_clear_error(bad, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--frames", "2", "--shard", bad, "--variant", "scalar_rgb"])
    assert exc.value.code == 2
    assert "--shard" in capsys.readouterr().err


# ------------------------------------------------------------------------ one rendered frame
@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    pytest.importorskip("mitsuba")
    out = tmp_path_factory.mktemp("synth")
    argv = [
        "--out",
        str(out),
        "--split",
        "val",
        "--frames",
        "1",
        "--seed",
        "0",
        "--width",
        str(W),
        "--height",
        str(H),
        "--spp",
        str(SPP),
        "--variant",
        "scalar_rgb",
        "--no-progress",
    ]
    assert main(argv) == 0
    return out, argv


def _read(frame_dir, name):
    return cv2.imread(str(frame_dir / name), cv2.IMREAD_UNCHANGED)


def test_frame_files_types_and_shapes(rendered):
    out, _ = rendered
    fd = out / "val" / "000000"
    rgb = _read(fd, "rgb.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (H, W, 3) and rgb.std() > 5
    for name, dtype in [
        ("depth_gt.png", np.uint16),
        ("depth_sensor.png", np.uint16),
        ("semantic.png", np.uint8),
        ("instance.png", np.uint16),
    ]:
        img = _read(fd, name)
        assert img.dtype == dtype and img.shape == (H, W), name
    meta = json.loads((fd / "meta.json").read_text())
    assert meta["complete"] and meta["width"] == W and meta["height"] == H
    assert meta["seed"] == 0 and meta["frame_index"] == 0 and meta["spp"] == SPP
    assert meta["variant"] == "scalar_rgb"
    K = np.array(meta["K"])
    assert K.shape == (3, 3) and np.allclose(K, intrinsics(W, H, meta["hfov_deg"]))
    assert K[0, 2] == pytest.approx((W - 1) / 2) and K[1, 2] == pytest.approx((H - 1) / 2)
    assert np.array(meta["camera_to_world"]).shape == (4, 4)


def test_frame_labels_and_depths(rendered):
    out, _ = rendered
    fd = out / "val" / "000000"
    meta = json.loads((fd / "meta.json").read_text())
    gt = _read(fd, "depth_gt.png").astype(np.float64) / 1000.0
    sensor = _read(fd, "depth_sensor.png").astype(np.float64) / 1000.0
    sem, inst = _read(fd, "semantic.png"), _read(fd, "instance.png")
    assert set(np.unique(sem)) <= {0, 1, 2, 3}
    glass = sem == 2
    assert glass.sum() >= 10, "the test frame shows glass"
    assert (gt[glass] > 0).all()
    # The sensor sees through glass: where it reads anything, it reads farther than the glass.
    seen = glass & (sensor > 0)
    assert seen.sum() >= 3
    assert (gt[seen] < sensor[seen]).mean() >= 0.9 and np.median(sensor[seen] - gt[seen]) > 0.005
    assert (sensor[glass] == 0).any(), "some glass pixels drop out"
    # Instances: transparent objects' pixels are exactly the semantic-2 pixels.
    glass_ids = [o["instance_id"] for o in meta["objects"] if o["category"] == "transparent"]
    assert np.array_equal(np.isin(inst, glass_ids) & (inst > 0), glass)
    for o in meta["objects"]:
        assert o["pixels"] == int((inst == o["instance_id"]).sum())
    # K, pose and z-depth agree: table pixels back-project onto the plane z = 0.
    K, c2w = np.array(meta["K"]), np.array(meta["camera_to_world"])
    v, u = np.nonzero(sem == 1)
    z = gt[v, u]
    pc = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=1)
    world = pc @ c2w[:3, :3].T + c2w[:3, 3]
    assert np.abs(world[:, 2]).max() < 0.004


def test_rerun_skips_finished_frame(rendered, capsys):
    out, argv = rendered
    meta = out / "val" / "000000" / "meta.json"
    before = meta.stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 rendered, 1 skipped" in capsys.readouterr().out
    assert meta.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    "change, setting",
    [
        (["--seed", "7"], "seed"),
        (["--spp", "3"], "spp"),
        (["--width", "40"], "width"),
        (["--ior", "1.7,1.8"], "scene_profile"),
        (["--variant", "llvm_ad_rgb"], "variant"),
    ],
)
def test_resume_with_other_settings_is_refused(rendered, capsys, change, setting):
    """Adding frames to a split with another seed / size / spp / profile / variant would mix two
    distributions in it silently: the CLI refuses before rendering anything."""
    out, argv = rendered
    argv = list(argv)
    argv[argv.index("--frames") + 1] = "2"
    for i in range(0, len(change), 2):
        if change[i] in argv:
            argv[argv.index(change[i]) + 1] = change[i + 1]
        else:
            argv += change[i : i + 2]
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    msg = capsys.readouterr().err
    assert "other settings" in msg and f"{setting}:" in msg
    assert not (out / "val" / "000001").exists()


def test_fallback_to_scalar_variant_is_announced(rendered, capsys, monkeypatch):
    """With no usable LLVM, ``--variant auto`` renders with scalar_rgb and says so (its pixels
    differ slightly from the llvm_ad_rgb frames the model card was measured on); asking for
    scalar_rgb explicitly gives no warning."""
    import egsa_ros.data.synth.cli as cli

    out, argv = rendered  # resuming the rendered split: nothing is rendered again
    monkeypatch.setattr(cli, "resolve_variant", lambda name: "scalar_rgb" if name == "auto" else name)
    capsys.readouterr()
    assert main(argv) == 0
    assert "no usable LLVM" not in capsys.readouterr().err
    auto = list(argv)
    auto[auto.index("--variant") + 1] = "auto"
    assert main(auto) == 0
    err = capsys.readouterr().err
    assert "variant scalar_rgb" in err and "no usable LLVM" in err and "libllvm19" in err


def test_bag_export(rendered, tmp_path):
    pytest.importorskip("rosbags")
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    out, argv = rendered
    assert main(argv + ["--bag", str(tmp_path / "frames.mcap")]) == 0
    ts = get_typestore(Stores.ROS2_KILTED)
    with Reader(tmp_path / "frames") as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {
            t: 1
            for t in (
                "/camera/color/image_raw",
                "/camera/color/camera_info",
                "/camera/depth/image_rect_raw",
                "/gt/depth",
                "/gt/mask",
            )
        }
        for conn, _, raw in reader.messages():
            msg = ts.deserialize_cdr(raw, conn.msgtype)
            assert (msg.height, msg.width) == (H, W)
            if conn.topic == "/gt/depth":
                assert msg.encoding == "32FC1"
    assert (tmp_path / "frames" / "frames.mcap").is_file()


def test_shard_renders_only_its_frames_and_identically(rendered, tmp_path):
    out, argv = rendered
    shard_argv = [a if a != str(out) else str(tmp_path) for a in argv]
    shard_argv[shard_argv.index("--frames") + 1] = "2"
    assert main(shard_argv + ["--shard", "1/2"]) == 0
    assert not (tmp_path / "val" / "000001").exists()
    for name in ("rgb.png", "depth_gt.png", "depth_sensor.png", "semantic.png", "instance.png"):
        a = (out / "val" / "000000" / name).read_bytes()
        assert a == (tmp_path / "val" / "000000" / name).read_bytes(), name


def test_incomplete_frame_is_rendered_again(rendered, tmp_path, capsys):
    out, argv = rendered
    other = [a if a != str(out) else str(tmp_path) for a in argv]
    assert main(other) == 0
    (tmp_path / "val" / "000000" / "meta.json").unlink()  # as if killed before the last write
    capsys.readouterr()
    assert main(other) == 0
    assert "1 rendered, 0 skipped" in capsys.readouterr().out
    assert json.loads((tmp_path / "val" / "000000" / "meta.json").read_text())["complete"]


def test_variant_names():
    from egsa_ros.data.synth.variant import resolve_variant

    assert resolve_variant("scalar_rgb") == "scalar_rgb"
    with pytest.raises(ValueError):
        resolve_variant("cuda_rgb_typo")


def test_cuda_variant_without_a_gpu_is_refused_with_the_reason(tmp_path, capsys):
    """``--variant cuda_ad_rgb`` where no GPU traces a ray: one line naming why, nothing rendered."""
    pytest.importorskip("mitsuba")
    from egsa_ros.data.synth.variant import cuda_works

    if cuda_works():
        pytest.skip("a CUDA GPU works here: the refusal is for machines without one")
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--frames", "1", "--variant", "cuda_ad_rgb", "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "variant cuda_ad_rgb: no NVIDIA GPU" in err and "Traceback" not in err
    assert not (tmp_path / "train").exists()


def test_cuda_variant_renders_the_same_scene_as_the_cpu(rendered, tmp_path):
    """On a GPU: the same frame through ``cuda_ad_rgb`` has the CPU render's labels and depth
    (ray-cast, so equal up to float rounding) and a close image (another sampler stream)."""
    from egsa_ros.data.synth.variant import cuda_works

    if not cuda_works():
        pytest.skip("needs an NVIDIA GPU with a working CUDA driver for Mitsuba's cuda_ad_rgb (none here)")
    out, argv = rendered
    cuda = list(argv)
    cuda[cuda.index("--out") + 1] = str(tmp_path)
    cuda[cuda.index("--variant") + 1] = "cuda_ad_rgb"
    assert main(cuda) == 0
    cpu_dir, gpu_dir = out / "val" / "000000", tmp_path / "val" / "000000"
    assert json.loads((gpu_dir / "meta.json").read_text())["variant"] == "cuda_ad_rgb"
    sem_cpu, sem_gpu = _read(cpu_dir, "semantic.png"), _read(gpu_dir, "semantic.png")
    assert (sem_cpu == sem_gpu).mean() >= 0.99
    gt_cpu = _read(cpu_dir, "depth_gt.png").astype(np.float64)
    gt_gpu = _read(gpu_dir, "depth_gt.png").astype(np.float64)
    assert np.median(np.abs(gt_cpu - gt_gpu)) <= 1.0  # millimetres
    rgb_cpu, rgb_gpu = _read(cpu_dir, "rgb.png").astype(float), _read(gpu_dir, "rgb.png").astype(float)
    assert abs(rgb_cpu.mean() - rgb_gpu.mean()) < 10


# ------------------------------------------------------------------------ held-out profiles


def test_scene_profile_restricts_shapes_ior_and_count():
    from egsa_ros.data.synth.scene import DEFAULT_PROFILE, SceneProfile, sample_scene

    profile = SceneProfile(glass_shapes=("flask", "bowl"), ior_range=(1.5, 1.6), glass_count=(4, 6))
    counts = []
    for i in range(40):
        spec = sample_scene(5, i, profile=profile)
        glass = [o for o in spec.objects if o.category == "transparent"]
        counts.append(len(glass))
        assert all(o.shape in ("flask", "bowl") and 1.5 <= o.material["ior"] <= 1.6 for o in glass)
        assert spec.profile == profile.to_dict()
    assert max(counts) >= 4  # packing may drop some, but groups are larger than the default 1-4
    assert sample_scene(5, 3).profile == DEFAULT_PROFILE.to_dict()
    with pytest.raises(ValueError, match="subset"):
        SceneProfile(glass_shapes=("teapot",))
    with pytest.raises(ValueError, match="IOR range"):
        SceneProfile(ior_range=(1.6, 1.4))


def test_cli_profile_options_are_checked(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--frames", "1", "--glass-shapes", "teapot"])
    assert "unknown glass shapes ['teapot']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--frames", "1", "--ior", "1.7,1.2", "--variant", "scalar_rgb"])
    assert "IOR range" in capsys.readouterr().err


def test_training_data_can_hold_shapes_and_materials_out(tmp_path):
    import json

    from synthetic_fixture import write_synthetic_fixture

    from egsa_ros.data.synthetic import SyntheticDataset

    root = write_synthetic_fixture(tmp_path, {"train": 3})
    frames = sorted((root / "train").iterdir())
    shown = [[("flask", 1.45)], [("tumbler", 1.55)], [("tumbler", 1.4), ("box", 1.5)]]
    for frame, objects in zip(frames, shown):
        meta = json.loads((frame / "meta.json").read_text())
        meta["objects"] = [{"category": "transparent", "shape": s, "ior": ior} for s, ior in objects]
        meta["objects"].append({"category": "opaque", "shape": "flask"})  # opaque flasks do not count
        (frame / "meta.json").write_text(json.dumps(meta))
    assert len(SyntheticDataset(root, "train")) == 3
    kept = SyntheticDataset(root, "train", exclude_glass_shapes=["flask"], max_glass_ior=1.5)
    assert kept.frames == [frames[2]] and kept.excluded == 2
    with pytest.raises(FileNotFoundError, match="no frame of .* is left"):
        SyntheticDataset(root, "train", exclude_glass_shapes=["flask", "tumbler"])
