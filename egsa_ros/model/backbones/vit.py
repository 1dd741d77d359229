"""A plain Vision Transformer (ViT-B/16 as in DPT/MODEST, and DINOv2 ViT-S/14, ViT-B/14).

The module names follow the common PyTorch layout (``patch_embed.proj``, ``blocks.{i}.norm1``,
``blocks.{i}.attn.qkv``, ``blocks.{i}.ls1.gamma``, ...), so official DINOv2 and timm-layout
checkpoints map one to one; :mod:`.vit_checkpoints` also converts Google's JAX ``.npz`` files.

The intermediate token sequences the DPT reassemble stage consumes are returned explicitly by
:meth:`VisionTransformer.forward_intermediates` (no forward hooks, nothing kept on the module),
which keeps the model traceable for ONNX export.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN_255 = (0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0)
IMAGENET_STD_255 = (0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0)
HALF_255 = (127.5, 127.5, 127.5)


@dataclass(frozen=True)
class ViTConfig:
    """Architecture and defaults of one ViT variant."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int
    pos_grid: int  # side of the (square) grid the stored position embedding covers
    layer_scale: bool  # DINOv2-style LayerScale after attention and MLP
    mlp_ratio: float = 4.0
    ln_eps: float = 1e-6
    layer_scale_init: float = 1e-5
    layers: tuple[int, ...] = (2, 5, 8, 11)  # blocks whose outputs feed the reassemble stage
    reassemble_channels: tuple[int, int, int, int] = (96, 192, 384, 768)
    # Apply the final LayerNorm to the intermediate tokens (Depth Anything does for DINOv2;
    # DPT/MODEST use the raw block outputs of ViT-B/16).
    intermediate_norm: bool = False
    pixel_mean: tuple[float, float, float] = IMAGENET_MEAN_255
    pixel_std: tuple[float, float, float] = IMAGENET_STD_255

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(round(self.embed_dim * self.mlp_ratio))


VIT_VARIANTS: dict[str, ViTConfig] = {
    "vit_b16": ViTConfig(
        name="vit_b16",
        embed_dim=768,
        depth=12,
        num_heads=12,
        patch_size=16,
        pos_grid=24,
        layer_scale=False,
        reassemble_channels=(96, 192, 384, 768),
        intermediate_norm=False,
        pixel_mean=HALF_255,
        pixel_std=HALF_255,
    ),
    "dinov2_vits14": ViTConfig(
        name="dinov2_vits14",
        embed_dim=384,
        depth=12,
        num_heads=6,
        patch_size=14,
        pos_grid=37,
        layer_scale=True,
        reassemble_channels=(48, 96, 192, 384),
        intermediate_norm=True,
    ),
    "dinov2_vitb14": ViTConfig(
        name="dinov2_vitb14",
        embed_dim=768,
        depth=12,
        num_heads=12,
        patch_size=14,
        pos_grid=37,
        layer_scale=True,
        reassemble_channels=(96, 192, 384, 768),
        intermediate_norm=True,
    ),
}

# Tiny configurations for unit tests (private: not meant for real use).
_TEST_VARIANTS: dict[str, ViTConfig] = {
    "_tiny_dinov2": ViTConfig(
        name="_tiny_dinov2",
        embed_dim=32,
        depth=4,
        num_heads=2,
        patch_size=8,
        pos_grid=4,
        layer_scale=True,
        layers=(0, 1, 2, 3),
        reassemble_channels=(8, 16, 24, 32),
        intermediate_norm=True,
    ),
    "_tiny_vit": ViTConfig(
        name="_tiny_vit",
        embed_dim=32,
        depth=4,
        num_heads=2,
        patch_size=8,
        pos_grid=4,
        layer_scale=False,
        layers=(0, 1, 2, 3),
        reassemble_channels=(8, 16, 24, 32),
        intermediate_norm=False,
        pixel_mean=HALF_255,
        pixel_std=HALF_255,
    ),
}


def get_vit_config(variant) -> ViTConfig:
    """Look a variant up by name (or pass a :class:`ViTConfig` through)."""
    if isinstance(variant, ViTConfig):
        return variant
    cfg = VIT_VARIANTS.get(variant) or _TEST_VARIANTS.get(variant)
    if cfg is None:
        raise ValueError(f"unknown ViT variant {variant!r}; choose one of {sorted(VIT_VARIANTS)}")
    return cfg


def check_vit_input_size(height: int, width: int, patch_size: int, what: str = "input") -> tuple[int, int]:
    """Validate an image size for a ViT backbone and return its patch grid ``(gh, gw)``.

    Both sides must be multiples of the patch size and give an even patch grid (so that the
    coarsest reassembled map is exactly half the grid), i.e. multiples of ``2 * patch_size``.
    """
    if torch.jit.is_tracing():  # traced (ONNX) sizes are static: read them as constants quietly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            height, width = int(height), int(width)
    else:
        height, width = int(height), int(width)
    step = 2 * patch_size
    if height <= 0 or width <= 0 or height % step or width % step:

        def near(v: int) -> int:
            return max(step, int(round(v / step)) * step)

        if height % patch_size or width % patch_size:
            why = f"is not a multiple of patch {patch_size}"
        else:
            why = f"gives an odd patch grid {height // patch_size}x{width // patch_size} (the grid sides must be even)"
        raise ValueError(
            f"{what} {height}x{width} {why}: height and width must be positive multiples of "
            f"{step} (2 x patch {patch_size}); e.g. use {near(height)}x{near(width)}"
        )
    return height // patch_size, width // patch_size


def resize_pos_embed(
    pos_embed: torch.Tensor, grid: tuple[int, int], src_grid: tuple[int, int] | None = None
) -> torch.Tensor:
    """Bicubically resize a position embedding ``(1, 1 + gh*gw, D)`` (cls entry first) to ``grid``.

    ``src_grid`` defaults to the square grid implied by the token count. The cls entry is kept.
    """
    n = pos_embed.shape[1] - 1
    if src_grid is None:
        side = int(round(n**0.5))
        if side * side != n:
            raise ValueError(f"position embedding with {n} patch entries is not a square grid")
        src_grid = (side, side)
    if tuple(src_grid) == tuple(grid):
        return pos_embed
    dim = pos_embed.shape[-1]
    cls_pos = pos_embed[:, :1]
    patch_pos = pos_embed[:, 1:].reshape(1, src_grid[0], src_grid[1], dim).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(
        patch_pos.float(), size=(int(grid[0]), int(grid[1])), mode="bicubic", align_corners=False
    ).to(pos_embed.dtype)
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, int(grid[0]) * int(grid[1]), dim)
    return torch.cat([cls_pos, patch_pos], dim=1)


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens via a strided convolution."""

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection.

    Eager mode uses ``F.scaled_dot_product_attention`` (fused, memory-efficient kernels). While
    exporting to ONNX the same maths is written as matmul + softmax with a constant scale: the
    legacy exporter would lower SDPA correctly at opset 17 too, but with a Shape/Sqrt chain per
    layer to compute the scale; the explicit form gives a plain MatMul/Softmax/MatMul graph.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, heads, N, hd)
        if torch.onnx.is_in_onnx_export():
            attn = torch.softmax(torch.matmul(q * self.head_dim**-0.5, k.transpose(-2, -1)), dim=-1)
            out = torch.matmul(attn, v)
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1(x))); x + ls2(mlp(norm2(x)))."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.attn = Attention(d, cfg.num_heads)
        self.ls1 = LayerScale(d, cfg.layer_scale_init) if cfg.layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.mlp = Mlp(d, cfg.mlp_hidden)
        self.ls2 = LayerScale(d, cfg.layer_scale_init) if cfg.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """ViT encoder with a cls token and a learned position embedding for ``pos_grid``².

    ``final_norm=False`` leaves out the closing LayerNorm (its checkpoint entries are then
    ignored by the loader), for users that only read raw block outputs.
    """

    def __init__(self, cfg: ViTConfig, *, final_norm: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_dim = cfg.embed_dim
        self.patch_size = cfg.patch_size
        self.pos_grid = (cfg.pos_grid, cfg.pos_grid)
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.pos_grid * cfg.pos_grid, cfg.embed_dim))
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.norm: nn.LayerNorm | None = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps) if final_norm else None
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid of an input; raises ValueError for sizes the backbone cannot take."""
        return check_vit_input_size(height, width, self.patch_size)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch-embed, prepend the cls token and add position embeddings: (B, 1+N, D)."""
        gh, gw = self.grid_size(x.shape[-2], x.shape[-1])
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1)
        pos = self.pos_embed
        if (gh, gw) != self.pos_grid:
            pos = resize_pos_embed(pos, (gh, gw), self.pos_grid)
        return tokens + pos

    def _normalise_indices(self, indices: Sequence[int]) -> list[int]:
        depth = len(self.blocks)
        out = []
        for i in indices:
            j = int(i) + depth if int(i) < 0 else int(i)
            if not 0 <= j < depth:
                raise ValueError(f"block index {i} out of range for a depth-{depth} ViT")
            out.append(j)
        return out

    def forward_intermediates(self, x: torch.Tensor, indices: Sequence[int], norm: bool = False) -> list[torch.Tensor]:
        """Token sequences (B, 1+N, D) (cls first) after the blocks in ``indices`` (0-based).

        Returned in the order of ``indices``; with ``norm=True`` each goes through the final
        LayerNorm. Blocks after the deepest requested index are not run.
        """
        idx = self._normalise_indices(indices)
        if norm and self.norm is None:
            raise ValueError("norm=True needs a VisionTransformer built with final_norm=True")
        wanted = set(idx)
        last = max(idx)
        found: dict[int, torch.Tensor] = {}
        h = self.embed(x)
        for i, blk in enumerate(self.blocks):
            if i > last:
                break
            h = blk(h)
            if i in wanted:
                found[i] = self.norm(h) if norm else h
        return [found[i] for i in idx]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the last block (and the final norm when present)."""
        h = self.embed(x)
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h) if self.norm is not None else h


def build_vit(variant, *, final_norm: bool = True) -> VisionTransformer:
    """Construct the transformer of a named variant (random weights)."""
    return VisionTransformer(get_vit_config(variant), final_norm=final_norm)


__all__ = [
    "ViTConfig",
    "VIT_VARIANTS",
    "get_vit_config",
    "check_vit_input_size",
    "resize_pos_embed",
    "PatchEmbed",
    "Attention",
    "Mlp",
    "LayerScale",
    "Block",
    "VisionTransformer",
    "build_vit",
]
