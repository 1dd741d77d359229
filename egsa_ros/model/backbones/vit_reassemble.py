"""DPT-style reassemble stage and the ViT backbones built on it.

For each of four token sets (B, 1+N, D) from :meth:`VisionTransformer.forward_intermediates`:

1. readout: ``'project'`` concatenates the cls token to every patch token and applies
   Linear(2D, D) + GELU; ``'add'`` adds the cls token; ``'ignore'`` drops it;
2. the patch tokens are laid out on the patch grid (B, D, gh, gw);
3. a 1x1 convolution maps D to the per-scale channels;
4. resampling by 4 (ConvTranspose k4 s4), 2 (ConvTranspose k2 s2), 1 (identity) or 0.5
   (3x3 conv, stride 2, padding 1).

Module names (``readout_projects``, ``projects``, ``resize_layers``) follow the Depth Anything
DPT head. :class:`ViTBackbone` wraps transformer + reassemble behind the
:class:`~.base.Backbone` interface: maps of 4x, 2x, 1x and 0.5x the patch grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from .base import Backbone, check_channels
from .vit import VisionTransformer, ViTConfig, check_vit_input_size, get_vit_config
from .vit_checkpoints import LoadReport, load_vit_checkpoint

READOUTS = ("project", "add", "ignore")
DEFAULT_FACTORS: tuple[float, float, float, float] = (4.0, 2.0, 1.0, 0.5)


def _resample(channels: int, factor: float) -> nn.Module:
    if factor == 4:
        return nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=4, padding=0)
    if factor == 2:
        return nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2, padding=0)
    if factor == 1:
        return nn.Identity()
    if factor == 0.5:
        return nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
    raise ValueError(f"unsupported resample factor {factor}; use 4, 2, 1 or 0.5")


class Reassemble(nn.Module):
    """Turn four ViT token sets into four image-like maps (see the module docstring)."""

    def __init__(
        self,
        embed_dim: int,
        out_channels: Sequence[int],
        *,
        readout: str = "project",
        factors: Sequence[float] = DEFAULT_FACTORS,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose one of {READOUTS}")
        if len(out_channels) != len(factors):
            raise ValueError(f"{len(out_channels)} channel counts for {len(factors)} resample factors")
        self.readout = readout
        self.factors = tuple(float(f) for f in factors)
        self.out_channels = tuple(int(c) for c in out_channels)
        if readout == "project":
            self.readout_projects = nn.ModuleList(
                [nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.GELU()) for _ in out_channels]
            )
        self.projects = nn.ModuleList(
            [nn.Conv2d(embed_dim, c, kernel_size=1, stride=1, padding=0) for c in self.out_channels]
        )
        self.resize_layers = nn.ModuleList([_resample(c, f) for c, f in zip(self.out_channels, self.factors)])

    def forward(self, tokens: Sequence[torch.Tensor], grid: tuple[int, int]) -> list[torch.Tensor]:
        """``tokens``: list of (B, 1+gh*gw, D) with the cls token first; returns the maps."""
        if len(tokens) != len(self.projects):
            raise ValueError(f"expected {len(self.projects)} token sets, got {len(tokens)}")
        gh, gw = grid
        outs = []
        for i, t in enumerate(tokens):
            cls, patches = t[:, :1], t[:, 1:]
            if self.readout == "project":
                patches = self.readout_projects[i](torch.cat([patches, cls.expand_as(patches)], dim=-1))
            elif self.readout == "add":
                patches = patches + cls
            b, _, d = patches.shape
            x = patches.transpose(1, 2).reshape(b, d, gh, gw)
            outs.append(self.resize_layers[i](self.projects[i](x)))
        return outs


class ViTBackbone(Backbone):
    """A ViT encoder (``vit_b16``, ``dinov2_vits14``, ``dinov2_vitb14``) with a DPT reassemble.

    Takes (B, 3, H, W) normalised with ``pixel_mean``/``pixel_std``; H and W must be multiples of
    ``size_divisor`` = 2 x patch (an even patch grid g = H/patch). Returns maps with spatial
    sizes 4g, 2g, g, g/2 (finest first) and ``out_channels`` channels.

    ``img_size`` is the intended input size, validated at construction (the stored position
    embedding is resized on the fly for other valid sizes). ``layers`` are 0-based block
    indices. ``intermediate_norm`` (default per variant: True for DINOv2 as in Depth Anything,
    False for ViT-B/16 as in DPT) applies the final LayerNorm to the intermediate tokens.
    ``checkpoint`` is a path to official weights (see :mod:`.vit_checkpoints`).
    """

    def __init__(
        self,
        *,
        variant: str | ViTConfig,
        img_size: int | tuple[int, int],
        layers: Sequence[int] | None = None,
        reassemble_channels: Sequence[int] | None = None,
        readout: str = "project",
        checkpoint: str | os.PathLike | None = None,
        intermediate_norm: bool | None = None,
    ) -> None:
        super().__init__()
        cfg = get_vit_config(variant)
        self.cfg = cfg
        self.variant = cfg.name
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if len(img_size) != 2:
            raise ValueError(f"img_size must be (height, width), got {img_size}")
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.patch_size = cfg.patch_size
        check_vit_input_size(*self.img_size, cfg.patch_size, what=f"img_size of {cfg.name}")

        layers = tuple(cfg.layers if layers is None else layers)
        if len(layers) != 4:
            raise ValueError(f"layers must name 4 blocks, got {layers}")
        for i in layers:
            if not 0 <= int(i) < cfg.depth:
                raise ValueError(f"layer index {i} out of range for {cfg.name} (depth {cfg.depth})")
        self.layers = tuple(int(i) for i in layers)
        self.intermediate_norm = cfg.intermediate_norm if intermediate_norm is None else bool(intermediate_norm)

        channels = check_channels(cfg.reassemble_channels if reassemble_channels is None else reassemble_channels)
        self.out_channels = channels
        self.size_divisor = 2 * cfg.patch_size
        self.pixel_mean = tuple(cfg.pixel_mean)  # type: ignore[assignment]
        self.pixel_std = tuple(cfg.pixel_std)  # type: ignore[assignment]

        self.encoder = VisionTransformer(cfg, final_norm=self.intermediate_norm)
        self.reassemble = Reassemble(cfg.embed_dim, channels, readout=readout)
        self.load_report: LoadReport | None = None
        if checkpoint is not None:
            self.load_report = load_vit_checkpoint(self.encoder, checkpoint)

    def load_checkpoint(self, source, *, strict: bool = True, prefix: str | None = None) -> LoadReport:
        """Load encoder weights from a path or state dict (see :func:`load_vit_checkpoint`)."""
        self.load_report = load_vit_checkpoint(self.encoder, source, strict=strict, prefix=prefix)
        return self.load_report

    def output_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """Spatial sizes of the four maps for an input of ``height`` x ``width``."""
        gh, gw = check_vit_input_size(height, width, self.patch_size)
        return [(gh * 4, gw * 4), (gh * 2, gw * 2), (gh, gw), (gh // 2, gw // 2)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4 or (not torch.jit.is_tracing() and x.shape[1] != 3):
            raise ValueError(f"expected a (B, 3, H, W) image, got shape {tuple(x.shape)}")
        grid = check_vit_input_size(x.shape[-2], x.shape[-1], self.patch_size)
        tokens = self.encoder.forward_intermediates(x, self.layers, norm=self.intermediate_norm)
        return self.reassemble(tokens, grid)


def build_vit_backbone(**kwargs) -> ViTBackbone:
    """Keyword-only builder (same arguments as :class:`ViTBackbone`)."""
    return ViTBackbone(**kwargs)


__all__ = ["READOUTS", "Reassemble", "ViTBackbone", "build_vit_backbone"]
