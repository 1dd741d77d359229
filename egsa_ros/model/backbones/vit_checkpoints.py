"""Loading official ViT / DINOv2 weights into :class:`~.vit.VisionTransformer`.

Supported sources (never executing code from the file):

- PyTorch files (``.pth``, ``.pt``, ``.bin``, ``.ckpt``) through ``torch.load(weights_only=True)``:
  the official DINOv2 ``dinov2_vit{s,b}14_pretrain.pth`` layout and the timm/PyTorch ViT layout
  (``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.{i}.*``, ``norm.*``);
- ``.safetensors`` files with the same layout;
- Google's JAX ViT ``.npz`` files (``embedding/kernel``, ``Transformer/encoderblock_{i}/...``),
  read with ``allow_pickle=False`` and converted to the PyTorch layout.

Position embeddings stored for another grid (e.g. 14x14 of a 224 model) are resized bicubically
to the model's stored grid. ``mask_token``, classifier heads (``head.*``, ``pre_logits.*``,
``fc_norm.*``) are dropped; anything else that does not match raises
:class:`CheckpointMismatchError` (strict by default) naming the keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .vit import VisionTransformer, resize_pos_embed

StateDict = dict[str, torch.Tensor]
Source = str | os.PathLike | Mapping[str, object]

# Keys of heads/training-only tensors that an encoder never uses.
_DROP_PREFIXES = ("head.", "pre_logits.", "fc_norm.", "head_drop.")
_DROP_KEYS = ("mask_token", "head")
_WRAPPER_KEYS = ("model", "state_dict", "module", "teacher", "student")


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not fit the model."""


@dataclass
class LoadReport:
    """What :func:`load_vit_checkpoint` did."""

    layout: str  # "pytorch" or "google-npz"
    loaded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # ignored on purpose (heads, mask token, ...)
    missing: list[str] = field(default_factory=list)  # only non-empty with strict=False
    unexpected: list[str] = field(default_factory=list)  # only non-empty with strict=False
    pos_embed_resized_from: tuple[int, int] | None = None


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
def _to_tensor(value: object, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise CheckpointMismatchError(f"checkpoint entry {key!r} is not a numeric array")
        return torch.from_numpy(np.ascontiguousarray(value))
    raise CheckpointMismatchError(f"checkpoint entry {key!r} is a {type(value).__name__}, not a tensor")


def _unwrap(obj: object) -> Mapping[str, object]:
    """Find the state dict inside common wrappers ({'model': sd}, {'state_dict': sd}, ...)."""
    for _ in range(3):
        if not isinstance(obj, Mapping):
            break
        if any(isinstance(v, (torch.Tensor, np.ndarray)) for v in obj.values()):
            return obj
        inner = [k for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)]
        if not inner:
            break
        obj = obj[inner[0]]
    if not isinstance(obj, Mapping):
        raise CheckpointMismatchError(f"checkpoint does not contain a state dict (got {type(obj).__name__})")
    return obj


def read_state_dict(path: str | os.PathLike) -> StateDict:
    """Read a checkpoint file into a flat ``{name: tensor}`` dict without running any code."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"ViT checkpoint {str(p)!r} not found; download the official weights (e.g. "
            f"dinov2_vits14_pretrain.pth, or a ViT-B/16 .npz/.pth) and pass its path, or pass "
            f"checkpoint=None for random initialisation"
        )
    suffix = p.suffix.lower()
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as data:
            return {k: _to_tensor(data[k], k) for k in data.files}
    if suffix == ".safetensors":
        return dict(load_file(str(p), device="cpu"))
    obj = torch.load(str(p), map_location="cpu", weights_only=True)
    return {str(k): _to_tensor(v, str(k)) for k, v in _unwrap(obj).items()}


# --------------------------------------------------------------------------------------------
# Google JAX layout -> PyTorch layout
# --------------------------------------------------------------------------------------------
def is_google_layout(sd: Mapping[str, object]) -> bool:
    return any(k.startswith("Transformer/") for k in sd) or "embedding/kernel" in sd


_BLOCK_RE = re.compile(r"^Transformer/encoderblock_(\d+)/(.+)$")
_BLOCK_SIMPLE = {
    "LayerNorm_0/scale": "norm1.weight",
    "LayerNorm_0/bias": "norm1.bias",
    "LayerNorm_2/scale": "norm2.weight",
    "LayerNorm_2/bias": "norm2.bias",
    "MlpBlock_3/Dense_0/bias": "mlp.fc1.bias",
    "MlpBlock_3/Dense_1/bias": "mlp.fc2.bias",
    "MultiHeadDotProductAttention_1/out/bias": "attn.proj.bias",
}
_BLOCK_LINEAR = {  # (in, out) kernels -> Linear weight (out, in)
    "MlpBlock_3/Dense_0/kernel": "mlp.fc1.weight",
    "MlpBlock_3/Dense_1/kernel": "mlp.fc2.weight",
}
_ATT = "MultiHeadDotProductAttention_1/"


def convert_google_vit(sd: Mapping[str, torch.Tensor]) -> tuple[StateDict, list[str]]:
    """Convert a Google ViT ``.npz`` dict to the PyTorch layout; returns (state dict, dropped keys).

    Unknown keys are passed through unchanged (the loader then reports them as unexpected).
    """
    out: StateDict = {}
    dropped: list[str] = []
    qkv: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        t = _to_tensor(value, key)
        if key.startswith(("head/", "pre_logits/")) or key in ("head", "pre_logits"):
            dropped.append(key)
        elif key == "embedding/kernel":  # (kh, kw, in, out) -> (out, in, kh, kw)
            out["patch_embed.proj.weight"] = t.permute(3, 2, 0, 1).contiguous()
        elif key == "embedding/bias":
            out["patch_embed.proj.bias"] = t
        elif key == "cls":
            out["cls_token"] = t
        elif key == "Transformer/posembed_input/pos_embedding":
            out["pos_embed"] = t
        elif key == "Transformer/encoder_norm/scale":
            out["norm.weight"] = t
        elif key == "Transformer/encoder_norm/bias":
            out["norm.bias"] = t
        else:
            m = _BLOCK_RE.match(key)
            if m is None:
                out[key] = t
                continue
            i, sub = int(m.group(1)), m.group(2)
            pre = f"blocks.{i}."
            if sub in _BLOCK_SIMPLE:
                out[pre + _BLOCK_SIMPLE[sub]] = t
            elif sub in _BLOCK_LINEAR:
                out[pre + _BLOCK_LINEAR[sub]] = t.t().contiguous()
            elif sub == _ATT + "out/kernel":  # (heads, hd, D) -> (D_out, heads*hd)
                out[pre + "attn.proj.weight"] = t.reshape(-1, t.shape[-1]).t().contiguous()
            elif sub.startswith(_ATT) and sub[len(_ATT) :] in (
                "query/kernel",
                "key/kernel",
                "value/kernel",
                "query/bias",
                "key/bias",
                "value/bias",
            ):
                qkv.setdefault(i, {})[sub[len(_ATT) :]] = t
            else:
                out[key] = t
    for i, parts in sorted(qkv.items()):
        pre = f"blocks.{i}.attn.qkv."
        names = ("query", "key", "value")
        kernels = [parts.get(f"{n}/kernel") for n in names]
        biases = [parts.get(f"{n}/bias") for n in names]
        if any(k is None for k in kernels) or any(b is None for b in biases):
            have = sorted(parts)
            raise CheckpointMismatchError(
                f"Google checkpoint block {i}: attention needs query/key/value kernel and bias, found {have}"
            )
        # kernel (D_in, heads, hd) -> (D_in, heads*hd) -> Linear weight (heads*hd, D_in)
        out[pre + "weight"] = torch.cat([k.reshape(k.shape[0], -1).t() for k in kernels], dim=0).contiguous()
        out[pre + "bias"] = torch.cat([b.reshape(-1) for b in biases], dim=0)
    return out, dropped


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _select_prefix(sd: StateDict, prefix: str | None) -> tuple[StateDict, list[str]]:
    """Keep the keys under ``prefix`` (stripped). Without a prefix, strip a 'module.' wrapper and
    auto-detect a single prefix in front of ``cls_token`` (e.g. 'pretrained.' of Depth Anything)."""
    if prefix is None:
        if sd and all(k.startswith("module.") for k in sd):
            prefix = "module."
        elif "cls_token" not in sd and not is_google_layout(sd):
            cands = [k[: -len("cls_token")] for k in sd if k.endswith(".cls_token")]
            if len(cands) == 1:
                prefix = cands[0]
    if not prefix:
        return dict(sd), []
    kept = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    if not kept:
        raise CheckpointMismatchError(f"no checkpoint keys start with prefix {prefix!r}")
    return kept, sorted(k for k in sd if not k.startswith(prefix))


def _adapt_to_model(sd: StateDict, model: VisionTransformer) -> tuple[StateDict, list[str], tuple[int, int] | None]:
    """Drop unused entries and resize the position embedding to the model's stored grid."""
    if "register_tokens" in sd:
        raise CheckpointMismatchError(
            "checkpoint has 'register_tokens' (a DINOv2 *_reg model); register-token variants are "
            "not supported, use the plain dinov2_vit*14_pretrain.pth weights"
        )
    out: StateDict = {}
    dropped: list[str] = []
    for k, v in sd.items():
        if k in _DROP_KEYS or k.startswith(_DROP_PREFIXES) or (model.norm is None and k.startswith("norm.")):
            dropped.append(k)
        else:
            out[k] = v
    resized_from = None
    pos = out.get("pos_embed")
    if pos is not None and pos.dim() == 3 and pos.shape[-1] == model.embed_dim:
        n = pos.shape[1] - 1
        side = int(round(n**0.5)) if n > 0 else 0
        if side * side != n:
            raise CheckpointMismatchError(
                f"pos_embed {tuple(pos.shape)}: expected (1, 1 + g*g, {model.embed_dim}) with a cls "
                f"entry and a square g x g grid"
            )
        if (side, side) != model.pos_grid:
            out["pos_embed"] = resize_pos_embed(pos, model.pos_grid, (side, side))
            resized_from = (side, side)
    return out, dropped, resized_from


def load_vit_checkpoint(
    model: VisionTransformer,
    source: Source,
    *,
    strict: bool = True,
    prefix: str | None = None,
) -> LoadReport:
    """Load official ViT/DINOv2 weights (a file path or an in-memory state dict) into ``model``.

    ``prefix`` selects a sub-dict (e.g. ``'pretrained.'``); by default a ``module.`` wrapper or a
    single prefix in front of ``cls_token`` is detected. Shape mismatches always raise
    :class:`CheckpointMismatchError`; missing/unexpected keys raise it when ``strict``.
    """
    if isinstance(source, Mapping):
        raw = {str(k): _to_tensor(v, str(k)) for k, v in _unwrap(source).items()}
    else:
        raw = read_state_dict(source)
    raw, dropped = _select_prefix(raw, prefix)
    layout = "pytorch"
    if is_google_layout(raw):
        layout = "google-npz"
        raw, more = convert_google_vit(raw)
        dropped += more
    sd, more, resized_from = _adapt_to_model(raw, model)
    dropped += more

    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in sd)
    unexpected = sorted(k for k in sd if k not in expected)
    bad = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)
    ]
    cfg = getattr(model, "cfg", None)
    what = f"ViT variant {cfg.name!r}" if cfg is not None else "the ViT"
    if bad:
        raise CheckpointMismatchError(f"checkpoint shapes do not fit {what} (wrong variant?):\n  " + "\n  ".join(bad))
    if strict and (missing or unexpected):

        def _fmt(keys: list[str]) -> str:
            return ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")

        parts = []
        if missing:
            parts.append(f"missing keys: {_fmt(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_fmt(unexpected)}")
        raise CheckpointMismatchError(f"checkpoint ({layout} layout) does not match {what}; " + "; ".join(parts))
    to_load = {k: v for k, v in sd.items() if k in expected}
    with torch.no_grad():
        model.load_state_dict(to_load, strict=False)
    return LoadReport(
        layout=layout,
        loaded=sorted(to_load),
        dropped=sorted(dropped),
        missing=missing,
        unexpected=unexpected,
        pos_embed_resized_from=resized_from,
    )


__all__ = [
    "CheckpointMismatchError",
    "LoadReport",
    "read_state_dict",
    "is_google_layout",
    "convert_google_vit",
    "load_vit_checkpoint",
]
