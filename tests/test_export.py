"""The camera-frame ONNX graph: one graph from uint8 frame to depth + mask, checked three ways."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from egsa_ros.data.generated import tabletop_frame
from egsa_ros.export.onnx_export import export_frame_onnx, export_network_onnx, frame_parity
from egsa_ros.export.tensorrt_check import TensorRTCompatibilityError, assert_tensorrt_compat, check_tensorrt_compat
from egsa_ros.model import build_model, get_preset
from egsa_ros.model.frame_graph import CameraFrameModel, area_weights
from egsa_ros.model.graph_metadata import FRAME_FORMAT_VERSION, read_frame_metadata
from egsa_ros.model.inference_options import InferenceOptions


@pytest.fixture(scope="module")
def tiny_net():
    torch.manual_seed(0)
    return build_model(get_preset("tiny")).eval()


@pytest.fixture(scope="module")
def tiny_static(tiny_net, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "tiny_120x160.onnx"
    return export_frame_onnx(tiny_net, path, (120, 160), model_name="tiny test")


def test_area_weights_are_opencv_inter_area():
    import cv2

    rng = np.random.default_rng(1)
    row = rng.integers(0, 256, (1, 37)).astype(np.float32)
    expected = cv2.resize(row, (15, 1), interpolation=cv2.INTER_AREA)[0]
    np.testing.assert_allclose(area_weights(37, 15) @ row[0], expected, atol=1e-3)
    np.testing.assert_allclose(area_weights(480, 192).sum(1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="shrink"):
        area_weights(10, 20)


@pytest.mark.parametrize("dynamic", [False, True])
def test_vga_to_default_network_size_is_bit_exact_cv2_inter_area(dynamic):
    import cv2

    net = build_model(get_preset("tiny", input_size=(192, 256)))
    frame = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    with torch.no_grad():
        out = CameraFrameModel(net, (480, 640), dynamic=dynamic).to_network_size(torch.from_numpy(frame))
    expected = cv2.resize(frame, (256, 192), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))


def test_static_graph_has_uint8_frame_in_and_depth_mask_out(tiny_static):
    model = onnx.load(str(tiny_static))
    (inp,) = model.graph.input
    assert inp.name == "frame" and inp.type.tensor_type.elem_type == TensorProto.UINT8
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [120, 160, 3]
    outs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert outs["depth"].elem_type == TensorProto.FLOAT and outs["mask"].elem_type == TensorProto.UINT8
    assert [d.dim_value for d in outs["mask"].shape.dim] == [120, 160]
    assert model.opset_import[0].version == 17
    meta = read_frame_metadata(tiny_static)
    assert meta["egsa.frame_size"] == "120x160" and meta["egsa.format_version"] == str(FRAME_FORMAT_VERSION)
    assert json.loads(meta["egsa.model_config"])["backbone"] == "tiny"
    assert meta["egsa.size_divisor"] == "32" and meta["egsa.network_size"] == "64x96"


def test_static_graph_matches_torch_and_passes_the_tensorrt_check(tiny_net, tiny_static):
    frame = tabletop_frame(4, 120, 160)
    parity = frame_parity(CameraFrameModel(tiny_net, (120, 160)), tiny_static, frame)
    assert parity["depth_max_abs_m"] <= 1e-4 and parity["mask_agreement"] >= 0.999, parity
    assert check_tensorrt_compat(tiny_static) == []
    assert_tensorrt_compat(tiny_static)  # raises on violations


def test_frame_graph_equals_cv2_resize_then_network(tiny_net):
    """The in-graph resize and upsampling are the ones training and the old pipeline used."""
    import cv2

    from egsa_ros.data.transforms import resize_rgb, to_network_input

    frame = tabletop_frame(5, 240, 320)
    with torch.no_grad():
        depth, mask = CameraFrameModel(tiny_net, (240, 320))(torch.from_numpy(frame))
        out = tiny_net(torch.from_numpy(to_network_input(resize_rgb(frame, (64, 96)))))
        net_depth, logits = out.depth, out.seg_logits
    expected = cv2.resize(net_depth[0, 0].numpy(), (320, 240), interpolation=cv2.INTER_LINEAR)
    assert np.abs(depth.numpy() - expected).max() < 1e-4
    expected_mask = cv2.resize(
        (logits[0].argmax(0) == 2).numpy().astype(np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST
    )
    np.testing.assert_array_equal(mask.numpy(), expected_mask)


def test_dynamic_graph_follows_the_frame_size(tiny_net, tmp_path):
    import onnxruntime as ort

    path = export_frame_onnx(tiny_net, tmp_path / "dyn.onnx", (120, 160), dynamic=True)
    assert read_frame_metadata(path)["egsa.frame_size"] == "dynamic"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [(120, 160), (200, 300), (64, 96)]:
        frame = tabletop_frame(6, *size)
        depth, mask = session.run(["depth", "mask"], {"frame": frame})
        with torch.no_grad():
            ref_depth, ref_mask = CameraFrameModel(tiny_net, size)(torch.from_numpy(frame))
        assert depth.shape == size and mask.shape == size
        assert np.abs(depth - ref_depth.numpy()).max() <= 1e-4
        assert (mask == ref_mask.numpy()).mean() >= 0.999
    assert check_tensorrt_compat(path) == []


def test_network_size_must_be_a_stride_multiple(tiny_net, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of the encoder stride 32"):
        export_frame_onnx(tiny_net, tmp_path / "x.onnx", (120, 160), net_size=(70, 96))


def test_foreign_and_old_onnx_files_get_clear_errors(tiny_net, tiny_static, tmp_path):
    net_only = export_network_onnx(tiny_net, tmp_path / "net.onnx")
    with pytest.raises(ValueError, match="not an egsa_ros camera-frame graph"):
        read_frame_metadata(net_only)
    old = onnx.load(str(tiny_static))
    for prop in old.metadata_props:
        if prop.key == "egsa.format_version":
            prop.value = "0"
    onnx.save(old, str(tmp_path / "old.onnx"))
    with pytest.raises(ValueError, match="format version 0.*re-export"):
        read_frame_metadata(tmp_path / "old.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        read_frame_metadata(tmp_path / "junk.onnx")
    with pytest.raises(FileNotFoundError):
        read_frame_metadata(tmp_path / "missing.onnx")


def test_pipeline_runs_an_exported_graph_and_refuses_other_sizes(tiny_static):
    from egsa_ros import load_pipeline

    pipe = load_pipeline(str(tiny_static))
    assert pipe.backend_name == "onnxruntime-cpu" and pipe.config.backbone == "tiny"
    pred = pipe(tabletop_frame(2, 120, 160))
    assert pred.depth.shape == (120, 160) and pred.mask.dtype == np.uint8
    with pytest.raises(
        ValueError, match="no camera-frame graph for 320x240 frames.*serve 160x120.*--frame-size 240x320"
    ):
        pipe(tabletop_frame(2, 240, 320))
    with pytest.raises(ValueError, match="runs on backend 'onnxruntime'"):
        load_pipeline(str(tiny_static), backend="torch")


# ------------------------------------------------------------------ TensorRT parser rules


def _graph(nodes, inputs, outputs, opset=17, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _reasons(model):
    return " | ".join(str(v) for v in check_tensorrt_compat(model))


def test_tensorrt_rules_catch_what_the_parser_rejects():
    b = TensorProto.BOOL
    equal_bool = _graph(
        [helper.make_node("Equal", ["a", "b"], ["c"], name="eq")],
        [_vi("a", b, [4]), _vi("b", b, [4])],
        [_vi("c", b, [4])],
    )
    assert "input type BOOL" in _reasons(equal_bool)

    f = TensorProto.FLOAT
    dilated = _graph(
        [
            helper.make_node(
                "MaxPool", ["x"], ["y"], kernel_shape=[3, 3], dilations=[2, 2], pads=[2, 2, 2, 2], name="pool"
            )
        ],
        [_vi("x", f, [1, 1, 8, 8])],
        [_vi("y", f, [1, 1, 8, 8])],
    )
    assert "pooling dilations [2, 2]" in _reasons(dilated)

    nonzero = _graph(
        [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
        [_vi("x", f, [4])],
        [_vi("y", TensorProto.INT64, [1, None])],
    )
    assert "operator not supported" in _reasons(nonzero)

    u8 = TensorProto.UINT8
    inner_uint8 = _graph(
        [
            helper.make_node("Add", ["x", "x"], ["s"], name="add"),
            helper.make_node("Cast", ["s"], ["y"], to=f, name="cast"),
        ],
        [_vi("x", u8, [4])],
        [_vi("y", f, [4])],
    )
    assert "UINT8 tensor 's' inside the graph" in _reasons(inner_uint8)

    scales = helper.make_tensor("scales", f, [4], [1, 1, 2, 2])
    tf_crop = _graph(
        [
            helper.make_node(
                "Resize",
                ["x", "", "scales"],
                ["y"],
                mode="linear",
                coordinate_transformation_mode="tf_crop_and_resize",
                name="rs",
            )
        ],
        [_vi("x", f, [1, 1, 4, 4])],
        [_vi("y", f, [1, 1, 8, 8])],
        initializers=[scales],
    )
    assert "coordinate_transformation_mode='tf_crop_and_resize'" in _reasons(tf_crop)

    relu21 = _graph([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", f, [4])], [_vi("y", f, [4])], opset=21)
    assert "opset 21 outside" in _reasons(relu21)

    double = _graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_vi("x", TensorProto.DOUBLE, [4])],
        [_vi("y", TensorProto.DOUBLE, [4])],
    )
    assert "DOUBLE is not a TensorRT type" in _reasons(double)

    with pytest.raises(TensorRTCompatibilityError, match="1 TensorRT ONNX-parser violation"):
        assert_tensorrt_compat(equal_bool)


# ------------------------------------------------------------------ the egsa-export command


def test_egsa_export_on_the_bundled_default_model(tmp_path, capsys):
    """The issue's CI check: checker, parity and TensorRT rules on the default model's graph."""
    from egsa_ros.export.cli import main

    out = tmp_path / "default.onnx"
    assert main(["--out", str(out), "--json", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["tensorrt_violations"] == []
    assert report["parity"]["depth_max_abs_m"] <= 1e-4 and report["parity"]["mask_agreement"] >= 0.999
    assert "TensorRT ONNX-parser check: passed" in capsys.readouterr().out
    assert read_frame_metadata(out)["egsa.frame_size"] == "480x640"


def test_egsa_export_errors_are_clear(tmp_path, capsys):
    from egsa_ros.export.cli import main

    assert main(["--model", "no_such_model", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "not found: neither a path nor a preset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--frame-size", "480by640"])


def test_flip_averaged_export_passes_the_checks_and_pipelines_refuse_a_mismatch(tiny_static, tmp_path, capsys):
    """``egsa-export --flip-average`` builds mirrored averaging into the graph (parity with torch,
    TensorRT rules); asking a pipeline for the other setting than a graph has is an error."""
    from egsa_ros import load_pipeline
    from egsa_ros.export.cli import main

    out = tmp_path / "tiny_flip.onnx"
    assert (
        main(
            [
                "--model",
                "tiny",
                "--frame-size",
                "120x160",
                "--flip-average",
                "--out",
                str(out),
                "--json",
                str(tmp_path / "report.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["tensorrt_violations"] == [] and "flip-averaged" in report["model"]
    assert json.loads(read_frame_metadata(out)["egsa.inference_options"])["flip_average"] is True
    pipe = load_pipeline(str(out), flip_average=True)
    assert pipe.options.flip_average and pipe(tabletop_frame(3, 120, 160)).depth.shape == (120, 160)
    with pytest.raises(ValueError, match="re-export"):
        load_pipeline(str(out), flip_average=False)
    with pytest.raises(ValueError, match=r"exported with \{'flip_average': False\}.*re-export"):
        load_pipeline(str(tiny_static), flip_average=True)


def test_mask_from_a_second_pass_at_mask_input_size(tiny_net):
    """With ``mask_input_size`` the mask is the second pass's (frame resized as training resizes,
    network, argmax, nearest upsampling) and the depth stays the first pass's."""
    import cv2

    from egsa_ros.data.transforms import resize_rgb, to_network_input

    frame = tabletop_frame(6, 240, 320)
    two_pass = InferenceOptions(mask_input_size=(128, 192))
    with torch.no_grad():
        depth1, _ = CameraFrameModel(tiny_net, (240, 320))(torch.from_numpy(frame))
        depth2, mask2 = CameraFrameModel(tiny_net, (240, 320), options=two_pass)(torch.from_numpy(frame))
        logits = tiny_net(torch.from_numpy(to_network_input(resize_rgb(frame, (128, 192))))).seg_logits
    assert torch.equal(depth1, depth2)
    expected_mask = cv2.resize(
        (logits[0].argmax(0) == 2).numpy().astype(np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST
    )
    np.testing.assert_array_equal(mask2.numpy(), expected_mask)
    with pytest.raises(ValueError, match="mask_input_size 100x150 is not a multiple"):
        CameraFrameModel(tiny_net, (240, 320), options=InferenceOptions(mask_input_size=(100, 150)))


def test_egsa_export_with_a_mask_pass_passes_the_checks(tmp_path):
    from egsa_ros import load_pipeline
    from egsa_ros.export.cli import main

    out = tmp_path / "tiny_mask.onnx"
    assert (
        main(
            [
                "--model",
                "tiny",
                "--frame-size",
                "240x320",
                "--mask-net-size",
                "128x192",
                "--out",
                str(out),
                "--json",
                str(tmp_path / "report.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and report["tensorrt_violations"] == [] and "mask at 128x192" in report["model"]
    assert json.loads(read_frame_metadata(out)["egsa.inference_options"])["mask_input_size"] == [128, 192]
    assert load_pipeline(str(out), mask_input_size=(128, 192)).options.mask_input_size == (128, 192)
    with pytest.raises(ValueError, match="re-export"):
        load_pipeline(str(out), mask_input_size=(64, 96))
