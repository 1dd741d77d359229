"""Learning-curve table and plot of a training run (from its ``metrics.jsonl``).

    python -m egsa_ros.train.report RUN_DIR [RUN_DIR ...] [--png learning_curve.png]
    python -m egsa_ros.train.report --compare RUN_A RUN_B [...] [--png ab.png]

Prints a Markdown table (one row per epoch: train loss, validation depth and mask metrics)
and draws the curves, for model cards and notes. Several run directories are read as
consecutive stages of one model (each started from the previous one's weights with
``init_from``): epochs are numbered on from stage to stage and the plot marks where each
stage starts. With ``--compare`` the runs are alternatives (an A/B from the same start): the
table has a run column and the plot draws each run's curve on shared axes, one panel per metric.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..viz import pyplot

COLUMNS = (
    ("delta_1.25", "d<1.25"),
    ("delta_1.05", "d<1.05"),
    ("rmse", "RMSE m"),
    ("rel", "REL"),
    ("t_delta_1.05", "glass d<1.05"),
    ("t_rmse", "glass RMSE m"),
    ("transparent_iou", "glass IoU"),
    ("miou", "mIoU"),
)


def epoch_records(run_dir: Path) -> list[dict]:
    """The ``epoch`` records of ``run_dir/metrics.jsonl`` (last one per epoch, in order)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}")
    by_epoch: dict[int, dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("type") == "epoch":
                by_epoch[int(rec["epoch"])] = rec
    return [by_epoch[k] for k in sorted(by_epoch)]


def staged_records(run_dirs: Sequence[Path]) -> list[dict]:
    """Epoch records of consecutive runs, each tagged with ``stage`` (its directory name) and
    ``overall_epoch`` (0-based, counting on across the runs)."""
    out: list[dict] = []
    for run_dir in run_dirs:
        for rec in epoch_records(run_dir):
            out.append({**rec, "stage": Path(run_dir).name, "overall_epoch": len(out)})
    return out


def _epoch_number(rec: dict) -> int:
    return int(rec.get("overall_epoch", rec["epoch"])) + 1


COMPARE_PANELS = (
    ("t_rmse", "glass RMSE m"),
    ("t_delta_1.25", "glass d<1.25"),
    ("t_delta_1.05", "glass d<1.05"),
    ("transparent_iou", "glass IoU"),
    ("delta_1.25", "d<1.25 (all)"),
    ("rmse", "RMSE m (all)"),
)


def compared_records(run_dirs: Sequence[Path]) -> list[dict]:
    """Epoch records of alternative runs, each tagged with ``run`` (its directory name, or the
    parent's name too where two share a name), epochs numbered within each run."""
    names = [Path(d).name for d in run_dirs]
    out: list[dict] = []
    for d, name in zip(run_dirs, names):
        label = f"{Path(d).parent.name}/{name}" if names.count(name) > 1 else name
        out.extend(dict(rec, run=label) for rec in epoch_records(d))
    return out


def markdown_table(records: list[dict], group: str = "stage") -> str:
    """One row per epoch record; ``group`` names the column that tells records apart when
    they come from several runs (``stage`` for consecutive stages, ``run`` for an A/B)."""
    staged = len({r.get(group) for r in records}) > 1
    lead = f"| {group} | epoch | " if staged else "| epoch | "
    head = lead + "train loss | " + " | ".join(label for _, label in COLUMNS) + " |"
    rows = [head, "|" + ("---|" if staged else "") + "---:|" * (len(COLUMNS) + 2)]
    for rec in records:
        val = rec.get("val", {})
        cells = [f"{val[key]:.3f}" if isinstance(val.get(key), (int, float)) else "-" for key, _ in COLUMNS]
        first = f"| {rec[group]} | " if staged else "| "
        rows.append(
            f"{first}{_epoch_number(rec)} | {rec.get('train_loss', float('nan')):.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


def plot_learning_curve(records: list[dict], out: Path) -> Path:
    plt = pyplot()
    epochs = [_epoch_number(r) for r in records]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.8))
    starts = [
        (n, r["stage"])
        for n, r, prev in zip(epochs, records, [None] + records[:-1])
        if "stage" in r and (prev is None or prev.get("stage") != r["stage"])
    ]
    if len(starts) > 1:
        for ax in (ax_loss, ax_val):
            for n, name in starts:
                ax.axvline(n - 0.5, color="grey", linestyle=":", linewidth=1)
                ax.text(n - 0.4, 0.98, name, transform=ax.get_xaxis_transform(), fontsize=7, va="top", color="grey")
    ax_loss.plot(epochs, [r.get("train_loss") for r in records], "o-")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("train loss (sum over iterations and scales)")
    for key, label in (
        ("delta_1.25", "d<1.25 (all)"),
        ("delta_1.05", "d<1.05 (all)"),
        ("t_delta_1.05", "d<1.05 (glass)"),
        ("transparent_iou", "glass IoU"),
        ("miou", "mIoU"),
    ):
        ax_val.plot(epochs, [r.get("val", {}).get(key) for r in records], "o-", label=label)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("validation split (the run's data.val_split)")
    ax_val.set_ylim(0, 1)
    ax_val.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_comparison(records: list[dict], out: Path) -> Path:
    """One panel per metric of :data:`COMPARE_PANELS`, one line per ``run`` (validation split)."""
    plt = pyplot()
    runs = list(dict.fromkeys(r["run"] for r in records))
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.6))
    for ax, (key, label) in zip(axes.flat, COMPARE_PANELS):
        for run in runs:
            mine = [r for r in records if r["run"] == run]
            ax.plot([_epoch_number(r) for r in mine], [r.get("val", {}).get(key) for r in mine], "o-", label=run)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("validation split after each epoch", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "run_dirs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="a run directory; several = consecutive stages of one model",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="the runs are alternatives from one start (an A/B), not consecutive stages",
    )
    parser.add_argument("--png", type=Path, help="write the learning-curve plot here")
    args = parser.parse_args(argv)
    if args.compare and len(args.run_dirs) < 2:
        parser.error("--compare needs at least two run directories")
    try:
        if args.compare:
            records = compared_records(args.run_dirs)
        else:
            records = staged_records(args.run_dirs) if len(args.run_dirs) > 1 else epoch_records(args.run_dirs[0])
    except FileNotFoundError as exc:
        parser.error(str(exc))
    print(markdown_table(records, "run" if args.compare else "stage"))
    if args.png:
        plot = plot_comparison if args.compare else plot_learning_curve
        print(f"wrote {plot(records, args.png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
