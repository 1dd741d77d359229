"""Evaluate a checkpoint on a synthetic split with the trainer's validation metrics.

    python -m egsa_ros.train.evaluate models/default_small --root /data/synth --split general --json out.json

Same metrics, resize and edge phase as ``egsa-train``'s per-epoch validation (so numbers are
comparable with the model card's): RMSE/REL/deltas over all and transparent pixels,
per-class IoU, mIoU.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence


def evaluate_checkpoint(checkpoint: Path, root: Path, split: str, *, batch_size: int = 8,
                        threads: Optional[int] = 2) -> Dict:
    """Validation metrics of ``checkpoint`` (an egsa-train checkpoint directory) on ``root/split``."""
    from .checkpoint import model_config_from_info, read_info
    from .config import load_train_config
    from .trainer import Trainer

    info = read_info(checkpoint)
    mc = model_config_from_info(info)
    with tempfile.TemporaryDirectory(prefix="egsa_eval_") as out_dir:
        overrides = [f"data.root={root}", f"data.train_split={split}", f"data.val_split={split}",
                     "data.num_workers=0", f"optim.batch_size={batch_size}", f"out_dir={out_dir}",
                     f"init_from={checkpoint}",  # every model field from the checkpoint: same architecture
                     "model.overrides=" + json.dumps({k: v for k, v in mc.to_dict().items() if k != "version"})]
        if threads:
            overrides.append(f"num_threads={threads}")
        trainer = Trainer(load_train_config("default_small", overrides))
        try:
            return trainer.validate()
        finally:
            trainer.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.train.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    metrics = evaluate_checkpoint(args.checkpoint, args.root, args.split, threads=args.threads)
    print(f"{args.checkpoint} on {args.root / args.split} ({metrics['frames']} frames): "
          f"transparent IoU {metrics['transparent_iou']:.3f}, mIoU {metrics['miou']:.3f}, RMSE {metrics['rmse']:.3f} m, "
          f"REL {metrics['rel']:.3f}, d<1.05 {metrics['delta_1.05']:.3f}, d<1.25 {metrics['delta_1.25']:.3f}; "
          f"transparent d<1.05 {metrics['t_delta_1.05']:.3f}, d<1.25 {metrics['t_delta_1.25']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
