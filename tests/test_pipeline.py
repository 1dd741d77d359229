"""The ROS-free pipeline: any frame size in, depth + mask out; backends agree; clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from egsa_ros import load_pipeline
from egsa_ros.data.generated import tabletop_frame
from egsa_ros.model import build_model, get_preset
from egsa_ros.model.frame_onnx import graph_exporter
from egsa_ros.model.model_source import bundled_model_dir
from egsa_ros.runtime.backends import make_backend
from egsa_ros.runtime.pipeline import Pipeline
from egsa_ros.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def tiny_pipelines(tmp_path_factory):
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    net = build_model(cfg).eval()
    return (
        Pipeline(make_backend("torch", network=net), cfg, "tiny"),
        Pipeline(make_backend("onnxruntime", export=graph_exporter(net)), cfg, "tiny"),
    )


@pytest.mark.parametrize("size", [(480, 640), (250, 330), (64, 96), (721, 1281)])
def test_any_frame_size_gives_depth_and_mask_of_that_size(tiny_pipelines, size):
    pipe = tiny_pipelines[0]
    rgb = tabletop_frame(1, *size)
    pred = pipe(rgb)
    assert pred.depth.shape == size and pred.depth.dtype == np.float32
    assert pred.mask.shape == size and pred.mask.dtype == np.uint8
    assert set(np.unique(pred.mask)) <= {0, 1}
    assert np.isfinite(pred.depth).all()
    assert pred.depth.min() >= pipe.config.d_min and pred.depth.max() <= pipe.config.d_max
    assert set(pred.timings) == {"preprocess", "inference", "postprocess", "total"}
    assert pred.timings["total"] >= pred.timings["inference"] > 0


def test_onnxruntime_and_torch_backends_agree(tiny_pipelines):
    torch_pipe, ort_pipe = tiny_pipelines
    rgb = tabletop_frame(7)
    a, b = torch_pipe(rgb), ort_pipe(rgb)
    # the providers ONNX Runtime really uses are known once a session exists
    assert ort_pipe.backend.providers[-1] == "CPUExecutionProvider"
    assert ort_pipe.backend_name.startswith("onnxruntime-") and torch_pipe.backend_name == "torch-cpu"
    assert np.abs(a.depth - b.depth).max() <= 1e-4
    assert (a.mask == b.mask).mean() > 0.999


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((48, 64, 3), np.float32), "uint8"),
        (np.zeros((48, 64), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((48, 64, 4), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((1, 64, 3), np.uint8), "too small"),
    ],
)
def test_bad_frames_raise_clear_errors(tiny_pipelines, bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_pipelines[0](bad)


def test_load_pipeline_without_a_bundled_model_refuses_unless_random_weights_are_allowed(caplog, monkeypatch):
    import egsa_ros.model.model_source as source

    monkeypatch.setattr(source, "bundled_model_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="no trained model found"):
        load_pipeline(backend="torch")
    pipe = load_pipeline(backend="torch", allow_random_weights=True)
    assert pipe.config == get_preset("default_small") and "random" in pipe.model_name and not pipe.trained
    pred = pipe(tabletop_frame(2))
    assert pred.depth.shape == (480, 640)


def test_load_pipeline_loads_a_checkpoint_directory_and_the_bundled_default(tmp_path, monkeypatch):
    torch.manual_seed(3)
    cfg = get_preset("tiny")
    net = build_model(cfg).eval()
    save_checkpoint(tmp_path / "ckpt", net, cfg, None, None, epoch=4, step=40, metrics={})
    rgb = tabletop_frame(5, 64, 96)
    with torch.no_grad():
        expected = net(torch.from_numpy(rgb).permute(2, 0, 1)[None].float()).depth
    pipe = load_pipeline(tmp_path / "ckpt", backend="torch")
    assert "trained 5 epochs" in pipe.model_name and pipe.trained
    np.testing.assert_allclose(pipe(rgb).depth, expected[0, 0].numpy(), atol=1e-5)
    # flip_average=True: the mean of the frame's and the mirrored frame's depth.
    with torch.no_grad():
        mirrored = net(torch.from_numpy(rgb[:, ::-1].copy()).permute(2, 0, 1)[None].float()).depth
    flipped = load_pipeline(tmp_path / "ckpt", backend="torch", flip_average=True)
    assert flipped.options.flip_average and "flip-averaged" in flipped.model_name
    np.testing.assert_allclose(flipped(rgb).depth, 0.5 * (expected + mirrored.flip(-1))[0, 0].numpy(), atol=1e-5)
    monkeypatch.setenv("EGSA_MODEL", str(tmp_path / "ckpt"))
    assert bundled_model_dir() == tmp_path / "ckpt"
    assert "trained 5 epochs" in load_pipeline(backend="torch").model_name


def test_load_pipeline_errors():
    with pytest.raises(FileNotFoundError, match="not found: neither a path nor a preset"):
        load_pipeline("no_such_model")
    with pytest.raises(ValueError, match="backend must be one of"):
        load_pipeline("tiny", backend="openvino")
    with pytest.raises(ValueError, match="needs an engine"):
        load_pipeline("tiny", backend="tensorrt")


def test_demo_on_generated_frames_writes_summary_and_panels(tmp_path, capsys):
    from egsa_ros.demo import main

    assert (
        main(
            ["--frames", "3", "--source", "generated", "--model", "tiny", "--backend", "torch", "--out", str(tmp_path)]
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 3 and summary["backend"] == "torch-cpu" and summary["per_frame"] == []
    assert summary["latency_ms"]["total"]["p50"] > 0
    panels = sorted(tmp_path.glob("panel_*.png"))
    assert len(panels) == 3
    import cv2

    assert cv2.imread(str(panels[0])).shape == (480, 3 * 640, 3)
    assert "randomly initialised" in capsys.readouterr().out


def test_demo_on_rendered_frames_reports_accuracy_against_ground_truth(tmp_path, capsys):
    pytest.importorskip("mitsuba", reason="mitsuba not installed")
    from egsa_ros.demo import main

    assert (
        main(
            [
                "--frames",
                "2",
                "--width",
                "64",
                "--height",
                "48",
                "--spp",
                "4",
                "--render-variant",
                "scalar_rgb",
                "--model",
                "tiny",
                "--backend",
                "torch",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["per_frame"]) == 2 and summary["frame_size"] == [48, 64]
    for frame in summary["per_frame"]:
        assert frame["all"]["count"] > 0 and 0.0 <= frame["all"]["delta_1.25"] <= 1.0
    assert "transparent IoU" in capsys.readouterr().out
    import cv2

    assert cv2.imread(str(tmp_path / "panel_00.png")).shape == (48, 4 * 64, 3)


def test_the_bundled_default_model_loads_and_predicts():
    bundled = bundled_model_dir()
    assert bundled is not None, "models/default_small (the bundled trained model) is missing"
    assert (bundled / "model.safetensors").stat().st_size < 30 * 2**20
    pipe = load_pipeline(backend="onnxruntime")
    assert "random" not in pipe.model_name and "epochs" in pipe.model_name
    assert pipe.config.backbone == "efficientnet_lite0" and pipe.config.input_size == (192, 256)
    pred = pipe(tabletop_frame(4))
    assert pred.depth.shape == (480, 640) and np.isfinite(pred.depth).all()
    assert pipe.config.d_min <= float(pred.depth.min()) and float(pred.depth.max()) <= pipe.config.d_max
