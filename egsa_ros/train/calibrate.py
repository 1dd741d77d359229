"""Choose the transparent-class decision bias of a trained checkpoint on a validation split.

    python -m egsa_ros.train.calibrate models/default_small --root DATA --split val --out runs/calibrated

A network trained with a glass-weighted cross-entropy (``loss.class_weights``) tends to mark
too many pixels as glass; one that saw little glass, too few. Adding a constant ``b`` to the
transparent logit before the argmax moves that decision threshold at no run-time cost. This
tool runs the checkpoint once over the split, scores every ``b`` of a grid (glass IoU, mIoU),
picks the ``b`` with the highest glass IoU among those whose mIoU is at most ``--max-miou-drop``
below ``b = 0``'s, and writes a copy of the checkpoint whose model config carries it
(``transparent_logit_bias``; weights unchanged) plus a ``calibration`` record of the sweep.

Choose ``b`` on a validation split, never on the split you report.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

DEFAULT_GRID = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)


def biased_argmax(logits: np.ndarray, transparent_class: int, bias: float) -> np.ndarray:
    """(B, K, H, W) logits -> (B, H, W) int64 classes after adding ``bias`` to one class."""
    shifted = np.array(logits, dtype=np.float32, copy=True)
    shifted[:, transparent_class] += bias
    return shifted.argmax(1)


def sweep_confusions(batches, grid: Sequence[float], num_classes: int, transparent_class: int,
                     ignore_index: int) -> Dict[float, np.ndarray]:
    """{bias: (K, K) confusion matrix} over ``batches`` of (logits (B, K, H, W), labels (B, H, W))."""
    from ..metrics import confusion_matrix

    cms = {float(b): np.zeros((num_classes, num_classes), dtype=np.int64) for b in grid}
    for logits, labels in batches:
        for b in cms:
            cms[b] += confusion_matrix(biased_argmax(logits, transparent_class, b), labels, num_classes, ignore_index)
    return cms


def choose_bias(cms: Dict[float, np.ndarray], transparent_class: int, max_miou_drop: float) -> Dict:
    """The sweep table and the chosen bias (see the module docstring for the rule)."""
    from ..metrics import segmentation_metrics_from_confusion

    if 0.0 not in cms:
        raise ValueError("the grid must contain 0 (the uncalibrated reference)")
    rows: List[Dict[str, float]] = []
    for b in sorted(cms):
        seg = segmentation_metrics_from_confusion(cms[b])
        rows.append({"bias": b, "transparent_iou": seg[f"iou_{transparent_class}"], "miou": seg["miou"]})
    reference = next(r for r in rows if r["bias"] == 0.0)
    allowed = [r for r in rows if r["miou"] >= reference["miou"] - max_miou_drop]
    # Ties go to the smallest |b| (the least change).
    best = max(allowed, key=lambda r: (r["transparent_iou"], -abs(r["bias"])))
    return {"table": rows, "chosen": best["bias"], "reference": reference, "best": best,
            "max_miou_drop": max_miou_drop}


def collect_logits(checkpoint: Path, root: Path, split: str, *, batch_size: int = 8, threads: Optional[int] = 2):
    """Yield (logits, labels) numpy batches of ``checkpoint`` on ``root/split`` with its own bias at 0.

    Same data path, resize and edge phase as ``egsa-train``'s validation; the checkpoint's
    ``flip_average`` setting is kept (calibrate the model as it will run).
    """
    import torch

    from .checkpoint import model_config_from_info, read_info
    from .config import load_train_config
    from .trainer import Trainer

    mc = model_config_from_info(read_info(checkpoint)).replace(transparent_logit_bias=0.0)
    with tempfile.TemporaryDirectory(prefix="egsa_calibrate_") as out_dir:
        overrides = [f"data.root={root}", f"data.train_split={split}", f"data.val_split={split}",
                     "data.num_workers=0", f"optim.batch_size={batch_size}", f"out_dir={out_dir}",
                     f"init_from={checkpoint}",
                     "model.overrides=" + json.dumps({k: v for k, v in mc.to_dict().items() if k != "version"})]
        if threads:
            overrides.append(f"num_threads={threads}")
        trainer = Trainer(load_train_config("default_small", overrides))
        try:
            model = trainer.model.eval()
            with torch.no_grad():
                for batch in trainer.val_loader:
                    _, logits = model(batch["rgb"].to(trainer.device))
                    yield logits.float().cpu().numpy(), batch["labels"].numpy()
        finally:
            trainer.close()


def write_calibrated(checkpoint: Path, out: Path, bias: float, record: Dict) -> None:
    """Copy ``checkpoint`` to ``out`` with ``transparent_logit_bias = bias`` and the sweep record."""
    from .checkpoint import INFO_FILE, MODEL_FILE, read_info

    info = read_info(checkpoint)
    info["model_config"] = dict(info["model_config"], transparent_logit_bias=float(bias))
    info["calibration"] = record
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != checkpoint.resolve():
        shutil.copyfile(checkpoint / MODEL_FILE, out / MODEL_FILE)
    (out / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def _grid(text: str) -> List[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid takes comma-separated numbers, got {text!r}") from None
    if 0.0 not in values:
        raise argparse.ArgumentTypeError("--grid must contain 0 (the uncalibrated reference)")
    return values


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.train.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="an egsa-train checkpoint directory")
    parser.add_argument("--root", type=Path, required=True, help="dataset root (egsa-synth layout)")
    parser.add_argument("--split", default="val", help="validation split to choose on (default: val)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the calibrated checkpoint")
    parser.add_argument("--grid", type=_grid, default=list(DEFAULT_GRID), help="biases to try, e.g. --grid=-1,-0.5,0,0.5 (with '=' when the first is negative; must include 0)")
    parser.add_argument("--max-miou-drop", type=float, default=0.002, help="allowed mIoU loss against b = 0")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from .checkpoint import INFO_FILE, model_config_from_info, read_info

    if not (args.checkpoint / INFO_FILE).is_file():
        parser.error(f"{args.checkpoint} is not a checkpoint directory (no {INFO_FILE})")
    if not (args.root / args.split).is_dir():
        parser.error(f"no split {args.split!r} under {args.root}")
    mc = model_config_from_info(read_info(args.checkpoint))
    from ..data.transforms import IGNORE_INDEX

    frames = 0

    def counted():
        nonlocal frames
        for logits, labels in collect_logits(args.checkpoint, args.root, args.split, threads=args.threads):
            frames += logits.shape[0]
            yield logits, labels

    cms = sweep_confusions(counted(), args.grid, mc.num_classes, mc.transparent_class, IGNORE_INDEX)
    result = choose_bias(cms, mc.transparent_class, args.max_miou_drop)
    for row in result["table"]:
        mark = "  <- chosen" if row["bias"] == result["chosen"] else ""
        print(f"bias {row['bias']:+.2f}: transparent IoU {row['transparent_iou']:.4f}, mIoU {row['miou']:.4f}{mark}")
    record = {"split": args.split, "root": str(args.root), "frames": frames, "flip_average": mc.flip_average,
              "previous_bias": mc.transparent_logit_bias, **result}
    write_calibrated(args.checkpoint, args.out, result["chosen"], record)
    gain = result["best"]["transparent_iou"] - result["reference"]["transparent_iou"]
    print(f"{args.out}: transparent_logit_bias {result['chosen']:+.2f} (transparent IoU {gain:+.4f} on "
          f"{frames} frames of {args.split})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
