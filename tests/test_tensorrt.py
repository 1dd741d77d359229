"""TensorRT engines: sidecar guard (runs everywhere), builder and backend (need CUDA + TensorRT)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from egsa_ros.model.tensorrt_engine import (
    SIDECAR_FORMAT_VERSION,
    EngineMismatchError,
    build_engine,
    cuda_and_tensorrt_status,
    read_sidecar,
    sidecar_mismatches,
    sidecar_path,
)

TRT_USABLE, TRT_REASON = cuda_and_tensorrt_status()
needs_trt = pytest.mark.skipif(not TRT_USABLE, reason=f"TensorRT engines need CUDA + TensorRT: {TRT_REASON}")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none visible)")

BUILT = {"tensorrt_version": "10.3.0", "gpu_name": "NVIDIA H100 80GB HBM3", "gpu_compute_capability": "9.0"}


def test_sidecar_mismatches_name_every_difference():
    assert sidecar_mismatches(BUILT, dict(BUILT)) == []
    running = dict(BUILT, tensorrt_version="10.7.0", gpu_compute_capability="8.7", gpu_name="Orin")
    problems = sidecar_mismatches(BUILT, running)
    assert len(problems) == 3
    assert "tensorrt_version: engine built with '10.3.0', running '10.7.0'" in problems[0]


def test_read_sidecar_errors(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\0")
    with pytest.raises(EngineMismatchError, match="has no sidecar m.engine.json"):
        read_sidecar(engine)
    sidecar_path(engine).write_text("{broken")
    with pytest.raises(EngineMismatchError, match="not valid JSON"):
        read_sidecar(engine)
    sidecar_path(engine).write_text(json.dumps({"sidecar_format_version": 99}))
    with pytest.raises(EngineMismatchError, match="format 99"):
        read_sidecar(engine)
    sidecar_path(engine).write_text(json.dumps(dict(BUILT, sidecar_format_version=SIDECAR_FORMAT_VERSION)))
    assert read_sidecar(engine)["gpu_name"] == BUILT["gpu_name"]


@pytest.mark.skipif(TRT_USABLE, reason="checks the refusal on machines without CUDA/TensorRT")
def test_without_cuda_or_tensorrt_everything_says_why(tmp_path, capsys):
    from egsa_ros import load_pipeline
    from egsa_ros.export.engine_cli import main

    with pytest.raises(RuntimeError, match="cannot build a TensorRT engine here"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine")
    with pytest.raises(RuntimeError, match="TensorRT backend cannot run here"):
        load_pipeline(engine=tmp_path / "m.engine", backend="tensorrt")
    assert main(["--onnx", str(tmp_path / "m.onnx")]) == 3
    assert "cannot build here" in capsys.readouterr().err
    # auto with an engine that cannot run refuses too, unless engine_fallback (test_model_artefacts)
    with pytest.raises(RuntimeError, match="TensorRT backend cannot run here"):
        load_pipeline(engine=tmp_path / "m.engine")


def test_build_engine_validates_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", precision="int4")
    with pytest.raises(ValueError, match="int8 needs calibration frames"):
        build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", precision="int8")


def test_canny_stays_fp32_under_autocast():
    """fp16/bf16 autocast must not reach the Canny path (it changes the edge map)."""
    from egsa_ros.data.generated import tabletop_frame
    from egsa_ros.edges import RGBCanny

    rgb = torch.from_numpy(tabletop_frame(3, 96, 128)).permute(2, 0, 1)[None].float()
    canny = RGBCanny(50, 150, hysteresis_rounds=32)
    reference = canny(rgb)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = canny(rgb)
    assert under_autocast.dtype == torch.float32
    assert torch.equal(reference, under_autocast) and reference.sum() > 50


# ------------------------------------------------------------------ need a GPU


@pytest.fixture(scope="module")
def tiny_graph(tmp_path_factory):
    from egsa_ros.model import build_model, get_preset
    from egsa_ros.model.frame_onnx import export_frame_onnx

    torch.manual_seed(0)
    net = build_model(get_preset("tiny")).eval()
    path = export_frame_onnx(net, tmp_path_factory.mktemp("trt") / "tiny.onnx", (120, 160))
    return net, path


@needs_trt
def test_fp16_engine_matches_onnxruntime_and_guards_its_version(tiny_graph, tmp_path):
    from egsa_ros import load_pipeline
    from egsa_ros.data.generated import tabletop_frame

    net, onnx_path = tiny_graph
    engine = build_engine(onnx_path, tmp_path / "tiny.engine", precision="fp16", timing_cache=tmp_path / "cache")
    sidecar = read_sidecar(engine)
    assert sidecar["precision"] == "fp16" and sidecar["input_shape"] == [120, 160, 3]
    assert (tmp_path / "cache").is_file()
    frame = tabletop_frame(1, 120, 160)
    trt_pred = load_pipeline(engine=engine)(frame)
    ort_pred = load_pipeline(str(onnx_path), backend="onnxruntime")(frame)
    assert np.nanmax(np.abs(trt_pred.depth - ort_pred.depth)) < 0.05
    assert (trt_pred.mask == ort_pred.mask).mean() > 0.98
    sidecar["tensorrt_version"] = "0.0.1"
    sidecar_path(engine).write_text(json.dumps(sidecar))
    with pytest.raises(EngineMismatchError, match="does not match this machine"):
        load_pipeline(engine=engine)
    rebuilt = load_pipeline(engine=engine, rebuild=True, onnx=onnx_path)
    assert rebuilt(frame).depth.shape == (120, 160)


@needs_cuda
def test_torch_cuda_fp16_cuda_graphs_match_cpu(tiny_graph):
    from egsa_ros.data.generated import tabletop_frame
    from egsa_ros.runtime.torch_backend import TorchBackend

    net, _ = tiny_graph
    frame = tabletop_frame(2, 120, 160)
    cpu = TorchBackend(net).infer(frame)
    gpu = TorchBackend(net, device="cuda", fp16=True, cuda_graphs=True)
    first, second = gpu.infer(frame), gpu.infer(frame)
    np.testing.assert_array_equal(first.mask, second.mask)
    assert np.nanmax(np.abs(first.depth - cpu.depth)) < 0.05
    assert (first.mask == cpu.mask).mean() > 0.98
