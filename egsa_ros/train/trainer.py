"""The EGSA training loop (single process, or DDP under ``torchrun``).

- Parameter groups: ``model.backbone`` at ``optim.lr_encoder``, the rest at ``optim.lr_decoder``,
  both scaled per step by :func:`lr_factor` (``optim.lr_schedule``: constant or cosine decay to
  ``min_lr_ratio`` over the run's total steps, after ``warmup_steps`` of linear warm-up). The
  factor is a function of the global step only, so ``--resume`` continues the same curve.
  ``optim.train_only`` (e.g. ``[seg_refiner]``) trains the named model parts and freezes the
  rest, BatchNorm statistics included.
- Edge phase per epoch: ``rgb`` for epoch < ``progressive.switch_epoch`` and ``depth`` after
  when the model's ``edge_source`` is ``progressive``; otherwise the fixed ``edge_source``.
  Validation runs the inference phase (``ModelConfig.inference_edge_phase``), i.e. what the
  exported model computes.
- Loss: :func:`egsa_ros.losses.egsa_total_loss` over all iterations and scales (train); the
  val loss is the same function on the final output only (one iteration, one scale), so it is
  smaller than the train loss by construction.
- Validation metrics (over the whole val split, all-reduced under DDP): depth RMSE / MAE /
  REL / delta<1.05/1.10/1.25 over all valid pixels and (``t_`` prefix) over transparent
  pixels, segmentation mIoU, pixel accuracy and ``transparent_iou``.
- Outputs in ``out_dir``: ``metrics.jsonl`` (always), TensorBoard events in ``tb/`` when
  tensorboardX or tensorboard is installed, ``config.yaml``, checkpoints ``last/`` (every
  validated epoch) and ``best/`` (by ``best_metric``, higher is better).
- RNG: torch / numpy / python are reseeded at the start of every epoch from
  ``(seed, epoch, rank)``, so a resumed run draws the same shuffles and augmentations as an
  uninterrupted one.
"""
from __future__ import annotations

import functools
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader, Dataset, Subset

from ..data.transforms import IGNORE_INDEX, EvalTransform, TrainTransform
from ..losses import egsa_total_loss, modest_depth_loss, mse_ot_loss, weighted_depth_loss
from ..metrics import (
    confusion_matrix,
    depth_error_sums,
    depth_metrics_from_sums,
    segmentation_metrics_from_confusion,
)
from ..model.config import ModelConfig
from ..model.net import build_model
from .checkpoint import (
    load_training_state,
    model_config_from_info,
    read_info,
    save_checkpoint,
    set_rng_state,
    unwrap,
)
from .config import TrainConfig

BATCH_KEYS = ("rgb", "depth", "valid", "labels", "K")


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


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (int(seed) * 1_000_003 + epoch * 1009 + rank) % (2 ** 31)


def collate(samples: List[Dict[str, Any]]) -> Dict[str, torch.Tensor]:
    """Stack the tensors the trainer uses (other sample entries vary between readers)."""
    return {k: torch.stack([s[k] for s in samples]) for k in BATCH_KEYS}


def build_dataset(cfg: TrainConfig, mc: ModelConfig, split: str, train: bool) -> Dataset:
    size = mc.input_size
    if train and cfg.data.augment:
        transform = TrainTransform(size, mc.d_min, mc.d_max, seed=cfg.seed)
    else:
        transform = EvalTransform(size, mc.d_min, mc.d_max)
    kind = cfg.data.kind
    if kind == "synthetic":
        from ..data.synthetic import SyntheticDataset
        if not train:  # held-out shapes/materials are filtered from training only
            return SyntheticDataset(cfg.data.root, split, transform)
        return SyntheticDataset(cfg.data.root, split, transform, exclude_glass_shapes=cfg.data.exclude_glass_shapes,
                                max_glass_ior=cfg.data.max_glass_ior)
    if kind == "syntodd":
        from ..data.syntodd import SynTODDDataset
        return SynTODDDataset(cfg.data.root, split, transform)
    if kind == "clearpose":
        from ..data.clearpose import ClearPoseDataset
        return ClearPoseDataset(cfg.data.root, split, transform)
    raise ValueError(f"unknown dataset kind {kind!r}")


def depth_loss_fn(cfg: TrainConfig, mc: ModelConfig) -> Callable:
    name = cfg.loss.depth_loss
    if name == "modest":
        return modest_depth_loss
    if name == "weighted":
        return functools.partial(weighted_depth_loss, max_depth=mc.d_max)
    if name == "mse_ot":
        return functools.partial(mse_ot_loss, lam=cfg.loss.ot_lambda)
    raise ValueError(f"unknown depth loss {name!r}")


def train_edge_phase(mc: ModelConfig, epoch: int, switch_epoch: int) -> str:
    """Edge phase of training epoch ``epoch`` (0-based)."""
    if mc.edge_source == "progressive":
        return "rgb" if epoch < switch_epoch else "depth"
    return mc.edge_source


def lr_factor(step: int, total_steps: int, schedule: str = "constant", warmup_steps: int = 0,
              min_lr_ratio: float = 0.05) -> float:
    """Learning-rate multiplier for optimiser step ``step`` (0-based) of ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(total_steps - warmup_steps - 1, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> List[Dict[str, Any]]:
    enc = [p for p in model.backbone.parameters() if p.requires_grad]
    enc_ids = {id(p) for p in enc}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in enc_ids]
    groups = []
    if enc:
        groups.append({"name": "encoder", "params": enc, "lr": cfg.optim.lr_encoder})
    if rest or not enc:
        groups.append({"name": "decoder", "params": rest, "lr": cfg.optim.lr_decoder})
    return groups


def freeze_parts(model: torch.nn.Module, train_only: Optional[Sequence[str]]) -> None:
    """Turn gradients off for every top-level part of ``model`` not named in ``train_only``
    (``optim.train_only``; None trains everything)."""
    if train_only is None:
        return
    for name, part in model.named_children():
        if name not in train_only:
            part.requires_grad_(False)


def frozen_parts_to_eval(model: torch.nn.Module, train_only: Optional[Sequence[str]]) -> None:
    """After ``model.train()``: put the frozen parts back in eval mode, so their BatchNorm
    layers keep the loaded running statistics and normalise with them."""
    if train_only is None:
        return
    for name, part in model.named_children():
        if name not in train_only:
            part.eval()


def unused_parameters(model: torch.nn.Module, mc: ModelConfig, device: torch.device) -> List[str]:
    """Names of parameters a training forward/backward leaves without a gradient (for DDP's
    ``find_unused_parameters``). Buffers (BatchNorm statistics) are restored afterwards."""
    saved = {k: v.detach().clone() for k, v in model.named_buffers()}
    model.train()
    h, w = mc.input_size
    rgb = torch.rand(1, 3, h, w, device=device) * 255
    unused = set()
    for phase in sorted({"rgb", "depth"} if mc.edge_source != "rgb" else {"rgb"}):
        depth_all, seg_all = model(rgb, edge_phase=phase)
        (depth_all.float().mean() + seg_all.float().mean()).backward()
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
        try:
            from tensorboardX import SummaryWriter  # type: ignore
            self.tb_kind = "tensorboardX"
        except ImportError:
            try:
                from torch.utils.tensorboard import SummaryWriter  # type: ignore
                self.tb_kind = "torch.utils.tensorboard"
            except ImportError:
                SummaryWriter = None  # type: ignore
        if SummaryWriter is not None:
            self.tb = SummaryWriter(str(out_dir / "tb"))

    def write(self, record: Dict[str, Any]) -> None:
        if not self.enabled:
            return
        from .checkpoint import _jsonable
        with open(self.path, "a") as fh:
            fh.write(json.dumps(_jsonable(record), sort_keys=True) + "\n")

    def scalars(self, prefix: str, values: Dict[str, Any], step: int) -> None:
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
        self.dist = DistInfo()
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if cfg.num_threads:
            torch.set_num_threads(int(cfg.num_threads))
        self.dist = setup_distributed(self.device)
        self.out_dir = Path(cfg.out_dir)
        self.is_main = self.dist.is_main
        self.show_progress = self.is_main and sys.stderr.isatty()
        seed_everything(cfg.seed + self.dist.rank)

        resume_dir = self.out_dir / "last"
        if resume:
            info = read_info(resume_dir)
            saved = model_config_from_info(info)
            if saved.replace(pretrained=self.mc.pretrained, backbone_checkpoint=self.mc.backbone_checkpoint) != self.mc:
                raise ValueError(f"--resume: the model config in {resume_dir} differs from this config")
            # Weights come from the checkpoint: do not load pretrained encoder weights first.
            self.mc_build = self.mc.replace(pretrained=False, backbone_checkpoint=None)
        else:
            info = None
            self.mc_build = self.mc
            if cfg.init_from:  # fine-tuning: the checkpoint's weights replace the pretrained encoder
                self.mc_build = self.mc.replace(pretrained=False, backbone_checkpoint=None)

        model = build_model(self.mc_build).to(self.device)
        if cfg.init_from and not resume:
            self._init_weights_from(model, Path(cfg.init_from))
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        freeze_parts(model, cfg.optim.train_only)
        self.model = model
        self.optimizer = self._make_optimizer(model)
        self.amp = bool(cfg.amp and self.device.type == "cuda")
        self.amp_dtype = torch.bfloat16 if cfg.amp_dtype == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and cfg.amp_dtype == "fp16")
        self.depth_loss = depth_loss_fn(cfg, self.mc)
        self.class_weights = (None if cfg.loss.class_weights is None else
                              torch.tensor(cfg.loss.class_weights, dtype=torch.float32, device=self.device))

        self.start_epoch = 0
        self.step = 0
        self.best_value = -math.inf
        if info is not None:
            from safetensors.torch import load_file
            model.load_state_dict(load_file(str(resume_dir / "model.safetensors"), device=str(self.device)), strict=True)
            state = load_training_state(resume_dir, map_location=self.device)
            self.optimizer.load_state_dict(state["optimizer"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            set_rng_state(state["rng"])  # fit() also reseeds per (seed, epoch, rank)
            self.start_epoch = int(info["epoch"]) + 1
            self.step = int(info["step"])
            best = info.get("best") or {}
            self.best_value = _nan_to_neg(best.get("value"))

        self.ddp_model: torch.nn.Module = model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            unused = unused_parameters(model, self.mc, self.device)
            self.ddp_model = DDP(model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                 find_unused_parameters=bool(unused))

        self.train_set = build_dataset(cfg, self.mc, cfg.data.train_split, train=True)
        val = build_dataset(cfg, self.mc, cfg.data.val_split, train=False)
        n_val = len(val) if cfg.data.max_val_samples is None else min(len(val), cfg.data.max_val_samples)
        # Val shards without padding, so every frame counts exactly once in the all-reduced sums.
        self.val_set = Subset(val, list(range(self.dist.rank, n_val, self.dist.world_size)))
        self.train_sampler = None
        if self.dist.enabled:
            from torch.utils.data.distributed import DistributedSampler
            self.train_sampler = DistributedSampler(self.train_set, num_replicas=self.dist.world_size,
                                                    rank=self.dist.rank, shuffle=True, seed=cfg.seed)
        per_rank = math.ceil(len(self.train_set) / self.dist.world_size)
        pin = self.device.type == "cuda"
        self.train_loader = DataLoader(
            self.train_set, batch_size=cfg.optim.batch_size, shuffle=self.train_sampler is None,
            sampler=self.train_sampler, num_workers=cfg.data.num_workers, collate_fn=collate,
            drop_last=per_rank > cfg.optim.batch_size, pin_memory=pin,
            persistent_workers=cfg.data.num_workers > 0)
        self.val_loader = DataLoader(self.val_set, batch_size=cfg.optim.batch_size, shuffle=False,
                                     num_workers=cfg.data.num_workers, collate_fn=collate, pin_memory=pin)
        self.logger = _Logger(self.out_dir, self.is_main)

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

    def _to_device(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        if self.cfg.channels_last:
            out["rgb"] = out["rgb"].contiguous(memory_format=torch.channels_last)
        return out

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def _loss(self, depth_all, seg_all, b):
        return egsa_total_loss(
            depth_all.float(), seg_all.float(), b["depth"], b["labels"], b["valid"], b["K"],
            depth_weight=self.cfg.loss.depth_weight, seg_weight=self.cfg.loss.seg_weight,
            depth_loss=self.depth_loss, ignore_index=IGNORE_INDEX, deal_weight=self.cfg.loss.deal_weight,
            class_weights=self.class_weights, transparent_depth_weight=self.cfg.loss.transparent_depth_weight,
            transparent_class=self.mc.transparent_class)

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        if self.dist.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    # ------------------------------------------------------------------ epochs
    def _init_weights_from(self, model: torch.nn.Module, directory: Path) -> None:
        """Load a checkpoint's weights to start a new run from.

        The architecture must be the same, except that this run may add a segmentation refiner
        (``model.overrides={"seg_refine": true}``) to a checkpoint without one: every saved
        tensor is loaded and the refiner starts as its zero correction (the checkpoint's
        predictions, unchanged)."""
        from safetensors.torch import load_file

        saved = model_config_from_info(read_info(directory))
        if saved.transparent_logit_bias != self.mc.transparent_logit_bias and self.is_main:
            print(f"init_from {directory}: its transparent_logit_bias {saved.transparent_logit_bias:+.2f} (a test-time "
                  f"decision bias) is not carried over; recalibrate after training", flush=True)
        # Test-time options are not architecture: this run's own apply.
        saved = saved.replace(transparent_logit_bias=self.mc.transparent_logit_bias, flip_average=self.mc.flip_average)
        adds_refiner = self.mc.seg_refine and not saved.seg_refine
        if saved.replace(pretrained=self.mc.pretrained, backbone_checkpoint=self.mc.backbone_checkpoint,
                         seg_refine=self.mc.seg_refine if adds_refiner else saved.seg_refine) != self.mc:
            raise ValueError(f"init_from: the model config in {directory} differs from this run's model config")
        state = load_file(str(directory / "model.safetensors"), device=str(self.device))
        missing, unexpected = model.load_state_dict(state, strict=False)
        new = [k for k in missing if adds_refiner and k.startswith("seg_refiner.")]
        if unexpected or len(new) != len(missing):
            raise ValueError(f"init_from: {directory}/model.safetensors does not fit this model: "
                             f"missing {sorted(set(missing) - set(new))[:5]}, unexpected {sorted(unexpected)[:5]}")
        if new and self.is_main:
            print(f"init_from {directory}: {len(new)} seg_refiner tensors start fresh (zero correction)", flush=True)

    def train_epoch(self, epoch: int) -> Dict[str, Any]:
        cfg = self.cfg
        phase = train_edge_phase(self.mc, epoch, cfg.progressive.switch_epoch)
        self.ddp_model.train()
        frozen_parts_to_eval(unwrap(self.ddp_model), cfg.optim.train_only)
        if self.train_sampler is not None:
            self.train_sampler.set_epoch(epoch)
        n_steps = self.steps_per_epoch()
        from tqdm import tqdm
        bar = tqdm(total=n_steps, desc=f"epoch {epoch} [{phase}]", disable=not self.show_progress,
                   dynamic_ncols=True, leave=False)
        sums = torch.zeros(4, dtype=torch.float64)  # total, depth, seg, count
        step_times = []
        for i, batch in enumerate(self.train_loader):
            if i >= n_steps:
                break
            t0 = time.perf_counter()
            b = self._to_device(batch)
            with self._autocast():
                depth_all, seg_all = self.ddp_model(b["rgb"], edge_phase=phase)
            total, parts = self._loss(depth_all, seg_all, b)
            if not torch.isfinite(total):
                raise FloatingPointError(f"non-finite loss at epoch {epoch} step {self.step}: "
                                         f"{ {k: float(v) for k, v in parts.items() if '_' not in k} }")
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
                rec = {"type": "train", "epoch": epoch, "step": self.step, "edge_phase": phase,
                       "loss": total_value, "depth": float(parts["depth"]), "seg": float(parts["seg"]),
                       "step_time_s": step_times[-1],
                       **{f"lr_{g['name']}": g["lr"] for g in self.optimizer.param_groups}}
                if "glassdepth" in parts:
                    rec["glassdepth"] = float(parts["glassdepth"])
                self.logger.write(rec)
                self.logger.scalars("train", rec, self.step)
        bar.close()
        sums = self._reduce(sums)
        n = max(sums[3].item(), 1.0)
        # Skip the first step (warm-up: allocator, lazy init) when there is more than one.
        timed = step_times[1:] if len(step_times) > 1 else step_times
        return {"edge_phase": phase, "train_loss": sums[0].item() / n, "train_depth": sums[1].item() / n,
                "train_seg": sums[2].item() / n, "train_steps": int(sums[3].item()),
                "step_time_s": float(np.mean(timed)) if timed else float("nan")}

    @torch.no_grad()
    def validate(self) -> Dict[str, Any]:
        """Metrics over the whole val split (all ranks), in eval mode with the inference edge phase."""
        model = self.model  # no DDP wrapper needed without gradients
        model.eval()
        mc = self.mc
        all_sums: Dict[str, float] = {}
        t_sums: Dict[str, float] = {}
        cm = np.zeros((mc.num_classes, mc.num_classes), dtype=np.int64)
        loss_sum = torch.zeros(2, dtype=torch.float64)
        for batch in self.val_loader:
            b = self._to_device(batch)
            with self._autocast():
                depth, logits = model(b["rgb"])
            depth, logits = depth.float(), logits.float()
            total, _ = self._loss(depth[None, None], logits[None, None], b)
            n = b["rgb"].shape[0]
            loss_sum += torch.tensor([float(total) * n, n], dtype=torch.float64)
            pred = depth.cpu().numpy()
            gt = b["depth"].cpu().numpy()
            valid = b["valid"].cpu().numpy()
            labels = b["labels"].cpu().numpy()
            _add(all_sums, depth_error_sums(pred, gt, valid))
            _add(t_sums, depth_error_sums(pred, gt, valid, mask=(labels == mc.transparent_class)[:, None]))
            cm += confusion_matrix(logits.argmax(1).cpu().numpy(), labels, mc.num_classes, IGNORE_INDEX)
        keys = sorted(set(all_sums) | set(t_sums)) or sorted(depth_error_sums(np.ones(1), np.ones(1)))
        vec = torch.tensor([all_sums.get(k, 0.0) for k in keys] + [t_sums.get(k, 0.0) for k in keys]
                           + cm.ravel().tolist() + loss_sum.tolist(), dtype=torch.float64)
        vec = self._reduce(vec)
        nk = len(keys)
        all_sums = dict(zip(keys, vec[:nk].tolist()))
        t_sums = dict(zip(keys, vec[nk:2 * nk].tolist()))
        cm = vec[2 * nk:2 * nk + cm.size].numpy().reshape(cm.shape).astype(np.int64)
        loss_total, loss_n = vec[-2].item(), vec[-1].item()
        out: Dict[str, Any] = {"loss": loss_total / loss_n if loss_n else float("nan"),
                               "frames": int(loss_n), "edge_phase": mc.inference_edge_phase}
        for k, v in depth_metrics_from_sums(all_sums).items():
            out[k] = v
        for k, v in depth_metrics_from_sums(t_sums).items():
            out[f"t_{k}"] = v
        seg = segmentation_metrics_from_confusion(cm)
        out["miou"] = seg["miou"]
        out["pixel_acc"] = seg["pixel_acc"]
        out["transparent_iou"] = seg[f"iou_{mc.transparent_class}"]
        for c in range(mc.num_classes):
            out[f"iou_{c}"] = seg[f"iou_{c}"]
        return out

    # ------------------------------------------------------------------ fit
    def fit(self) -> Dict[str, Any]:
        cfg = self.cfg
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "config.yaml", "w") as fh:
                yaml.safe_dump({"train": cfg.to_dict(), "model": self.mc.to_dict()}, fh, sort_keys=False)
            self.logger.write({"type": "start", "start_epoch": self.start_epoch, "step": self.step,
                               "world_size": self.dist.world_size, "device": str(self.device),
                               "tensorboard": self.logger.tb_kind})
        last_val: Dict[str, Any] = {}
        for epoch in range(self.start_epoch, cfg.optim.epochs):
            s = epoch_seed(cfg.seed, epoch, self.dist.rank)
            seed_everything(s)
            t0 = time.perf_counter()
            tr = self.train_epoch(epoch)
            record: Dict[str, Any] = {"type": "epoch", "epoch": epoch, "step": self.step, **tr}
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
        return {"out_dir": str(self.out_dir), "epochs": cfg.optim.epochs, "step": self.step,
                "best_metric": cfg.best_metric, "best_value": self.best_value, "last_val": last_val}

    def _save(self, epoch: int, metrics: Dict[str, Any]) -> None:
        value = _nan_to_neg(metrics.get(self.cfg.best_metric))
        improved = value > self.best_value or not (self.out_dir / "best").exists()
        if improved:
            self.best_value = value
        best = {"metric": self.cfg.best_metric, "value": self.best_value if math.isfinite(self.best_value) else None}
        kw = dict(config=self.mc, train_config=self.cfg, optimizer=self.optimizer, epoch=epoch,
                  step=self.step, metrics=metrics, scaler=self.scaler if self.scaler.is_enabled() else None,
                  extra={"best": best})
        save_checkpoint(self.out_dir / "last", self.model, **kw)
        if improved:
            save_checkpoint(self.out_dir / "best", self.model, **kw)

    def _print_epoch(self, rec: Dict[str, Any]) -> None:
        msg = (f"epoch {rec['epoch']} [{rec['edge_phase']}] step {rec['step']} "
               f"train_loss {rec['train_loss']:.4f} ({rec['step_time_s'] * 1000:.0f} ms/step)")
        v = rec.get("val")
        if v:
            msg += (f" | val loss {v['loss']:.4f} rmse {v['rmse']:.4f} rel {v['rel']:.4f} "
                    f"d1.05 {v['delta_1.05']:.3f} d1.25 {v['delta_1.25']:.3f} "
                    f"mIoU {v['miou']:.3f} tIoU {v['transparent_iou']:.3f}")
        print(msg, flush=True)

    def close(self) -> None:
        if self.dist.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _add(acc: Dict[str, float], sums: Dict[str, float]) -> None:
    for k, v in sums.items():
        acc[k] = acc.get(k, 0.0) + float(v)


def train(cfg: TrainConfig, resume: bool = False) -> Dict[str, Any]:
    """Train with ``cfg`` (resume from ``out_dir/last`` when asked); returns a summary dict."""
    trainer = Trainer(cfg, resume=resume)
    try:
        return trainer.fit()
    finally:
        trainer.close()
