"""The EGSA training loop (single process, or DDP under ``torchrun``).

- Parameter groups: ``model.backbone`` at ``optim.lr_encoder``, the rest at ``optim.lr_decoder``,
  both scaled per step by :func:`lr_factor` (``optim.lr_schedule``: constant or cosine decay to
  ``min_lr_ratio`` over the run's total steps, after ``warmup_steps`` of linear warm-up). The
  factor is a function of the global step only, so ``--resume`` continues the same curve.
  ``optim.train_only`` (e.g. ``[seg_refiner]``) trains the named model parts and freezes the
  rest, BatchNorm statistics included.
- Edge phase per epoch: ``rgb`` for epoch < ``progressive.switch_epoch`` and ``depth`` after
  when the model's ``edge_source`` is ``progressive``; otherwise the fixed ``edge_source``.
  Validation runs the inference phase (``ModelConfig.inference_edge_phase``) with the run's
  test-time options (``inference``, default none), i.e. what the exported model computes.
- Loss: :func:`egsa_ros.losses.egsa_total_loss` over all iterations and scales (train); the
  val loss is the same function on the final output only (one iteration, one scale), so it is
  smaller than the train loss by construction.
- Validation metrics (over the whole val split, all-reduced under DDP; see
  :func:`egsa_ros.train.validation.evaluate_model`, shared with ``train.evaluate`` and
  ``train.calibrate``): depth RMSE / MAE / REL / delta<1.05/1.10/1.25 over all valid pixels and
  (``t_`` prefix) over transparent pixels, segmentation mIoU, pixel accuracy and ``transparent_iou``.
- Outputs in ``out_dir``: ``metrics.jsonl`` (always), TensorBoard events in ``tb/`` when
  tensorboardX or tensorboard is installed, ``config.yaml``, checkpoints ``last/`` (every
  validated epoch) and ``best/`` (by ``best_metric``, higher is better).
- RNG: torch / numpy / python are reseeded at the start of every epoch from
  ``(seed, epoch, rank)``, so a resumed run draws the same shuffles and augmentations as an
  uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from ..data.clean_twins import CleanTwins
from ..data.degradations import DegradationConfig
from ..data.photos import PhotoNegatives
from ..data.table_texture import table_photos
from ..data.transforms import EvalTransform, TrainTransform
from ..model.checkpoint import load_weights
from ..model.checkpoint_info import MODEL_FILE, inference_options_from_info, model_config_from_info, read_info
from ..model.config import ModelConfig
from ..model.encoder_init import EncoderInit
from ..model.net import build_model
from ..model.test_time import camera_depth_scale
from .checkpoint import jsonable, load_training_state, save_checkpoint, set_rng_state, unwrap
from .config import TrainConfig
from .objective import TrainingLoss
from .validation import (
    build_eval_dataset,
    collate,
    evaluate_model,
    open_dataset,
    resolve_device,
    to_device,
    validation_loader,
)

# ----------------------------------------------------------------------------- helpers


class DistInfo:
    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> DistInfo:
    info = DistInfo()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return info


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + epoch * 1009 + rank) % (2**31)


def degradation_config(data) -> DegradationConfig:
    """The camera degradations of ``data`` (a :class:`DataConfig`): the defaults, with the
    white-balance gains' range from ``data.white_balance_range`` when it is set, the share of
    frames relit by light pools from ``data.light_pools`` and the shares whose render noise is
    flattened or filtered from ``data.render_noise`` and ``data.render_denoise``."""
    options: dict = {
        "p_light_pools": float(data.light_pools),
        "p_render_noise": float(data.render_noise),
        "p_render_denoise": float(data.render_denoise),
    }
    if data.white_balance_range is not None:
        options["white_balance"] = tuple(float(v) for v in data.white_balance_range)
    return DegradationConfig(**options)


def build_dataset(cfg: TrainConfig, mc: ModelConfig, split: str, train: bool) -> Dataset:
    """The run's frames of ``split``: for training augmented (``data.augment``), filtered
    (``data.exclude_glass_shapes``, ``data.max_glass_ior``: held-out glass is filtered from
    training only), the split's frames read from their clean renders with probability
    ``data.clean_twin_share`` (``data.clean_twins``), with the ``data.extra_train`` folders (their
    frames paired with clean twins too) and ``data.photo_negatives`` added;
    for validation those of :func:`egsa_ros.train.validation.build_eval_dataset`."""
    if not train:
        return build_eval_dataset(cfg.data.kind, cfg.data.root, split, mc)
    if cfg.data.augment:
        degradations = degradation_config(cfg.data) if cfg.data.degradations else None
        transform = TrainTransform(
            mc.input_size,
            mc.d_min,
            mc.d_max,
            seed=cfg.seed,
            degradations=degradations,
            crop_min_scale=cfg.data.crop_min_scale,
            p_zoom_out=cfg.data.p_zoom_out,
            zoom_out_min_scale=cfg.data.zoom_out_min_scale,
            p_table_texture=cfg.data.table_texture,
            table_photos=table_photos(cfg.data.photo_set) if cfg.data.table_texture > 0 else (),
        )
    else:
        transform = EvalTransform(mc.input_size, mc.d_min, mc.d_max)
    held_out = {}
    if cfg.data.kind == "synthetic":
        held_out = {"exclude_glass_shapes": cfg.data.exclude_glass_shapes, "max_glass_ior": cfg.data.max_glass_ior}
    folders = [(cfg.data.root, split)]
    # More frame folders, e.g. another generator's train split, against forgetting it.
    folders += [(str(Path(folder).parent), Path(folder).name) for folder in cfg.data.extra_train]
    parts = []
    for root, name in folders:
        part = open_dataset(cfg.data.kind, root, name, transform, **held_out)
        if cfg.data.clean_twin_share > 0:  # every synthetic folder is paired, not only the train split
            part = CleanTwins(part, cfg.data.clean_twins, cfg.data.clean_twin_share, seed=cfg.seed)
            print(
                f"clean twins: {len(part.twin_of)} of {len(part)} {root}/{name} frames, "
                f"each read clean with probability {cfg.data.clean_twin_share}",
                flush=True,
            )
        parts.append(part)
    if cfg.data.photo_negatives > 0:
        height, width = mc.input_size
        # Glass-free real photos (train split of the packaged photos only; the held-out ones are a test).
        parts.append(
            PhotoNegatives(
                "train",
                (width, height),
                cfg.data.photo_negatives,
                seed=cfg.seed,
                transform=transform,
                photo_set=cfg.data.photo_set,
            )
        )
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def train_edge_phase(mc: ModelConfig, epoch: int, switch_epoch: int) -> str:
    """Edge phase of training epoch ``epoch`` (0-based)."""
    if mc.edge_source == "progressive":
        return "rgb" if epoch < switch_epoch else "depth"
    return mc.edge_source


def lr_factor(
    step: int, total_steps: int, schedule: str = "constant", warmup_steps: int = 0, min_lr_ratio: float = 0.05
) -> float:
    """Learning-rate multiplier for optimiser step ``step`` (0-based) of ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(total_steps - warmup_steps - 1, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    enc = [p for p in model.backbone.parameters() if p.requires_grad]
    enc_ids = {id(p) for p in enc}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in enc_ids]
    groups = []
    if enc:
        groups.append({"name": "encoder", "params": enc, "lr": cfg.optim.lr_encoder})
    if rest or not enc:
        groups.append({"name": "decoder", "params": rest, "lr": cfg.optim.lr_decoder})
    return groups


def freeze_parts(model: torch.nn.Module, train_only: Sequence[str] | None) -> None:
    """Turn gradients off for every top-level part of ``model`` not named in ``train_only``
    (``optim.train_only``; None trains everything)."""
    if train_only is None:
        return
    for name, part in model.named_children():
        if name not in train_only:
            part.requires_grad_(False)


def frozen_parts_to_eval(model: torch.nn.Module, train_only: Sequence[str] | None) -> None:
    """After ``model.train()``: put the frozen parts back in eval mode, so their BatchNorm
    layers keep the loaded running statistics and normalise with them."""
    if train_only is None:
        return
    for name, part in model.named_children():
        if name not in train_only:
            part.eval()


def unused_parameters(model: torch.nn.Module, mc: ModelConfig, device: torch.device) -> list[str]:
    """Names of parameters a training forward/backward leaves without a gradient (for DDP's
    ``find_unused_parameters``). Buffers (BatchNorm statistics) are restored afterwards."""
    saved = {k: v.detach().clone() for k, v in model.named_buffers()}
    model.train()
    h, w = mc.input_size
    rgb = torch.rand(1, 3, h, w, device=device) * 255
    unused = set()
    for phase in sorted({"rgb", "depth"} if mc.edge_source != "rgb" else {"rgb"}):
        out = model(rgb, edge_phase=phase)
        (out.depth_all.float().mean() + out.seg_all.float().mean()).backward()
        unused |= {n for n, p in model.named_parameters() if p.requires_grad and p.grad is None}
        model.zero_grad(set_to_none=True)
    with torch.no_grad():
        for k, v in model.named_buffers():
            v.copy_(saved[k])
    return sorted(unused)


def _nan_to_neg(x: Any) -> float:
    return -math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class _Logger:
    """metrics.jsonl (always) + TensorBoard scalars when a writer is installed. Rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb = None
        self.tb_kind = None
        if not enabled:
            return
        try:  # optional dependencies: metrics.jsonl is always written
            from tensorboardX import SummaryWriter  # type: ignore  # noqa: PLC0415 - tensorboardX is optional

            self.tb_kind = "tensorboardX"
        except ImportError:
            try:
                from torch.utils.tensorboard import SummaryWriter  # type: ignore  # noqa: PLC0415 - fallback without tensorboardX

                self.tb_kind = "torch.utils.tensorboard"
            except ImportError:
                SummaryWriter = None  # type: ignore
        if SummaryWriter is not None:
            self.tb = SummaryWriter(str(out_dir / "tb"))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as fh:
            fh.write(json.dumps(jsonable(record), sort_keys=True) + "\n")

    def scalars(self, prefix: str, values: dict[str, Any], step: int) -> None:
        if self.tb is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
                self.tb.add_scalar(f"{prefix}/{k}", float(v), step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# ----------------------------------------------------------------------------- trainer


class Trainer:
    """Build everything from a :class:`TrainConfig`; :meth:`fit` trains and returns a summary."""

    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        cfg.validate()
        self.cfg = cfg
        self.mc = cfg.model_config()
        self.options = cfg.inference_options()
        self.out_dir = Path(cfg.out_dir)
        self._setup_device()
        resume_info = self._read_resume_info() if resume else None
        self.model = self._build_model(resuming=resume_info is not None)
        self._build_optimizer()
        self._loss = TrainingLoss(cfg.loss, self.mc, self.device)
        self._maybe_resume(resume_info)
        self._wrap_ddp()
        self._build_data()
        self.logger = _Logger(self.out_dir, self.is_main)

    # ------------------------------------------------------------------ construction steps
    def _setup_device(self) -> None:
        """Device, thread count, process group (under torchrun) and the first seeding."""
        local = DistInfo()
        self.device = resolve_device(self.cfg.device, local.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.cfg.num_threads:
            torch.set_num_threads(int(self.cfg.num_threads))
        self.dist = setup_distributed(self.device)
        self.is_main = self.dist.is_main
        self.show_progress = self.is_main and sys.stderr.isatty()
        seed_everything(self.cfg.seed + self.dist.rank)

    def _read_resume_info(self) -> dict[str, Any]:
        """``checkpoint.json`` of ``out_dir/last``, checked to describe this run's architecture."""
        resume_dir = self.out_dir / "last"
        info = read_info(resume_dir)
        if model_config_from_info(info) != self.mc:
            raise ValueError(f"--resume: the model config in {resume_dir} differs from this config")
        return info

    def _build_model(self, resuming: bool) -> torch.nn.Module:
        """The network on the device: the run's encoder weights (``model.pretrained``) unless a
        checkpoint's weights replace them anyway (a resume loads them later; ``init_from`` here),
        in channels-last layout when asked, with the parts outside ``optim.train_only`` frozen."""
        cfg = self.cfg
        from_checkpoint = resuming or bool(cfg.init_from)
        model = build_model(self.mc, EncoderInit() if from_checkpoint else cfg.encoder_init()).to(self.device)
        if cfg.init_from and not resuming:
            self._init_weights_from(model, Path(cfg.init_from))
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        freeze_parts(model, cfg.optim.train_only)
        return model

    def _build_optimizer(self) -> None:
        """Optimiser over the trainable parameter groups, and the AMP settings and grad scaler."""
        cfg = self.cfg
        self.optimizer = self._make_optimizer(self.model)
        self.amp = bool(cfg.amp and self.device.type == "cuda")
        self.amp_dtype = torch.bfloat16 if cfg.amp_dtype == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and cfg.amp_dtype == "fp16")

    def _maybe_resume(self, info: dict[str, Any] | None) -> None:
        """Start at epoch 0, or (``--resume``) load ``out_dir/last``'s weights, optimiser, scaler
        and RNG state and continue after its epoch."""
        self.start_epoch = 0
        self.step = 0
        self.best_value = -math.inf
        if info is None:
            return
        resume_dir = self.out_dir / "last"
        self.model.load_state_dict(load_weights(resume_dir / MODEL_FILE, device=str(self.device)), strict=True)
        state = load_training_state(resume_dir, map_location=self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])  # fit() also reseeds per (seed, epoch, rank)
        self.start_epoch = int(info["epoch"]) + 1
        self.step = int(info["step"])
        best = info.get("best") or {}
        self.best_value = _nan_to_neg(best.get("value"))

    def _wrap_ddp(self) -> None:
        """``ddp_model``: the model, in a DistributedDataParallel wrapper under torchrun."""
        self.ddp_model: torch.nn.Module = self.model
        if self.dist.enabled:
            unused = unused_parameters(self.model, self.mc, self.device)
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = DistributedDataParallel(
                self.model, device_ids=device_ids, find_unused_parameters=bool(unused)
            )

    def _build_data(self) -> None:
        """Train set and loader (sharded by a DistributedSampler under DDP), val loader."""
        cfg = self.cfg
        self.train_set = build_dataset(cfg, self.mc, cfg.data.train_split, train=True)
        val = build_dataset(cfg, self.mc, cfg.data.val_split, train=False)
        pin = self.device.type == "cuda"
        self.val_loader = validation_loader(
            val,
            batch_size=cfg.optim.batch_size,
            num_workers=cfg.data.num_workers,
            max_samples=cfg.data.max_val_samples,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            pin_memory=pin,
        )
        self.val_set = self.val_loader.dataset
        self.train_sampler = None
        if self.dist.enabled:
            self.train_sampler = DistributedSampler(
                self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True, seed=cfg.seed
            )
        per_rank = math.ceil(len(self.train_set) / self.dist.world_size)
        self.train_loader = DataLoader(
            self.train_set,
            batch_size=cfg.optim.batch_size,
            shuffle=self.train_sampler is None,
            sampler=self.train_sampler,
            num_workers=cfg.data.num_workers,
            collate_fn=collate,
            drop_last=per_rank > cfg.optim.batch_size,
            pin_memory=pin,
            persistent_workers=cfg.data.num_workers > 0,
        )

    # ------------------------------------------------------------------ pieces
    def _make_optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        o = self.cfg.optim
        cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
        return cls(param_groups(model, self.cfg), weight_decay=o.weight_decay)

    def steps_per_epoch(self) -> int:
        n = len(self.train_loader)
        return n if self.cfg.max_steps_per_epoch is None else min(n, self.cfg.max_steps_per_epoch)

    def _set_lr(self) -> None:
        o = self.cfg.optim
        f = lr_factor(self.step, o.epochs * self.steps_per_epoch(), o.lr_schedule, o.warmup_steps, o.min_lr_ratio)
        base = {"encoder": o.lr_encoder, "decoder": o.lr_decoder}  # from the config, also after --resume
        for group in self.optimizer.param_groups:
            group["lr"] = base[group["name"]] * f

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return to_device(batch, self.device, self.cfg.channels_last)

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over all processes (DDP); returned on ``t``'s device."""
        if not self.dist.enabled:
            return t
        on_device = t.to(self.device)  # NCCL reduces GPU tensors only (a no-op copy on CPU / gloo)
        dist.all_reduce(on_device, op=dist.ReduceOp.SUM)
        return on_device.to(t.device)

    # ------------------------------------------------------------------ epochs
    def _init_weights_from(self, model: torch.nn.Module, directory: Path) -> None:
        """Load a checkpoint's weights to start a new run from.

        The architecture must be the same, except that this run may add a segmentation refiner
        (``model.overrides={"seg_refine": true}``) to a checkpoint without one: every saved
        tensor is loaded and the refiner starts as its zero correction (the checkpoint's
        predictions, unchanged); and it may train at another network input
        (``model.overrides.input_size``): no weight's shape depends on it (the CNN encoder is fully
        convolutional, the ViT resizes its position table at run time); a tensor that still does
        not fit is refused with the reason. The checkpoint's test-time options are not carried over: the
        run validates and saves with its own (``inference``); a calibrated decision bias is
        named in a message, as it needs choosing again after training."""
        info = read_info(directory)
        saved = model_config_from_info(info)
        saved_bias = inference_options_from_info(info).transparent_logit_bias
        if saved_bias != 0.0 and saved_bias != self.options.transparent_logit_bias and self.is_main:
            print(
                f"init_from {directory}: its transparent_logit_bias {saved_bias:+.2f} (a test-time decision "
                f"bias) is not carried over; recalibrate after training",
                flush=True,
            )
        adds_refiner = self.mc.seg_refine and not saved.seg_refine
        compared = saved.replace(
            seg_refine=self.mc.seg_refine if adds_refiner else saved.seg_refine, input_size=self.mc.input_size
        )
        if compared != self.mc:
            fields = [f.name for f in dataclasses.fields(self.mc)]
            differ = [name for name in fields if getattr(compared, name) != getattr(self.mc, name)]
            raise ValueError(
                f"init_from: the model config in {directory} differs from this run's in {', '.join(differ)} "
                "(only input_size may differ, and a seg_refine may be added)"
            )
        state = load_weights(directory / MODEL_FILE, device=str(self.device))
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # a tensor of another shape: one line, not torch's traceback
            first = str(exc).strip().splitlines()[-1].strip()
            raise ValueError(
                f"init_from: {directory / MODEL_FILE} does not fit this model at input "
                f"{self.mc.input_size[0]}x{self.mc.input_size[1]}: {first}"
            ) from exc
        new = [k for k in missing if adds_refiner and k.startswith("seg_refiner.")]
        if unexpected or len(new) != len(missing):
            raise ValueError(
                f"init_from: {directory / MODEL_FILE} does not fit this model: "
                f"missing {sorted(set(missing) - set(new))[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        if new and self.is_main:
            print(f"init_from {directory}: {len(new)} seg_refiner tensors start fresh (zero correction)", flush=True)
        if tuple(saved.input_size) != tuple(self.mc.input_size) and self.is_main:
            (sh, sw), (h, w) = saved.input_size, self.mc.input_size
            print(f"init_from {directory}: weights trained at {sh}x{sw} now train at {h}x{w}", flush=True)

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        cfg = self.cfg
        phase = train_edge_phase(self.mc, epoch, cfg.progressive.switch_epoch)
        self.ddp_model.train()
        frozen_parts_to_eval(unwrap(self.ddp_model), cfg.optim.train_only)
        if self.train_sampler is not None:
            self.train_sampler.set_epoch(epoch)
        n_steps = self.steps_per_epoch()
        bar = tqdm(
            total=n_steps,
            desc=f"epoch {epoch} [{phase}]",
            disable=not self.show_progress,
            dynamic_ncols=True,
            leave=False,
        )
        sums = torch.zeros(4, dtype=torch.float64)  # total, depth, seg, count
        step_times = []
        for i, batch in enumerate(self.train_loader):
            if i >= n_steps:
                break
            t0 = time.perf_counter()
            b = self._to_device(batch)
            with self._autocast():
                out = self.ddp_model(b["rgb"], edge_phase=phase)
            depth_all = out.depth_all * camera_depth_scale(b["K"], b["rgb"].shape[-1], self.options).to(out.depth_all)
            total, parts = self._loss(depth_all, out.seg_all, b)
            if not torch.isfinite(total):
                raise FloatingPointError(
                    f"non-finite loss at epoch {epoch} step {self.step}: "
                    f"{ {k: float(v) for k, v in parts.items() if '_' not in k} }"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self._set_lr()
            self.scaler.scale(total).backward()
            if cfg.optim.grad_clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            step_times.append(time.perf_counter() - t0)
            total_value = float(parts["total"])
            sums += torch.tensor([total_value, float(parts["depth"]), float(parts["seg"]), 1.0], dtype=torch.float64)
            bar.update(1)
            bar.set_postfix(loss=f"{total_value:.4f}")
            if self.step % cfg.log_every == 0 and self.is_main:
                rec = {
                    "type": "train",
                    "epoch": epoch,
                    "step": self.step,
                    "edge_phase": phase,
                    "loss": total_value,
                    "depth": float(parts["depth"]),
                    "seg": float(parts["seg"]),
                    "step_time_s": step_times[-1],
                    **{f"lr_{g['name']}": g["lr"] for g in self.optimizer.param_groups},
                }
                for optional in ("glassdepth", "lovasz", "deal"):  # terms a run's config adds
                    if optional in parts:
                        rec[optional] = float(parts[optional])
                self.logger.write(rec)
                self.logger.scalars("train", rec, self.step)
        bar.close()
        sums = self._reduce(sums)
        n = max(sums[3].item(), 1.0)
        # Skip the first step (warm-up: allocator, lazy init) when there is more than one.
        timed = step_times[1:] if len(step_times) > 1 else step_times
        return {
            "edge_phase": phase,
            "train_loss": sums[0].item() / n,
            "train_depth": sums[1].item() / n,
            "train_seg": sums[2].item() / n,
            "train_steps": int(sums[3].item()),
            "step_time_s": float(np.mean(timed)) if timed else float("nan"),
        }

    def validate(self) -> dict[str, Any]:
        """Metrics over the whole val split (all ranks): :func:`~egsa_ros.train.validation.evaluate_model`
        with the run's test-time options, the inference edge phase and the val loss."""
        return evaluate_model(
            self.model,  # no DDP wrapper needed without gradients
            self.val_loader,
            self.options,
            self.device,
            loss=self._loss.of_prediction,
            autocast_dtype=self.amp_dtype if self.amp else None,
            channels_last=self.cfg.channels_last,
            all_reduce=self._reduce,
        )

    # ------------------------------------------------------------------ fit
    def fit(self) -> dict[str, Any]:
        cfg = self.cfg
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "config.yaml", "w") as fh:
                yaml.safe_dump(
                    {"train": cfg.to_dict(), "model": self.mc.to_dict(), "inference_options": self.options.to_dict()},
                    fh,
                    sort_keys=False,
                )
            self.logger.write(
                {
                    "type": "start",
                    "start_epoch": self.start_epoch,
                    "step": self.step,
                    "world_size": self.dist.world_size,
                    "device": str(self.device),
                    "tensorboard": self.logger.tb_kind,
                }
            )
        last_val: dict[str, Any] = {}
        for epoch in range(self.start_epoch, cfg.optim.epochs):
            s = epoch_seed(cfg.seed, epoch, self.dist.rank)
            seed_everything(s)
            t0 = time.perf_counter()
            tr = self.train_epoch(epoch)
            record: dict[str, Any] = {"type": "epoch", "epoch": epoch, "step": self.step, **tr}
            validate = (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.optim.epochs
            if validate:
                last_val = self.validate()
                record["val"] = last_val
            record["epoch_time_s"] = time.perf_counter() - t0
            if self.is_main:
                self.logger.write(record)
                self.logger.scalars("epoch", {k: v for k, v in tr.items() if k != "edge_phase"}, self.step)
                if validate:
                    self.logger.scalars("val", last_val, self.step)
                    self._save(epoch, last_val)
                self._print_epoch(record)
            if self.dist.enabled:
                dist.barrier()
        self.logger.close()
        return {
            "out_dir": str(self.out_dir),
            "epochs": cfg.optim.epochs,
            "step": self.step,
            "best_metric": cfg.best_metric,
            "best_value": self.best_value,
            "last_val": last_val,
        }

    def _save(self, epoch: int, metrics: dict[str, Any]) -> None:
        value = _nan_to_neg(metrics.get(self.cfg.best_metric))
        improved = value > self.best_value or not (self.out_dir / "best").exists()
        if improved:
            self.best_value = value
        best = {"metric": self.cfg.best_metric, "value": self.best_value if math.isfinite(self.best_value) else None}
        kw = dict(
            config=self.mc,
            train_config=self.cfg,
            optimizer=self.optimizer,
            epoch=epoch,
            step=self.step,
            metrics=metrics,
            scaler=self.scaler if self.scaler.is_enabled() else None,
            extra={"best": best},
            options=self.options,
        )
        save_checkpoint(self.out_dir / "last", self.model, **kw)
        if improved:
            save_checkpoint(self.out_dir / "best", self.model, **kw)

    def _print_epoch(self, rec: dict[str, Any]) -> None:
        msg = (
            f"epoch {rec['epoch']} [{rec['edge_phase']}] step {rec['step']} "
            f"train_loss {rec['train_loss']:.4f} ({rec['step_time_s'] * 1000:.0f} ms/step)"
        )
        v = rec.get("val")
        if v:
            msg += (
                f" | val loss {v['loss']:.4f} rmse {v['rmse']:.4f} rel {v['rel']:.4f} "
                f"d1.05 {v['delta_1.05']:.3f} d1.25 {v['delta_1.25']:.3f} "
                f"mIoU {v['miou']:.3f} tIoU {v['transparent_iou']:.3f}"
            )
        unweighted = getattr(self._loss, "batches_without_opaque_map", 0)  # any loss callable may stand in
        if unweighted:
            msg += f" | {unweighted} batches so far without an opaque map (not weighted)"
        print(msg, flush=True)

    def close(self) -> None:
        if self.dist.enabled and dist.is_initialized():
            dist.destroy_process_group()


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train with ``cfg`` (resume from ``out_dir/last`` when asked); returns a summary dict."""
    return run_to_end(Trainer(cfg, resume=resume))


def run_to_end(trainer: Trainer) -> dict[str, Any]:
    """Fit a built :class:`Trainer` and release its process group; returns the summary dict."""
    try:
        return trainer.fit()
    finally:
        trainer.close()
