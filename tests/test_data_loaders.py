"""Dataset readers on tiny fixtures written in each layout: Syn-TODD (MVTrans pickles, read
with a restricted unpickler), ClearPose and our rendered set."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import zstandard

from egsa_ros.data import syntodd
from egsa_ros.data.clearpose import CLEARPOSE_DEPTH_RANGE, ClearPoseDataset
from egsa_ros.data.synthetic import SyntheticDataset
from egsa_ros.data.transforms import IGNORE_INDEX, EvalTransform, TrainTransform

H, W = 24, 32


def smooth_rgb(seed: int) -> np.ndarray:
    """A smooth colour image (survives JPEG within a few grey levels)."""
    ys, xs = np.mgrid[0:H, 0:W]
    r = 60 + 4 * xs + seed * 10
    g = 40 + 5 * ys
    b = np.full_like(xs, 120 + seed * 20)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


# ------------------------------------------------------------------------- Syn-TODD


def _fake_mvtrans_module():
    """Stand-ins with MVTrans's module and class names and fields (dataloaders/template.py)."""
    module = types.ModuleType("dataloaders.template")

    def make(name, fields):
        cls = dataclasses.make_dataclass(name, fields)
        cls.__module__ = "dataloaders.template"
        cls.__qualname__ = name
        setattr(module, name, cls)
        return cls

    make("Stereo", [("left_color", object), ("right_color", object), ("compressed", bool, False)])
    make(
        "OBB",
        [
            ("heat_map", object),
            ("vertex_target", object),
            ("z_centroid", object),
            ("cov_matrices", object),
            ("compressed", bool, False),
            ("obj_names", list, dataclasses.field(default_factory=list)),
        ],
    )
    make(
        "Detection",
        [
            ("camera_T_object", object),
            ("scale_matrix", object),
            ("class_label", str, None),
            ("bbox", list, None),
            ("score", float, 1.0),
            ("object_name", str, ""),
        ],
    )
    make(
        "Panoptic",
        [
            ("stereo", object),
            ("depth", object),
            ("segmentation", object),
            ("instance_segmentation", object),
            ("object_poses", list),
            ("boxes", list),
            ("detections", list),
            ("camera_params", list, dataclasses.field(default_factory=list)),
            ("keypoints", list, dataclasses.field(default_factory=list)),
            ("instance_mask", object, None),
            ("scene_name", str, "sim"),
            ("uid", str, ""),
            ("compressed", bool, False),
        ],
    )
    return module


@pytest.fixture
def mvtrans(monkeypatch):
    package = types.ModuleType("dataloaders")
    module = _fake_mvtrans_module()
    package.template = module
    monkeypatch.setitem(sys.modules, "dataloaders", package)
    monkeypatch.setitem(sys.modules, "dataloaders.template", module)
    return module


K_SYN = np.array([[30.0, 0.0, 15.5], [0.0, 30.0, 11.5], [0.0, 0.0, 1.0]])


def _panoptic(m, uid, seed, camera_params):
    rgb = smooth_rgb(seed)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    depth = np.linspace(0.4, 2.9, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0] = np.nan
    segmentation = np.zeros((H, W), np.int64)
    segmentation[12:, :] = 1
    segmentation[5:10, 5:10] = 2
    segmentation[15:20, 20:25] = 2
    segmentation[0, 1] = -1
    obb = m.OBB(
        heat_map=np.zeros((H, W), np.float16),
        vertex_target=np.zeros((16, 3, 4), np.float16),
        z_centroid=np.zeros((3, 4)),
        cov_matrices=np.zeros((3, 4, 6)),
        compressed=True,
        obj_names=["beaker"],
    )
    det = m.Detection(
        camera_T_object=np.eye(4),
        scale_matrix=np.zeros((4, 4)),
        bbox=np.array([[1, 2], [5, 6]]),
        score=np.float64(0.9),
        object_name="beaker",
    )
    return m.Panoptic(
        stereo=m.Stereo(jpeg.tobytes(), jpeg.tobytes(), compressed=True),
        depth=depth.astype(np.float16),
        segmentation=segmentation,
        instance_segmentation=segmentation * 10,
        object_poses=[obb],
        boxes=None,
        detections=[det],
        camera_params=camera_params,
        keypoints=None,
        scene_name=None,
        uid=uid,
        compressed=True,
    )


def _write_zstd_pickle(path: Path, obj) -> None:
    path.write_bytes(zstandard.ZstdCompressor().compress(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)))


@pytest.fixture
def syntodd_root(tmp_path, mvtrans, monkeypatch):
    """2 views of one scene in root/train (MVTrans uids scene*100 + camera) + 1 in root/val."""
    train = tmp_path / "train"
    train.mkdir()
    params = {
        "camera_intrinsic": (K_SYN * [[2], [2], [1]]).tolist(),
        "resolution_x": 2 * W,
        "resolution_y": 2 * H,
        "camera_extrinsic": np.eye(4),
        "baseline": None,
    }
    _write_zstd_pickle(train / "1700.pickle.zstd", _panoptic(mvtrans, 1700, 0, params))
    _write_zstd_pickle(train / "1701.pickle.zstd", _panoptic(mvtrans, 1701, 1, []))
    # MVTrans grouping file: absolute paths from the authors' machine, first = anchor view
    grouping = {
        "data": [["/home/someone/synthetic_pkl/1701.pickle.zstd", "/x/1700.pickle.zstd"]],
        "num_multiview": 2,
        "num_samples": 1,
    }
    (train / "2_1.json").write_text(json.dumps(grouping))
    (tmp_path / "train.json").write_text(json.dumps([1700, "1701"]))
    # Readers must not need MVTrans's classes.
    monkeypatch.delitem(sys.modules, "dataloaders")
    monkeypatch.delitem(sys.modules, "dataloaders.template")
    return tmp_path


def test_syntodd_reads_views_with_labels_depth_and_K(syntodd_root):
    ds = syntodd.SynTODDDataset(syntodd_root, "train")  # root/train.json
    assert len(ds) == 2
    s = ds[0]
    assert s["uid"] == "1700"
    assert s["rgb"].shape == (H, W, 3) and s["rgb"].dtype == np.uint8
    assert np.abs(s["rgb"].astype(int) - smooth_rgb(0).astype(int)).max() <= 12  # JPEG, RGB order
    assert s["depth"].shape == (H, W) and s["depth"].dtype == np.float32
    expected = np.linspace(0.4, 2.9, H * W, dtype=np.float32).reshape(H, W)
    np.testing.assert_allclose(s["depth"].ravel()[1:], expected.ravel()[1:], atol=2e-3)  # float16
    assert s["depth"][0, 0] == 0.0  # NaN -> invalid
    assert s["labels"].dtype == np.int64 and set(np.unique(s["labels"])) == {0, 1, 2, IGNORE_INDEX}
    assert s["labels"][0, 1] == IGNORE_INDEX and s["labels"][7, 7] == 2 and s["labels"][20, 0] == 1
    # camera_params for a 2x larger render: K scaled to this image
    np.testing.assert_allclose(s["K"], syntodd.scale_intrinsics(K_SYN * [[2], [2], [1]], (2 * H, 2 * W), (H, W)))
    # no camera_params: MVTrans's default Blender camera, scaled from 640x480
    s1 = ds[1]
    assert s1["uid"] == "1701"
    np.testing.assert_allclose(s1["K"][0, 0], 613.9624633789062 * W / 640)


def test_syntodd_split_sources_and_transform(syntodd_root):
    grouped = syntodd.SynTODDDataset(syntodd_root, "train", split_file="train/2_1.json")
    assert [p.name for p in grouped.files] == ["1701.pickle.zstd"]
    both = syntodd.SynTODDDataset(syntodd_root, "train", split_file="train/2_1.json", views="all")
    assert [p.name for p in both.files] == ["1701.pickle.zstd", "1700.pickle.zstd"]
    (syntodd_root / "train.json").unlink()
    folder = syntodd.SynTODDDataset(syntodd_root, "train")  # every file of root/train
    assert [p.name for p in folder.files] == ["1700.pickle.zstd", "1701.pickle.zstd"]
    with pytest.raises(FileNotFoundError, match="val"):
        syntodd.SynTODDDataset(syntodd_root, "val")
    tf = TrainTransform((16, 24), *syntodd.SYNTODD_DEPTH_RANGE)
    batch = next(
        iter(torch.utils.data.DataLoader(syntodd.SynTODDDataset(syntodd_root, "train", transform=tf), batch_size=2))
    )
    assert batch["rgb"].shape == (2, 3, 16, 24) and batch["depth"].shape == (2, 1, 16, 24)
    assert batch["valid"].dtype == torch.bool and batch["labels"].dtype == torch.int64
    assert batch["K"].shape == (2, 3, 3) and batch["uid"] == ["1700", "1701"]


def test_syntodd_reads_numpy1_protocol2_pickles(mvtrans):
    """Files written under numpy 1.x name numpy.core.*; protocol 2 stores bytes via _codecs."""
    dp = _panoptic(mvtrans, 5, 0, {"camera_intrinsic": K_SYN.tolist()})
    data = pickle.dumps(dp, protocol=2).replace(b"numpy._core", b"numpy.core")
    assert b"numpy.core.multiarray" in data and b"_codecs" in data
    record = syntodd.restricted_loads(data)
    assert type(record).__name__ == "Panoptic" and isinstance(record, syntodd.MVTransRecord)
    assert type(record.stereo).__name__ == "Stereo" and record.object_poses[0].obj_names == ["beaker"]
    np.testing.assert_array_equal(record.depth, dp.depth)
    assert record.detections[0].score == pytest.approx(0.9)
    sample = syntodd.datapoint_to_sample(record)
    np.testing.assert_allclose(sample["K"], K_SYN)


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Popen:
    def __init__(self, argv):
        self.argv = argv

    def __reduce__(self):
        return (subprocess.Popen, (self.argv,))


class _Eval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def test_restricted_unpickler_refuses_code_and_unknown_classes(tmp_path, mvtrans):
    marker = tmp_path / "pwned"
    # A hand-written protocol-0 pickle calling os.system; control: plain pickle WOULD run it.
    control = tmp_path / "control"
    pickle.loads(f"cos\nsystem\n(S'touch {control}'\ntR.".encode())
    assert control.exists()
    raw_os_system = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle global os.system"):
        syntodd.restricted_loads(raw_os_system)
    path = tmp_path / "raw.pickle.zstd"
    path.write_bytes(zstandard.ZstdCompressor().compress(raw_os_system))
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        syntodd.read_datapoint(path)

    Evil = type("Evil", (), {"__module__": "dataloaders.template"})
    mvtrans.Evil = Evil
    payloads = [  # (payload, the global pickle names for it)
        (_System(f"touch {marker}"), f"{os.system.__module__}.system"),  # posix.system on Linux
        (_Popen(["touch", str(marker)]), "subprocess.Popen"),
        (_Eval(f"open({str(marker)!r}, 'w')"), "builtins.eval"),
        (Evil(), "dataloaders.template.Evil"),
    ]
    folder = tmp_path / "evil"
    folder.mkdir()
    for i, (payload, name) in enumerate(payloads):
        # nested inside a genuine datapoint, as an attacker would ship it
        dp = _panoptic(mvtrans, 9000 + i, 0, {"camera_intrinsic": payload})
        data = pickle.dumps(dp, protocol=pickle.HIGHEST_PROTOCOL)
        with pytest.raises(pickle.UnpicklingError, match=f"refusing to unpickle global {name}"):
            syntodd.restricted_loads(data)
        path = folder / f"{9000 + i}.pickle.zstd"
        _write_zstd_pickle(path, dp)
        with pytest.raises(pickle.UnpicklingError, match=name):
            syntodd.read_datapoint(path)
        assert not marker.exists(), f"{name} payload ran"
    with pytest.raises(pickle.UnpicklingError):  # persistent ids are refused too
        syntodd.restricted_loads(b"\x80\x05P0\n.")
    assert not marker.exists()


# ------------------------------------------------------------------------- ClearPose

K_CP = np.array([[35.0, 0.0, 16.2], [0.0, 35.5, 11.9], [0.0, 0.0, 1.0]])


@pytest.fixture
def clearpose_root(tmp_path):
    savemat = pytest.importorskip("scipy.io").savemat  # metadata.mat needs scipy

    scene = tmp_path / "set1" / "scene1"
    scene.mkdir(parents=True)
    meta = {}
    for i in range(2):
        fid = f"{i:06d}"
        cv2.imwrite(str(scene / f"{fid}-color.png"), cv2.cvtColor(smooth_rgb(i), cv2.COLOR_RGB2BGR))
        depth = np.full((H, W), 1500 + i, np.uint16)
        depth[0, :4] = 0
        depth[1, :4] = 200  # 0.2 m: below ClearPose's 0.3 m
        depth[2, :4] = 3200  # beyond 3 m
        cv2.imwrite(str(scene / f"{fid}-depth_true.png"), depth)
        cv2.imwrite(str(scene / f"{fid}-depth.png"), np.zeros((H, W), np.uint16))
        label = np.zeros((H, W), np.uint8)
        label[10:20, 10:20] = 17
        label[3:6, 3:6] = 4
        cv2.imwrite(str(scene / f"{fid}-label.png"), label)
        meta[fid] = {
            "intrinsic_matrix": K_CP,
            "factor_depth": np.array([[1000.0]]),
            "cls_indexes": np.array([[17], [4]]),
        }
    savemat(str(scene / "metadata.mat"), meta)
    # MODEST schema: set -> scene -> frame count (frame 000002 is missing and skipped)
    config = {"train": {"set1": {"scene1": 3}}, "test": [["set1", "scene1"]]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_clearpose_reads_frames_in_metres_with_binary_labels(clearpose_root):
    ds = ClearPoseDataset(clearpose_root, "train")
    assert len(ds) == 2 and [f[2] for f in ds.frames] == ["000000", "000001"]
    s = ds[1]
    assert s["frame"] == "set1/scene1/000001"
    np.testing.assert_array_equal(s["rgb"], smooth_rgb(1))
    assert s["depth"].dtype == np.float32 and s["depth"][5, 5] == pytest.approx(1.501)
    assert s["depth"][0, 0] == 0.0
    assert s["labels"].dtype == np.int64 and set(np.unique(s["labels"])) == {0, 1}
    assert s["labels"][15, 15] == 1 and s["labels"][4, 4] == 1 and s["labels"][0, 0] == 0
    np.testing.assert_allclose(s["K"], K_CP)  # from metadata.mat
    out = EvalTransform((H, W), *CLEARPOSE_DEPTH_RANGE)(s)
    valid = out["valid"][0]
    assert not valid[:3, :4].any() and valid[3:].all()  # 0, 0.2 m and 3.2 m are not valid


def test_clearpose_intrinsics_precedence_and_split_forms(clearpose_root):
    listed = ClearPoseDataset(clearpose_root, "test")  # [set, scene] pairs: every frame found
    assert len(listed) == 2
    config = json.loads((clearpose_root / "config.json").read_text())
    config["intrinsics"] = {"set1": (K_CP * 2).tolist()}
    (clearpose_root / "config.json").write_text(json.dumps(config))
    np.testing.assert_allclose(ClearPoseDataset(clearpose_root, "train")[0]["K"], K_CP * 2)
    np.testing.assert_allclose(ClearPoseDataset(clearpose_root, "train", K=K_CP * 3)[0]["K"], K_CP * 3)
    del config["intrinsics"]
    (clearpose_root / "config.json").write_text(json.dumps(config))
    (clearpose_root / "set1" / "scene1" / "metadata.mat").unlink()
    with pytest.raises(FileNotFoundError, match="no intrinsics"):
        ClearPoseDataset(clearpose_root, "train")[0]
    with pytest.raises(KeyError, match="val"):
        ClearPoseDataset(clearpose_root, "val")


# ------------------------------------------------------------------- our rendered set

K_OURS = np.array([[28.0, 0.0, 15.5], [0.0, 28.0, 11.5], [0.0, 0.0, 1.0]])


@pytest.fixture
def synthetic_root(tmp_path):
    for i in range(2):
        frame = tmp_path / "train" / f"{i:06d}"
        frame.mkdir(parents=True)
        cv2.imwrite(str(frame / "rgb.png"), cv2.cvtColor(smooth_rgb(i), cv2.COLOR_RGB2BGR))
        gt = np.full((H, W), 1234, np.uint16)
        gt[0, 0] = 0
        sensor = gt.copy()
        sensor[8:12, 8:12] = 0  # the camera misses the glass
        cv2.imwrite(str(frame / "depth_gt.png"), gt)
        cv2.imwrite(str(frame / "depth_sensor.png"), sensor)
        semantic = np.zeros((H, W), np.uint8)
        semantic[12:] = 1
        semantic[8:12, 8:12] = 2
        semantic[2:4, 20:24] = 3
        semantic[0, 5] = 9
        cv2.imwrite(str(frame / "semantic.png"), semantic)
        instance = np.zeros((H, W), np.uint16)
        instance[8:12, 8:12] = 300
        cv2.imwrite(str(frame / "instance.png"), instance)
        (frame / "meta.json").write_text(json.dumps({"K": K_OURS.tolist(), "width": W, "height": H, "seed": 40 + i}))
    (tmp_path / "train" / "notes.txt").write_text("not a frame")
    return tmp_path


def test_synthetic_reads_frames_and_maps_classes(synthetic_root):
    ds = SyntheticDataset(synthetic_root, "train")
    assert len(ds) == 2
    s = ds[1]
    assert s["frame"] == "000001" and s["seed"] == 41
    np.testing.assert_array_equal(s["rgb"], smooth_rgb(1))
    assert s["depth"].dtype == np.float32 and s["depth"][5, 5] == pytest.approx(1.234)
    assert s["depth"][0, 0] == 0.0
    assert s["depth_sensor"][9, 9] == 0.0 and s["depth"][9, 9] == pytest.approx(1.234)
    assert s["labels"][9, 9] == 2 and s["labels"][20, 0] == 1
    assert s["labels"][3, 21] == 0  # opaque distractor -> background
    assert s["labels"][0, 5] == IGNORE_INDEX  # unknown id -> ignore
    assert s["instance"].dtype == np.int64 and s["instance"][9, 9] == 300
    np.testing.assert_allclose(s["K"], K_OURS)
    out = TrainTransform((12, 16), 0.0, 3.0)(s, np.random.default_rng(0))
    assert out["depth_sensor"].shape == (1, 12, 16) and out["instance"].shape == (12, 16)


def test_synthetic_rejects_inconsistent_meta(synthetic_root):
    meta = synthetic_root / "train" / "000000" / "meta.json"
    meta.write_text(json.dumps({"K": K_OURS.tolist(), "width": W + 1, "height": H}))
    with pytest.raises(ValueError, match="meta.json says"):
        SyntheticDataset(synthetic_root, "train")[0]
    with pytest.raises(FileNotFoundError):
        SyntheticDataset(synthetic_root, "val")
