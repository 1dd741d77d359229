"""Camera-aware metric depth (the canonical-camera idea): the network's depth refers to a camera
of focal length ``canonical_focal`` x width; training, validation and inference scale it by the
frame's own fx / width over that. Checked at every place the factor is applied."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from egsa_ros.model import build_model, get_preset
from egsa_ros.model.inference_options import InferenceOptions
from egsa_ros.model.test_time import camera_depth_scale, predict
from egsa_ros.runtime.backends import make_backend
from egsa_ros.runtime.frame_processing import FrameSettings, camera_model, process_frame
from egsa_ros.runtime.pipeline import Pipeline
from egsa_ros.train import trainer as trainer_mod
from egsa_ros.train.config import load_train_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_fixture import write_synthetic_fixture  # noqa: E402

CANONICAL = 0.5 / np.tan(np.radians(65.0) / 2)  # a 65 deg horizontal field of view


def test_depth_scale_is_the_focal_ratio_and_one_without_a_camera():
    options = InferenceOptions(canonical_focal=0.5)
    assert options.depth_scale(640.0, 640) == pytest.approx(2.0)  # fx / W = 1.0: twice the canonical focal
    assert options.depth_scale(160.0, 640) == pytest.approx(0.5)
    assert options.depth_scale(None, 640) == 1.0
    assert InferenceOptions().depth_scale(640.0, 640) == 1.0  # not camera-aware: fx ignored
    for bad_fx in (0.0, -3.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="fx"):
            options.depth_scale(bad_fx, 640)
    for bad in (0.0, -1.0, float("nan"), 100.0):
        with pytest.raises(ValueError, match="canonical_focal"):
            InferenceOptions(canonical_focal=bad)
    assert InferenceOptions.from_dict(options.to_dict()) == options
    assert "camera-aware" in options.describe()


def test_torch_scale_matches_the_numpy_one():
    options = InferenceOptions(canonical_focal=CANONICAL)
    K = torch.tensor([[[200.0, 0, 127.5], [0, 200.0, 95.5], [0, 0, 1]], [[90.0, 0, 127.5], [0, 90.0, 95.5], [0, 0, 1]]])
    scale = camera_depth_scale(K, 256, options)
    assert scale.shape == (2, 1, 1, 1)
    for i, fx in enumerate((200.0, 90.0)):
        assert float(scale[i]) == pytest.approx(options.depth_scale(fx, 256), rel=1e-6)
    assert torch.equal(camera_depth_scale(K, 256, InferenceOptions()), torch.ones(2, 1, 1, 1))


@pytest.fixture(scope="module")
def tiny_network():
    torch.manual_seed(0)
    return build_model(get_preset("tiny")).eval()


def test_predict_scales_depth_by_each_frames_focal_length_and_leaves_the_mask(tiny_network):
    rgb = torch.rand(2, 3, 64, 96) * 255
    K = torch.tensor([[[96.0, 0, 47.5], [0, 96.0, 31.5], [0, 0, 1]], [[48.0, 0, 47.5], [0, 48.0, 31.5], [0, 0, 1]]])
    with torch.no_grad():
        plain_depth, plain_logits = predict(tiny_network, rgb, InferenceOptions())
        depth, logits = predict(tiny_network, rgb, InferenceOptions(canonical_focal=0.5), K=K)
    torch.testing.assert_close(depth[0], plain_depth[0] * 2.0)  # fx/W = 1.0 -> x2
    torch.testing.assert_close(depth[1], plain_depth[1] * 1.0)  # fx/W = 0.5 -> x1
    torch.testing.assert_close(logits, plain_logits)


def test_pipeline_scales_depth_by_fx_and_without_fx_keeps_the_canonical_camera(tiny_network):
    backend = make_backend("torch", network=tiny_network)
    cfg = tiny_network.config
    aware = Pipeline(backend, cfg, "tiny", options=InferenceOptions(canonical_focal=0.5))
    plain = Pipeline(backend, cfg, "tiny")
    rgb = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    reference = plain(rgb)
    assert aware.camera_aware and not plain.camera_aware
    np.testing.assert_allclose(aware(rgb, fx=20.0).depth, reference.depth * 0.5, rtol=1e-6)  # fx/W 0.25
    np.testing.assert_allclose(aware(rgb).depth, reference.depth, rtol=1e-6)
    np.testing.assert_array_equal(aware(rgb, fx=20.0).mask, reference.mask)
    np.testing.assert_allclose(plain(rgb, fx=20.0).depth, reference.depth, rtol=1e-6)  # ignored
    with pytest.raises(ValueError, match="fx"):
        aware(rgb, fx=float("nan"))


def test_frame_processing_passes_the_cameras_fx_and_counts_frames_without_one(tiny_network):
    backend = make_backend("torch", network=tiny_network)
    aware = Pipeline(backend, tiny_network.config, "tiny", options=InferenceOptions(canonical_focal=0.5))
    rgb = np.random.default_rng(1).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    camera = camera_model([40.0, 0, 39.5, 0, 40.0, 23.5, 0, 0, 1], [0.0] * 5, 48, 80)  # fx/W 0.5: x1
    wide = camera_model([20.0, 0, 39.5, 0, 20.0, 23.5, 0, 0, 1], [0.0] * 5, 48, 80)  # fx/W 0.25: x0.5
    base = process_frame(aware, rgb, 0, FrameSettings(), camera=camera)
    halved = process_frame(aware, rgb, 0, FrameSettings(), camera=wide)
    np.testing.assert_allclose(halved.depth, base.depth * 0.5, rtol=1e-6)
    assert not base.skips
    missing = process_frame(aware, rgb, 0, FrameSettings(), camera=None)
    assert [s.key for s in missing.skips] == ["no_camera_info"]
    assert "not scaled" in missing.skips[0].reason or "camera-aware" in missing.skips[0].reason
    np.testing.assert_allclose(missing.depth, base.depth, rtol=1e-6)  # canonical camera
    other_size = camera_model([40.0, 0, 19.5, 0, 40.0, 11.5, 0, 0, 1], [0.0] * 5, 24, 40)
    mismatch = process_frame(aware, rgb, 0, FrameSettings(want_points=True), camera=other_size)
    assert [s.key for s in mismatch.skips] == ["camera_info_size_mismatch"]  # once per frame


def test_training_scales_the_depth_by_the_batch_focal_lengths_and_checkpoints_keep_it(tmp_path):
    root = write_synthetic_fixture(tmp_path / "synth", {"train": 2, "val": 2})
    overrides = [
        f"data.root={root}",
        f"out_dir={tmp_path / 'run'}",
        "model.preset=tiny",
        "data.num_workers=0",
        "optim.batch_size=2",
        "optim.epochs=1",
        "channels_last=false",
        "num_threads=1",
        f"inference.canonical_focal={CANONICAL}",
    ]
    t = trainer_mod.Trainer(load_train_config("default_small", overrides))
    assert t.options.canonical_focal == pytest.approx(CANONICAL)
    seen = []
    loss = t._loss

    def spy(depth_all, seg_all, batch):
        seen.append((depth_all.detach().clone(), batch["K"].clone(), batch["rgb"].shape[-1]))
        return loss(depth_all, seg_all, batch)

    spy.of_prediction = loss.of_prediction
    t._loss = spy
    raw = []
    forward = t.ddp_model.forward

    def spy_forward(*args, **kwargs):
        out = forward(*args, **kwargs)
        if out.depth_all is not None:  # training mode (validation gives the final depth only)
            raw.append(out.depth_all.detach().clone())
        return out

    t.ddp_model.forward = spy_forward
    summary = t.fit()
    t.close()
    assert seen and len(seen) == len(raw)
    depth_all, K, width = seen[0]
    expected = (K[:, 0, 0] / width / CANONICAL).view(-1, 1, 1, 1)
    torch.testing.assert_close(depth_all, raw[0] * expected)
    assert not torch.allclose(expected, torch.ones_like(expected))  # the fixture's camera is not canonical
    saved = json.loads((tmp_path / "run" / "last" / "checkpoint.json").read_text())
    assert saved["inference_options"]["canonical_focal"] == pytest.approx(CANONICAL)
    assert summary is not None
