"""Tests of the ViT backbones (ViT-B/16, DINOv2 ViT-S/14 and ViT-B/14) and their checkpoint loading."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from egsa_ros.model.backbones.base import Backbone
from egsa_ros.model.backbones.vit import (
    VIT_VARIANTS,
    VisionTransformer,
    check_vit_input_size,
    get_vit_config,
)
from egsa_ros.model.backbones.vit_checkpoints import (
    CheckpointMismatchError,
    convert_google_vit,
    load_vit_checkpoint,
)
from egsa_ros.model.backbones.vit_reassemble import ViTBackbone

torch.set_num_threads(2)

IMAGENET_MEAN = tuple(m * 255.0 for m in (0.485, 0.456, 0.406))


# --------------------------------------------------------------------------------------------
# Shapes, attributes, size validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant, size, channels, grid, mean",
    [
        ("vit_b16", (224, 160), (96, 192, 384, 768), (14, 10), (127.5,) * 3),
        ("dinov2_vits14", (112, 168), (48, 96, 192, 384), (8, 12), IMAGENET_MEAN),
        ("dinov2_vitb14", (112, 112), (96, 192, 384, 768), (8, 8), IMAGENET_MEAN),
    ],
)
def test_variant_outputs(variant, size, channels, grid, mean):
    torch.manual_seed(0)
    model = ViTBackbone(variant=variant, img_size=size).eval()
    assert isinstance(model, Backbone)
    cfg = VIT_VARIANTS[variant]
    assert model.out_channels == channels
    assert model.size_divisor == 2 * cfg.patch_size
    assert model.pixel_mean == pytest.approx(mean)
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    gh, gw = grid
    expected = [(gh * 4, gw * 4), (gh * 2, gw * 2), (gh, gw), (gh // 2, gw // 2)]
    assert [tuple(o.shape) for o in outs] == [(2, c, h, w) for c, (h, w) in zip(channels, expected)]
    assert model.output_sizes(*size) == expected
    assert all(torch.isfinite(o).all() for o in outs)

    with pytest.raises(ValueError, match=rf"250x330 is not a multiple of patch {cfg.patch_size}"):
        model(torch.randn(1, 3, 250, 330))
    with pytest.raises(ValueError, match="250x330"):
        ViTBackbone(variant=variant, img_size=(250, 330))
    odd = cfg.patch_size * 3  # a multiple of the patch, but an odd grid
    with pytest.raises(ValueError, match="odd patch grid"):
        model(torch.randn(1, 3, odd, odd))

    if variant == "vit_b16":
        # The DPT ViT-B/16 reads raw block outputs: no final norm, and a 224-model (14x14)
        # timm-layout checkpoint with head and norm loads, its pos-embed resized to 24x24.
        assert model.encoder.norm is None
        sd = {k: v.clone() for k, v in model.encoder.state_dict().items()}
        sd["pos_embed"] = torch.randn(1, 1 + 14 * 14, 768)
        sd.update(
            {
                "norm.weight": torch.ones(768),
                "norm.bias": torch.zeros(768),
                "head.weight": torch.zeros(1000, 768),
                "head.bias": torch.zeros(1000),
            }
        )
        report = model.load_checkpoint(sd)
        assert report.pos_embed_resized_from == (14, 14)
        assert {"norm.weight", "head.weight"} <= set(report.dropped)
        assert torch.equal(model.encoder.pos_embed[:, 0], sd["pos_embed"][:, 0])


def test_size_check_messages():
    assert check_vit_input_size(392, 392, 14) == (28, 28)
    with pytest.raises(ValueError, match="odd patch grid 37x37"):
        check_vit_input_size(518, 518, 14)
    with pytest.raises(ValueError, match="not a multiple of patch 16"):
        check_vit_input_size(250, 330, 16)
    with pytest.raises(ValueError, match="unknown ViT variant"):
        ViTBackbone(variant="vit_huge", img_size=224)
    with pytest.raises(ValueError, match="readout"):
        ViTBackbone(variant="_tiny_vit", img_size=32, readout="concat")


# --------------------------------------------------------------------------------------------
# Transformer numerics against a hand-written forward pass
# --------------------------------------------------------------------------------------------
def _randomise_(module: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _manual_tokens(vit: VisionTransformer, x: torch.Tensor) -> list:
    """Every block's output (before the final norm), computed with plain tensor ops."""
    cfg = vit.cfg
    p, d, heads = cfg.patch_size, cfg.embed_dim, cfg.num_heads
    b, _, h, w = x.shape
    gh, gw = h // p, w // p
    # patch embedding: (B, 3, gh, p, gw, p) -> (B, gh*gw, 3*p*p) @ W^T
    patches = x.reshape(b, 3, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, 3 * p * p)
    tok = patches @ vit.patch_embed.proj.weight.reshape(d, -1).t() + vit.patch_embed.proj.bias
    tok = torch.cat([vit.cls_token.expand(b, 1, d), tok], dim=1)
    g0 = cfg.pos_grid
    grid_pos = vit.pos_embed[0, 1:].reshape(g0, g0, d).permute(2, 0, 1)[None]
    grid_pos = F.interpolate(grid_pos, size=(gh, gw), mode="bicubic", align_corners=False)
    pos = torch.cat([vit.pos_embed[:, :1], grid_pos[0].permute(1, 2, 0).reshape(1, gh * gw, d)], dim=1)
    hcur = tok + pos

    def ln(t, mod):
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + cfg.ln_eps) * mod.weight + mod.bias

    outs = []
    for blk in vit.blocks:
        y = ln(hcur, blk.norm1)
        qkv = y @ blk.attn.qkv.weight.t() + blk.attn.qkv.bias
        q, k, v = qkv.split(d, dim=-1)
        hd = d // heads
        split = lambda t, hd=hd: t.reshape(b, -1, heads, hd).transpose(1, 2)  # noqa: E731
        att = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(hd), dim=-1)
        a = (att @ split(v)).transpose(1, 2).reshape(b, -1, d)
        a = a @ blk.attn.proj.weight.t() + blk.attn.proj.bias
        if cfg.layer_scale:
            a = a * blk.ls1.gamma
        hcur = hcur + a
        y = ln(hcur, blk.norm2) @ blk.mlp.fc1.weight.t() + blk.mlp.fc1.bias
        y = 0.5 * y * (1.0 + torch.erf(y / math.sqrt(2.0)))
        y = y @ blk.mlp.fc2.weight.t() + blk.mlp.fc2.bias
        if cfg.layer_scale:
            y = y * blk.ls2.gamma
        hcur = hcur + y
        outs.append(hcur)
    return outs, ln


@pytest.mark.parametrize("variant", ["_tiny_dinov2", "_tiny_vit"])
def test_forward_intermediates_match_manual(variant):
    vit = VisionTransformer(get_vit_config(variant))
    _randomise_(vit)
    x = torch.randn(2, 3, 48, 64)  # grid 6x8, stored pos grid 4x4: interpolation is exercised
    with torch.no_grad():
        manual, ln = _manual_tokens(vit, x)
        got = vit.forward_intermediates(x, [0, 3, 1])
        assert [tuple(t.shape) for t in got] == [(2, 1 + 48, 32)] * 3
        for t, i in zip(got, [0, 3, 1]):
            torch.testing.assert_close(t, manual[i], rtol=1e-4, atol=1e-4)
        normed = vit.forward_intermediates(x, [-1], norm=True)[0]
        torch.testing.assert_close(normed, ln(manual[3], vit.norm), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(vit(x), normed, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="out of range"):
        vit.forward_intermediates(x, [4])


# --------------------------------------------------------------------------------------------
# Checkpoint key mapping
# --------------------------------------------------------------------------------------------
def _official_dinov2_state(dim: int, depth: int, patch: int, grid: int, seed: int = 0) -> dict:
    """Random tensors with the key names and shapes of dinov2_vit*14_pretrain.pth."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    sd = {
        "cls_token": r(1, 1, dim),
        "pos_embed": r(1, 1 + grid * grid, dim),
        "mask_token": r(1, dim),
        "patch_embed.proj.weight": r(dim, 3, patch, patch),
        "patch_embed.proj.bias": r(dim),
        "norm.weight": r(dim),
        "norm.bias": r(dim),
    }
    for i in range(depth):
        pre = f"blocks.{i}."
        sd.update(
            {
                pre + "norm1.weight": r(dim),
                pre + "norm1.bias": r(dim),
                pre + "attn.qkv.weight": r(3 * dim, dim),
                pre + "attn.qkv.bias": r(3 * dim),
                pre + "attn.proj.weight": r(dim, dim),
                pre + "attn.proj.bias": r(dim),
                pre + "ls1.gamma": r(dim),
                pre + "norm2.weight": r(dim),
                pre + "norm2.bias": r(dim),
                pre + "mlp.fc1.weight": r(4 * dim, dim),
                pre + "mlp.fc1.bias": r(4 * dim),
                pre + "mlp.fc2.weight": r(dim, 4 * dim),
                pre + "mlp.fc2.bias": r(dim),
                pre + "ls2.gamma": r(dim),
            }
        )
    return sd


def test_dinov2_official_layout_loads():
    sd = _official_dinov2_state(384, 12, 14, 37)
    vit = VisionTransformer(get_vit_config("dinov2_vits14"))
    report = load_vit_checkpoint(vit, sd)
    assert report.dropped == ["mask_token"] and report.pos_embed_resized_from is None
    assert torch.equal(vit.blocks[3].ls1.gamma, sd["blocks.3.ls1.gamma"])
    assert torch.equal(vit.blocks[3].attn.qkv.weight, sd["blocks.3.attn.qkv.weight"])
    assert torch.equal(vit.blocks[11].ls2.gamma, sd["blocks.11.ls2.gamma"])
    assert torch.equal(vit.patch_embed.proj.weight, sd["patch_embed.proj.weight"])
    assert torch.equal(vit.pos_embed, sd["pos_embed"]) and torch.equal(vit.norm.bias, sd["norm.bias"])

    with pytest.raises(CheckpointMismatchError, match="unexpected keys: blocks.12.ls1.gamma"):
        load_vit_checkpoint(vit, {**sd, "blocks.12.ls1.gamma": torch.zeros(384)})
    partial = {k: v for k, v in sd.items() if k != "blocks.5.attn.proj.bias"}
    with pytest.raises(CheckpointMismatchError, match="missing keys: blocks.5.attn.proj.bias"):
        load_vit_checkpoint(vit, partial)
    assert load_vit_checkpoint(vit, partial, strict=False).missing == ["blocks.5.attn.proj.bias"]
    with pytest.raises(CheckpointMismatchError, match=r"blocks.2.norm1.weight: checkpoint \(10,\)"):
        load_vit_checkpoint(vit, {**sd, "blocks.2.norm1.weight": torch.zeros(10)})
    with pytest.raises(CheckpointMismatchError, match="register"):
        load_vit_checkpoint(vit, {**sd, "register_tokens": torch.zeros(1, 4, 384)})
    # a ViT-B/14 checkpoint does not fit a ViT-S/14
    with pytest.raises(CheckpointMismatchError, match="wrong variant"):
        load_vit_checkpoint(vit, _official_dinov2_state(768, 1, 14, 37))


def test_checkpoint_files(tmp_path):
    from safetensors.torch import save_file

    sd = _official_dinov2_state(32, 4, 8, 4, seed=1)
    pth, st = tmp_path / "tiny.pth", tmp_path / "tiny.safetensors"
    torch.save(sd, pth)
    save_file(sd, str(st))
    for path in (pth, st):
        model = ViTBackbone(variant="_tiny_dinov2", img_size=(32, 48), checkpoint=str(path))
        assert torch.equal(model.encoder.blocks[2].attn.qkv.bias, sd["blocks.2.attn.qkv.bias"])
        assert model.load_report.dropped == ["mask_token"]
    # a wrapped, prefixed checkpoint (as Depth Anything stores its encoder) is found too
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": {**{"pretrained." + k: v for k, v in sd.items()}, "depth_head.x": torch.zeros(1)}}, wrapped)
    model = ViTBackbone(variant="_tiny_dinov2", img_size=(32, 48), checkpoint=str(wrapped))
    assert torch.equal(model.encoder.cls_token, sd["cls_token"])
    with pytest.raises(FileNotFoundError, match="checkpoint=None"):
        ViTBackbone(variant="_tiny_dinov2", img_size=(32, 48), checkpoint=str(tmp_path / "nope.pth"))


def _google_arrays(dim=32, depth=4, heads=2, patch=8, grid=3, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    r = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    hd = dim // heads
    a = {
        "embedding/kernel": r(patch, patch, 3, dim),
        "embedding/bias": r(dim),
        "cls": r(1, 1, dim),
        "Transformer/posembed_input/pos_embedding": r(1, 1 + grid * grid, dim),
        "Transformer/encoder_norm/scale": r(dim),
        "Transformer/encoder_norm/bias": r(dim),
        "head/kernel": r(dim, 10),
        "head/bias": r(10),
        "pre_logits/kernel": r(dim, dim),
        "pre_logits/bias": r(dim),
    }
    for i in range(depth):
        pre = f"Transformer/encoderblock_{i}/"
        att = pre + "MultiHeadDotProductAttention_1/"
        a.update(
            {
                pre + "LayerNorm_0/scale": r(dim),
                pre + "LayerNorm_0/bias": r(dim),
                att + "query/kernel": r(dim, heads, hd),
                att + "query/bias": r(heads, hd),
                att + "key/kernel": r(dim, heads, hd),
                att + "key/bias": r(heads, hd),
                att + "value/kernel": r(dim, heads, hd),
                att + "value/bias": r(heads, hd),
                att + "out/kernel": r(heads, hd, dim),
                att + "out/bias": r(dim),
                pre + "LayerNorm_2/scale": r(dim),
                pre + "LayerNorm_2/bias": r(dim),
                pre + "MlpBlock_3/Dense_0/kernel": r(dim, 4 * dim),
                pre + "MlpBlock_3/Dense_0/bias": r(4 * dim),
                pre + "MlpBlock_3/Dense_1/kernel": r(4 * dim, dim),
                pre + "MlpBlock_3/Dense_1/bias": r(dim),
            }
        )
    return a


def _timm_from_google(a: dict, depth: int) -> dict:
    """The equivalent timm-layout dict, written independently of the loader's converter."""
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    sd = {
        "patch_embed.proj.weight": t(a["embedding/kernel"].transpose(3, 2, 0, 1)),
        "patch_embed.proj.bias": t(a["embedding/bias"]),
        "cls_token": t(a["cls"]),
        "pos_embed": t(a["Transformer/posembed_input/pos_embedding"]),
        "norm.weight": t(a["Transformer/encoder_norm/scale"]),
        "norm.bias": t(a["Transformer/encoder_norm/bias"]),
        "head.weight": t(a["head/kernel"].T),
        "head.bias": t(a["head/bias"]),
    }
    for i in range(depth):
        g, p = f"Transformer/encoderblock_{i}/", f"blocks.{i}."
        att = g + "MultiHeadDotProductAttention_1/"
        dim = a[att + "query/kernel"].shape[0]
        sd[p + "attn.qkv.weight"] = t(
            np.concatenate([a[att + n + "/kernel"].reshape(dim, dim).T for n in ("query", "key", "value")], axis=0)
        )
        sd[p + "attn.qkv.bias"] = t(
            np.concatenate([a[att + n + "/bias"].reshape(-1) for n in ("query", "key", "value")])
        )
        sd[p + "attn.proj.weight"] = t(a[att + "out/kernel"].reshape(dim, dim).T)
        sd[p + "attn.proj.bias"] = t(a[att + "out/bias"])
        sd[p + "norm1.weight"], sd[p + "norm1.bias"] = t(a[g + "LayerNorm_0/scale"]), t(a[g + "LayerNorm_0/bias"])
        sd[p + "norm2.weight"], sd[p + "norm2.bias"] = t(a[g + "LayerNorm_2/scale"]), t(a[g + "LayerNorm_2/bias"])
        sd[p + "mlp.fc1.weight"] = t(a[g + "MlpBlock_3/Dense_0/kernel"].T)
        sd[p + "mlp.fc1.bias"] = t(a[g + "MlpBlock_3/Dense_0/bias"])
        sd[p + "mlp.fc2.weight"] = t(a[g + "MlpBlock_3/Dense_1/kernel"].T)
        sd[p + "mlp.fc2.bias"] = t(a[g + "MlpBlock_3/Dense_1/bias"])
    return sd


def test_google_npz_matches_timm_layout(tmp_path):
    arrays = _google_arrays(grid=3)  # the model stores a 4x4 grid: loading resizes
    npz = tmp_path / "ViT-tiny.npz"
    np.savez(npz, **arrays)
    from_npz = ViTBackbone(variant="_tiny_vit", img_size=(32, 48), checkpoint=str(npz), intermediate_norm=True).eval()
    assert from_npz.load_report.layout == "google-npz"
    assert from_npz.load_report.pos_embed_resized_from == (3, 3)
    assert {"head/kernel", "pre_logits/bias"} <= set(from_npz.load_report.dropped)

    att = "Transformer/encoderblock_2/MultiHeadDotProductAttention_1/"
    want_qkv = np.concatenate([arrays[att + n + "/kernel"].reshape(32, 32).T for n in ("query", "key", "value")])
    assert np.array_equal(from_npz.encoder.blocks[2].attn.qkv.weight.detach().numpy(), want_qkv)
    assert np.array_equal(
        from_npz.encoder.blocks[2].attn.proj.weight.detach().numpy(), arrays[att + "out/kernel"].reshape(32, 32).T
    )

    from_timm = ViTBackbone(variant="_tiny_vit", img_size=(32, 48), intermediate_norm=True).eval()
    report = from_timm.load_checkpoint(_timm_from_google(arrays, 4))
    assert report.layout == "pytorch" and report.pos_embed_resized_from == (3, 3)
    from_timm.reassemble.load_state_dict(from_npz.reassemble.state_dict())
    for k, v in from_npz.encoder.state_dict().items():
        torch.testing.assert_close(from_timm.encoder.state_dict()[k], v, rtol=0, atol=0, msg=k)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        for a, b in zip(from_npz(x), from_timm(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)

    # converter: an incomplete attention block and unknown keys are reported
    broken = {
        k: v for k, v in arrays.items() if not k.endswith("encoderblock_1/MultiHeadDotProductAttention_1/key/bias")
    }
    with pytest.raises(CheckpointMismatchError, match="block 1"):
        convert_google_vit({k: torch.from_numpy(v) for k, v in broken.items()})
    odd = tmp_path / "odd.npz"
    np.savez(odd, **arrays, **{"Transformer/extra/thing": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointMismatchError, match="unexpected keys: Transformer/extra/thing"):
        ViTBackbone(variant="_tiny_vit", img_size=(32, 48), checkpoint=str(odd))


# --------------------------------------------------------------------------------------------
# Gradients and export
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant, readout",
    [("_tiny_dinov2", "project"), ("_tiny_vit", "project"), ("_tiny_dinov2", "add"), ("_tiny_vit", "ignore")],
)
def test_every_parameter_gets_gradient(variant, readout):
    torch.manual_seed(0)
    model = ViTBackbone(variant=variant, img_size=(32, 48), readout=readout)
    outs = model(torch.randn(2, 3, 32, 48))
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    sum(o.sum() for o in outs).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert dead == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter is deprecated
def test_onnx_export_dinov2_vits14(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = ViTBackbone(variant="dinov2_vits14", img_size=(112, 112)).eval()
    x = torch.randn(1, 3, 112, 112)
    path = tmp_path / "vits14.onnx"
    names = [f"feat{i}" for i in range(4)]
    with torch.no_grad():
        ref = model(x)
        torch.onnx.export(
            model,
            (x,),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=names,
            do_constant_folding=True,
        )
    graph = onnx.load(str(path), load_external_data=False).graph
    assert not {n.op_type for n in graph.node} & {"If", "Loop"}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = sess.run(names, {"image": x.numpy()})
    for o, r in zip(outs, ref):
        assert o.shape == tuple(r.shape)
        np.testing.assert_allclose(o, r.numpy(), rtol=1e-4, atol=1e-4)
