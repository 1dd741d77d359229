"""Learning-curve table and plot of a training run (from its ``metrics.jsonl``).

    python -m egsa_ros.train.report RUN_DIR [--png learning_curve.png]

Prints a Markdown table (one row per epoch: train loss, validation depth and mask metrics)
and draws the curves, for model cards and notes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

COLUMNS = (("delta_1.25", "d<1.25"), ("delta_1.05", "d<1.05"), ("rmse", "RMSE m"), ("rel", "REL"),
           ("t_delta_1.05", "glass d<1.05"), ("t_rmse", "glass RMSE m"), ("transparent_iou", "glass IoU"),
           ("miou", "mIoU"))


def epoch_records(run_dir: Path) -> List[Dict]:
    """The ``epoch`` records of ``run_dir/metrics.jsonl`` (last one per epoch, in order)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}")
    by_epoch: Dict[int, Dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("type") == "epoch":
                by_epoch[int(rec["epoch"])] = rec
    return [by_epoch[k] for k in sorted(by_epoch)]


def markdown_table(records: List[Dict]) -> str:
    head = "| epoch | train loss | " + " | ".join(label for _, label in COLUMNS) + " |"
    rows = [head, "|" + "---:|" * (len(COLUMNS) + 2)]
    for rec in records:
        val = rec.get("val", {})
        cells = [f"{val[key]:.3f}" if isinstance(val.get(key), (int, float)) else "-" for key, _ in COLUMNS]
        rows.append(f"| {rec['epoch'] + 1} | {rec.get('train_loss', float('nan')):.3f} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_learning_curve(records: List[Dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] + 1 for r in records]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [r.get("train_loss") for r in records], "o-")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("train loss (sum over iterations and scales)")
    for key, label in (("delta_1.25", "d<1.25 (all)"), ("delta_1.05", "d<1.05 (all)"),
                       ("t_delta_1.05", "d<1.05 (glass)"), ("transparent_iou", "glass IoU"), ("miou", "mIoU")):
        ax_val.plot(epochs, [r.get("val", {}).get(key) for r in records], "o-", label=label)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("held-out test split")
    ax_val.set_ylim(0, 1)
    ax_val.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--png", type=Path, help="write the learning-curve plot here")
    args = parser.parse_args(argv)
    records = epoch_records(args.run_dir)
    print(markdown_table(records))
    if args.png:
        print(f"wrote {plot_learning_curve(records, args.png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
