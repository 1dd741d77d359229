"""One validation: the dataset and loader of a split, and the metrics of a model on it.

Training's per-epoch validation (:meth:`egsa_ros.train.trainer.Trainer.validate`),
``python -m egsa_ros.train.evaluate`` and ``python -m egsa_ros.train.calibrate`` all go through
:func:`evaluate_model`, so the same model on the same split gives the same numbers in all three:

- frames resized to the network's ``input_size`` (:class:`~egsa_ros.data.transforms.EvalTransform`,
  no augmentation), batches of :data:`BATCH_KEYS`;
- the network in eval mode with the inference edge phase, run through
  :func:`~egsa_ros.model.test_time.predict` with the given
  :class:`~egsa_ros.model.inference_options.InferenceOptions`;
- one :class:`~egsa_ros.metrics.MetricAccumulator` (pixel-pooled depth errors over all and over
  transparent pixels, a confusion matrix), all-reduced across processes under DDP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..data.clearpose import ClearPoseDataset
from ..data.synthetic import SyntheticDataset
from ..data.syntodd import SynTODDDataset
from ..data.transforms import IGNORE_INDEX, EvalTransform
from ..metrics import MetricAccumulator
from ..model.config import ModelConfig
from ..model.inference_options import InferenceOptions
from ..model.test_time import predict

BATCH_KEYS = ("rgb", "depth", "valid", "labels", "K")
"""The sample entries a batch holds: rgb (B, 3, h, w) float32 0..255, depth (B, 1, h, w)
metres, valid (B, 1, h, w) bool, labels (B, h, w) int64, K (B, 3, 3) intrinsics."""
OPTIONAL_BATCH_KEYS = ("opaque",)
"""Entries a batch holds when every sample of it has them: opaque (B, h, w) int64, 1 on opaque
objects (for ``loss.opaque_weight``; the egsa-synth reader and the photo negatives give it)."""

DATASET_KINDS = ("synthetic", "syntodd", "clearpose")

#: ``loss(depth (B, 1, h, w), logits (B, K, h, w), batch) -> scalar tensor`` of one prediction.
PredictionLoss = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
#: ``on_batch(depth, logits, batch)``: sees every batch's prediction (e.g. a calibration sweep).
BatchHook = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], None]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``; a bare ``cuda`` is the
    process's ``local_rank`` GPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def collate(samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack the tensors training and validation use (other sample entries vary between readers):
    :data:`BATCH_KEYS`, and :data:`OPTIONAL_BATCH_KEYS` that every sample has."""
    keys = BATCH_KEYS + tuple(k for k in OPTIONAL_BATCH_KEYS if all(k in s for s in samples))
    return {k: torch.stack([s[k] for s in samples]) for k in keys}


def to_device(
    batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool = False
) -> dict[str, torch.Tensor]:
    """A batch on ``device`` (``rgb`` in channels-last layout when asked)."""
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if channels_last:
        out["rgb"] = out["rgb"].contiguous(memory_format=torch.channels_last)
    return out


def open_dataset(kind: str, root: str | Path, split: str, transform: Callable, **held_out: Any) -> Dataset:
    """The reader of ``kind`` (``synthetic`` = egsa-synth layout, ``syntodd``, ``clearpose``) over
    ``root/split`` with ``transform``; ``held_out`` are
    :class:`~egsa_ros.data.synthetic.SyntheticDataset`'s filters (synthetic data only)."""
    if kind == "synthetic":
        return SyntheticDataset(root, split, transform, **held_out)
    if held_out:
        raise ValueError(f"{sorted(held_out)} filter synthetic data only (dataset kind {kind!r})")
    if kind == "syntodd":
        return SynTODDDataset(root, split, transform)
    if kind == "clearpose":
        return ClearPoseDataset(root, split, transform)
    raise ValueError(f"unknown dataset kind {kind!r} (one of {DATASET_KINDS})")


def build_eval_dataset(kind: str, root: str | Path, split: str, model_config: ModelConfig) -> Dataset:
    """The frames of ``root/split`` resized to ``model_config.input_size``, without augmentation.

    Args:
        kind: ``synthetic`` (egsa-synth layout), ``syntodd`` or ``clearpose``.
        root: dataset root folder.
        split: split name under ``root``.
        model_config: gives the network input size (h, w) and the depth range d_min..d_max (metres).
    """
    return open_dataset(
        kind, root, split, EvalTransform(model_config.input_size, model_config.d_min, model_config.d_max)
    )


def validation_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int = 0,
    max_samples: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> DataLoader:
    """An ordered loader over the first ``max_samples`` frames (all when None), this process's
    share of them under DDP: shards without padding, so every frame counts once in the
    all-reduced sums."""
    n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    shard = Subset(dataset, list(range(rank, n, world_size)))
    return DataLoader(
        shard, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate, pin_memory=pin_memory
    )


def build_validation_loader(
    kind: str,
    root: str | Path,
    split: str,
    model_config: ModelConfig,
    *,
    batch_size: int = 8,
    num_workers: int = 0,
    max_samples: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> DataLoader:
    """:func:`build_eval_dataset` then :func:`validation_loader`."""
    dataset = build_eval_dataset(kind, root, split, model_config)
    return validation_loader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        max_samples=max_samples,
        rank=rank,
        world_size=world_size,
        pin_memory=pin_memory,
    )


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    loader: DataLoader,
    options: InferenceOptions,
    device: torch.device,
    *,
    edge_phase: str | None = None,
    loss: PredictionLoss | None = None,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_batch: BatchHook | None = None,
) -> dict[str, Any]:
    """Validation metrics of ``model`` over every batch of ``loader``.

    Args:
        model: an :class:`~egsa_ros.model.net.EGSANet` on ``device`` (switched to eval mode).
        loader: batches of :data:`BATCH_KEYS` (e.g. :func:`build_validation_loader`).
        options: test-time options applied by :func:`~egsa_ros.model.test_time.predict`.
        device: where the batches go.
        edge_phase: ``rgb`` | ``depth`` | None (the config's inference phase).
        loss: when given, its frame-weighted mean over the split is reported as ``loss``.
        autocast_dtype: run the network under CUDA autocast at this dtype (None: float32).
        channels_last: move ``rgb`` in channels-last layout (as a channels-last model wants).
        all_reduce: sums a float64 CPU tensor across processes in place and returns it (DDP);
            None for one process.
        on_batch: called with every batch's float32 depth, logits and the batch on ``device``.

    Returns:
        ``loss`` (only with ``loss``), ``frames``, ``edge_phase``, then
        :meth:`~egsa_ros.metrics.MetricAccumulator.result`: ``count``, ``invalid_pred``,
        ``rmse``, ``mae``, ``rel``, ``delta_1.05/1.10/1.25`` (metres, over all valid pixels),
        the same with a ``t_`` prefix over transparent pixels, ``miou``, ``pixel_acc``,
        ``transparent_iou``, ``iou_<k>``.
    """
    model.eval()
    config = model.config
    phase = model.resolve_edge_phase(edge_phase)
    accumulator = MetricAccumulator(config.num_classes, config.transparent_class, IGNORE_INDEX)
    loss_sum, frames = 0.0, 0
    for batch in loader:
        b = to_device(batch, device, channels_last)
        with _autocast(device, autocast_dtype):
            depth, logits = predict(model, b["rgb"], options, edge_phase=phase, K=b["K"])
        depth, logits = depth.float(), logits.float()
        n = int(b["rgb"].shape[0])
        if loss is not None:
            loss_sum += float(loss(depth, logits, b)) * n
        frames += n
        labels = b["labels"].cpu().numpy()
        accumulator.add(
            depth.cpu().numpy(),
            b["depth"].cpu().numpy(),
            b["valid"].cpu().numpy(),
            labels,
            logits.argmax(1).cpu().numpy(),
        )
        if on_batch is not None:
            on_batch(depth, logits, b)
    vector = torch.from_numpy(np.concatenate([accumulator.to_vector(), [loss_sum, frames]]))
    if all_reduce is not None:
        vector = all_reduce(vector)
    accumulator.load_vector(vector[:-2].numpy())
    loss_sum, frames = float(vector[-2]), int(vector[-1])
    out: dict[str, Any] = {}
    if loss is not None:
        out["loss"] = loss_sum / frames if frames else float("nan")
    out.update({"frames": frames, "edge_phase": phase})
    out.update(accumulator.result())
    return out


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
