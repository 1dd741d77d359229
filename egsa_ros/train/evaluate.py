"""Evaluate a checkpoint on a split with the trainer's validation metrics.

    python -m egsa_ros.train.evaluate models/default_small --root /data/synth --split general --json out.json

The same validation as ``egsa-train``'s per-epoch one (:mod:`egsa_ros.train.validation`: resize,
edge phase, metrics), with the checkpoint's saved test-time options (``inference_options``,
e.g. a calibrated decision bias) and the val loss of the loss settings it was trained with, so
the numbers are comparable with the model card's: RMSE/REL/deltas over all and transparent
pixels, per-class IoU, mIoU. The network runs in the memory layout the run validated in
(``channels_last`` of its saved train config): on the split the run validated on, the numbers
are those of its ``checkpoint.json`` ``metrics``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..cli_helpers import output_file
from ..model.checkpoint import load_checkpoint
from ..model.checkpoint_info import INFO_FILE, inference_options_from_info
from ..model.inference_options import InferenceOptions
from .objective import TrainingLoss
from .saved_run import saved_channels_last, saved_loss_config
from .validation import DATASET_KINDS, build_validation_loader, evaluate_model, resolve_device


def checkpoint_validation(
    checkpoint: Path,
    root: Path,
    split: str,
    *,
    kind: str = "synthetic",
    batch_size: int = 8,
    threads: int | None = 2,
    device: str = "auto",
) -> tuple[torch.nn.Module, dict, DataLoader, dict]:
    """A checkpoint's network and a loader of ``root/split``, set up as its training run validated.

    Returns:
        ``(model, info, loader, settings)``: the network in eval mode on the device (channels-last
        when the run was), ``checkpoint.json`` as saved, the loader, and the keyword arguments of
        :func:`~egsa_ros.train.validation.evaluate_model` besides the options (``device``, the
        run's val ``loss``, ``channels_last``).
    """
    if threads:
        torch.set_num_threads(int(threads))
    dev = resolve_device(device)
    model, info = load_checkpoint(checkpoint, map_location=dev)
    channels_last = saved_channels_last(info)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = build_validation_loader(
        kind, root, split, model.config, batch_size=batch_size, pin_memory=dev.type == "cuda"
    )
    loss = TrainingLoss(saved_loss_config(info), model.config, dev)
    return model, info, loader, {"device": dev, "loss": loss.of_prediction, "channels_last": channels_last}


def evaluate_checkpoint(
    checkpoint: Path,
    root: Path,
    split: str,
    *,
    kind: str = "synthetic",
    batch_size: int = 8,
    threads: int | None = 2,
    device: str = "auto",
    options: InferenceOptions | None = None,
) -> dict:
    """Validation metrics of ``checkpoint`` (a checkpoint directory, any readable format) on ``root/split``.

    Args:
        checkpoint: the checkpoint directory.
        root: dataset root; ``split`` a split folder under it.
        kind: dataset kind (``synthetic``, ``syntodd``, ``clearpose``).
        batch_size: frames per network call.
        threads: torch CPU threads (None: leave torch's default).
        device: ``auto`` | ``cpu`` | ``cuda[:N]``.
        options: test-time options to evaluate with; default the checkpoint's own.

    Returns:
        The dict of :func:`~egsa_ros.train.validation.evaluate_model`, with ``loss`` (the loss
        settings the checkpoint was trained with).
    """
    model, info, loader, settings = checkpoint_validation(
        checkpoint, root, split, kind=kind, batch_size=batch_size, threads=threads, device=device
    )
    options = inference_options_from_info(info) if options is None else options
    return evaluate_model(model, loader, options, **settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.train.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--kind", choices=DATASET_KINDS, default="synthetic", help="dataset kind (default synthetic)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--json", type=output_file)
    args = parser.parse_args(argv)
    if not (args.checkpoint / INFO_FILE).is_file():
        parser.error(f"{args.checkpoint} is not a checkpoint directory (no {INFO_FILE})")
    if args.kind == "synthetic" and not (args.root / args.split).is_dir():
        parser.error(f"no split {args.split!r} under {args.root}")
    metrics = evaluate_checkpoint(
        args.checkpoint,
        args.root,
        args.split,
        kind=args.kind,
        batch_size=args.batch_size,
        threads=args.threads,
        device=args.device,
    )
    print(
        f"{args.checkpoint} on {args.root / args.split} ({metrics['frames']} frames): "
        f"transparent IoU {metrics['transparent_iou']:.3f}, mIoU {metrics['miou']:.3f}, "
        f"RMSE {metrics['rmse']:.3f} m, "
        f"REL {metrics['rel']:.3f}, d<1.05 {metrics['delta_1.05']:.3f}, d<1.25 {metrics['delta_1.25']:.3f}; "
        f"transparent d<1.05 {metrics['t_delta_1.05']:.3f}, d<1.25 {metrics['t_delta_1.25']:.3f}"
    )
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
