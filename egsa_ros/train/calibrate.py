"""Choose the transparent-class decision bias of a trained checkpoint on a validation split.

    python -m egsa_ros.train.calibrate models/default_small --root DATA --split val --out runs/calibrated

A network trained with a glass-weighted cross-entropy (``loss.class_weights``) tends to mark
too many pixels as glass; one that saw little glass, too few. Adding a constant ``b`` to the
transparent logit before the argmax moves that decision threshold at no run-time cost. This
tool runs the checkpoint once over the split, scores every ``b`` of a grid (glass IoU, mIoU),
picks the ``b`` with the highest glass IoU among those whose mIoU is at most ``--max-miou-drop``
below ``b = 0``'s, and writes a copy of the checkpoint whose test-time options carry it
(``inference_options.transparent_logit_bias`` of a format-2 ``checkpoint.json``; weights
unchanged) plus a ``calibration`` record of the sweep. The run over the split is the trainer's
validation (:func:`egsa_ros.train.validation.evaluate_model`) at ``b = 0`` with the checkpoint's
other options (e.g. ``flip_average``: calibrate the model as it will run); its metrics are kept
in the record (``metrics_without_bias``).

Choose ``b`` on a validation split, never on the split you report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.transforms import IGNORE_INDEX
from ..metrics import confusion_matrix, segmentation_metrics_from_confusion
from ..model.checkpoint_info import (
    GRAPHS_DIR,
    INFO_FILE,
    MODEL_FILE,
    inference_options_from_info,
    read_info,
    upgrade_info,
)
from .checkpoint import jsonable
from .evaluate import checkpoint_validation
from .validation import DATASET_KINDS, evaluate_model

DEFAULT_GRID = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)


def biased_argmax(logits: np.ndarray, transparent_class: int, bias: float) -> np.ndarray:
    """(B, K, H, W) logits -> (B, H, W) int64 classes after adding ``bias`` to one class."""
    shifted = np.array(logits, dtype=np.float32, copy=True)
    shifted[:, transparent_class] += bias
    return shifted.argmax(1)


class BiasSweep:
    """Confusion matrices of the same predictions under every decision bias of a grid.

    ``confusions``: {bias: (K, K) int64 ``cm[gt, pred]``}.
    """

    def __init__(self, grid: Sequence[float], num_classes: int, transparent_class: int, ignore_index: int) -> None:
        self.transparent_class = int(transparent_class)
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.confusions = {float(b): np.zeros((num_classes, num_classes), dtype=np.int64) for b in grid}

    def add(self, logits: np.ndarray, labels: np.ndarray) -> None:
        """One batch: logits (B, K, H, W) without bias, labels (B, H, W)."""
        for b in self.confusions:
            self.confusions[b] += confusion_matrix(
                biased_argmax(logits, self.transparent_class, b), labels, self.num_classes, self.ignore_index
            )


def sweep_confusions(
    batches, grid: Sequence[float], num_classes: int, transparent_class: int, ignore_index: int
) -> dict[float, np.ndarray]:
    """{bias: (K, K) confusion matrix} over ``batches`` of (logits (B, K, H, W), labels (B, H, W))."""
    sweep = BiasSweep(grid, num_classes, transparent_class, ignore_index)
    for logits, labels in batches:
        sweep.add(logits, labels)
    return sweep.confusions


def choose_bias(cms: dict[float, np.ndarray], transparent_class: int, max_miou_drop: float) -> dict:
    """The sweep table and the chosen bias (see the module docstring for the rule)."""
    if 0.0 not in cms:
        raise ValueError("the grid must contain 0 (the uncalibrated reference)")
    rows: list[dict[str, float]] = []
    for b in sorted(cms):
        seg = segmentation_metrics_from_confusion(cms[b])
        rows.append({"bias": b, "transparent_iou": seg[f"iou_{transparent_class}"], "miou": seg["miou"]})
    reference = next(r for r in rows if r["bias"] == 0.0)
    allowed = [r for r in rows if r["miou"] >= reference["miou"] - max_miou_drop]
    # Ties go to the smallest |b| (the least change).
    best = max(allowed, key=lambda r: (r["transparent_iou"], -abs(r["bias"])))
    return {"table": rows, "chosen": best["bias"], "reference": reference, "best": best, "max_miou_drop": max_miou_drop}


def calibrate_checkpoint(
    checkpoint: Path,
    root: Path,
    split: str,
    grid: Sequence[float] = DEFAULT_GRID,
    *,
    max_miou_drop: float = 0.002,
    kind: str = "synthetic",
    batch_size: int = 8,
    threads: int | None = 2,
    device: str = "auto",
) -> dict:
    """Sweep the decision bias of ``checkpoint`` on ``root/split``; nothing is written.

    Returns:
        The calibration record: ``split``, ``root``, ``frames``, ``flip_average``,
        ``previous_bias`` (the checkpoint's), :func:`choose_bias`'s ``table``, ``chosen``,
        ``reference``, ``best``, ``max_miou_drop``, and ``metrics_without_bias`` (the full
        validation metrics at b = 0, those of ``egsa-train`` and ``train.evaluate``).
    """
    model, info, loader, settings = checkpoint_validation(
        checkpoint, root, split, kind=kind, batch_size=batch_size, threads=threads, device=device
    )
    config = model.config
    saved = inference_options_from_info(info)
    sweep = BiasSweep(grid, config.num_classes, config.transparent_class, IGNORE_INDEX)
    metrics = evaluate_model(
        model,
        loader,
        saved.replace(transparent_logit_bias=0.0),
        **settings,
        on_batch=lambda depth, logits, batch: sweep.add(logits.cpu().numpy(), batch["labels"].cpu().numpy()),
    )
    result = choose_bias(sweep.confusions, config.transparent_class, max_miou_drop)
    return {
        "split": split,
        "root": str(root),
        "frames": metrics["frames"],
        "flip_average": saved.flip_average,
        "previous_bias": saved.transparent_logit_bias,
        **result,
        "metrics_without_bias": metrics,
    }


def write_calibrated(checkpoint: Path, out: Path, bias: float, record: dict) -> None:
    """Copy ``checkpoint`` to ``out`` (weights unchanged) with ``transparent_logit_bias = bias`` in
    its test-time options and the sweep ``record``; ``checkpoint.json`` is written in format 2
    whatever format the source had. Exported graphs (``graphs/``) are not copied: they have the
    old options built in."""
    info = upgrade_info(read_info(checkpoint))
    options = inference_options_from_info(info).replace(transparent_logit_bias=float(bias))
    info["inference_options"] = options.to_dict()
    info["calibration"] = record
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != checkpoint.resolve():
        shutil.copyfile(checkpoint / MODEL_FILE, out / MODEL_FILE)
    elif (out / GRAPHS_DIR).is_dir():
        print(
            f"{out / GRAPHS_DIR}: these exported graphs still hold the previous options; export them again", flush=True
        )
    (out / INFO_FILE).write_text(json.dumps(jsonable(info), indent=2, sort_keys=True) + "\n")


def _grid(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid takes comma-separated numbers, got {text!r}") from None
    if 0.0 not in values:
        raise argparse.ArgumentTypeError("--grid must contain 0 (the uncalibrated reference)")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.train.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="an egsa-train checkpoint directory")
    parser.add_argument("--root", type=Path, required=True, help="dataset root (egsa-synth layout)")
    parser.add_argument("--split", default="val", help="validation split to choose on (default: val)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the calibrated checkpoint")
    parser.add_argument(
        "--grid",
        type=_grid,
        default=list(DEFAULT_GRID),
        help="biases to try, e.g. --grid=-1,-0.5,0,0.5 (with '=' when the first is negative; must include 0)",
    )
    parser.add_argument("--max-miou-drop", type=float, default=0.002, help="allowed mIoU loss against b = 0")
    parser.add_argument("--kind", choices=DATASET_KINDS, default="synthetic", help="dataset kind (default synthetic)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    args = parser.parse_args(argv)
    if not (args.checkpoint / INFO_FILE).is_file():
        parser.error(f"{args.checkpoint} is not a checkpoint directory (no {INFO_FILE})")
    if args.kind == "synthetic" and not (args.root / args.split).is_dir():
        parser.error(f"no split {args.split!r} under {args.root}")
    record = calibrate_checkpoint(
        args.checkpoint,
        args.root,
        args.split,
        args.grid,
        max_miou_drop=args.max_miou_drop,
        kind=args.kind,
        threads=args.threads,
        device=args.device,
    )
    for row in record["table"]:
        mark = "  <- chosen" if row["bias"] == record["chosen"] else ""
        print(f"bias {row['bias']:+.2f}: transparent IoU {row['transparent_iou']:.4f}, mIoU {row['miou']:.4f}{mark}")
    write_calibrated(args.checkpoint, args.out, record["chosen"], record)
    gain = record["best"]["transparent_iou"] - record["reference"]["transparent_iou"]
    print(
        f"{args.out}: transparent_logit_bias {record['chosen']:+.2f} (transparent IoU {gain:+.4f} on "
        f"{record['frames']} frames of {args.split})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
