"""Fusion x edge-source ablation at one equal training budget, plus a held-out-shape test.

    python -m egsa_ros.train.ablation --root DATA --out runs/ablation --input-size 96,128 \\
        --epochs 8 --steps-per-epoch 64 --switch-epoch 4 --seeds 0 1 --repeat-variants modest egsa_progressive \\
        --heldout-shapes flask,bowl --eval-splits test general heldout_shapes

Variants (:data:`VARIANTS`): the MODEST fusion (channel + spatial attention), spatial
attention alone (``sa``), and the edge-gated fusion (``egsa``) with each edge source (RGB
Canny, depth Canny, progressive RGB -> depth). Fusions without an edge gate do not use the
edge source, so the 3 x 3 grid of the issue has 5 distinct networks. Every run starts from the
ImageNet encoder, sees the same batches (same seed) for the same number of steps, and is then
evaluated on each ``--eval-splits`` split with :func:`~egsa_ros.train.evaluate.evaluate_checkpoint`.

``--heldout-shapes flask,bowl`` adds a run of ``--heldout-variant`` whose training frames show
no glass of those shapes (``data.exclude_glass_shapes``); render a test split containing only
them with ``egsa-synth --glass-shapes flask,bowl`` and list it in ``--eval-splits``.

The command is resumable: finished runs (``<out>/<run>/last`` at the last epoch) and cached
evaluations (``<out>/<run>/eval/<split>.json``) are reused, an interrupted run continues with
``--resume``. ``--report-only`` just rebuilds ``ablation.json``, ``ablation.md`` and
``ablation.png`` from what exists. ``--set key=value`` adds egsa-train overrides to every run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from ..viz import pyplot
from .report import epoch_records

#: Variant name -> ModelConfig overrides.
VARIANTS: dict[str, dict[str, str]] = {
    "modest": {"fusion": "modest"},
    "sa": {"fusion": "sa"},
    "egsa_rgb": {"fusion": "egsa", "edge_source": "rgb"},
    "egsa_depth": {"fusion": "egsa", "edge_source": "depth"},
    "egsa_progressive": {"fusion": "egsa", "edge_source": "progressive"},
}

#: (metric key, column label) of the tables, all from the trainer's validation metrics.
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("transparent_iou", "glass IoU"),
    ("miou", "mIoU"),
    ("rmse", "RMSE m"),
    ("rel", "REL"),
    ("delta_1.05", "d<1.05"),
    ("delta_1.25", "d<1.25"),
    ("t_delta_1.05", "glass d<1.05"),
    ("t_delta_1.25", "glass d<1.25"),
    ("t_rmse", "glass RMSE m"),
)


@dataclass(frozen=True)
class Budget:
    """The training budget every run gets."""

    epochs: int = 8
    steps_per_epoch: int = 64
    switch_epoch: int = 4  # progressive: rgb edges before, depth edges from here
    input_size: tuple[int, int] | None = None  # (H, W) network input; None keeps the preset's


@dataclass(frozen=True)
class RunSpec:
    name: str
    variant: str
    seed: int = 0
    exclude_shapes: tuple[str, ...] = ()

    def overrides(self, root: Path, out: Path, budget: Budget, extra: Sequence[str] = ()) -> list[str]:
        """The egsa-train ``key=value`` overrides of this run."""
        ov = [
            f"data.root={root}",
            "data.val_split=test",
            f"optim.epochs={budget.epochs}",
            f"max_steps_per_epoch={budget.steps_per_epoch}",
            f"progressive.switch_epoch={budget.switch_epoch}",
            f"out_dir={out / self.name}",
            f"seed={self.seed}",
        ]
        ov += [f"model.overrides.{key}={value}" for key, value in VARIANTS[self.variant].items()]
        if budget.input_size is not None:
            ov.append(f"model.overrides.input_size=[{budget.input_size[0]},{budget.input_size[1]}]")
        if self.exclude_shapes:
            ov.append(f"data.exclude_glass_shapes=[{','.join(self.exclude_shapes)}]")
        return ov + list(extra)


def plan_runs(
    variants: Sequence[str],
    seeds: Sequence[int],
    heldout_shapes: Sequence[str] = (),
    heldout_variant: str = "egsa_progressive",
    repeat_variants: Sequence[str] | None = None,
) -> list[RunSpec]:
    """Run names: ``<variant>`` (seed 0), ``<variant>_seed<n>``, ``heldout_<variant>``.

    The first seed runs every variant; the other seeds run ``repeat_variants`` only (all when None).
    """
    repeat = list(variants) if repeat_variants is None else list(repeat_variants)
    unknown = [v for v in [*variants, *repeat, heldout_variant] if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    runs = [
        RunSpec(v if s == 0 else f"{v}_seed{s}", v, s)
        for i, s in enumerate(seeds)
        for v in variants
        if i == 0 or v in repeat
    ]
    if heldout_shapes:
        runs.append(RunSpec(f"heldout_{heldout_variant}", heldout_variant, 0, tuple(heldout_shapes)))
    return runs


def run_state(run_dir: Path, epochs: int) -> str:
    """``done``, ``partial`` (a ``last`` checkpoint before the final epoch) or ``new``."""
    info = run_dir / "last" / "checkpoint.json"
    if not info.is_file():
        return "new"
    return "done" if json.loads(info.read_text()).get("epoch", -1) >= epochs - 1 else "partial"


def train_run(spec: RunSpec, root: Path, out: Path, budget: Budget, extra: Sequence[str] = ()) -> None:
    """Train one run in its own process (egsa-train), resuming a partial one; log to ``<run>.log``."""
    state = run_state(out / spec.name, budget.epochs)
    if state == "done":
        print(f"[ablation] {spec.name}: finished earlier, reused", flush=True)
        return
    cmd = [
        sys.executable,
        "-m",
        "egsa_ros.train.cli",
        "--config",
        "default_small",
        *spec.overrides(root, out, budget, extra),
    ] + (["--resume"] if state == "partial" else [])
    log = out / f"{spec.name}.log"
    print(f"[ablation] {spec.name}: training ({'resuming' if state == 'partial' else 'new'}), log {log}", flush=True)
    with open(log, "a") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"run {spec.name} failed (exit {proc.returncode}); see {log}")


def evaluate_run(run_dir: Path, root: Path, split: str, threads: int | None = 2) -> dict | None:
    """Metrics of ``run_dir/last`` on ``root/split`` (cached in ``run_dir/eval/<split>.json``);
    None when the split does not exist."""
    from .evaluate import evaluate_checkpoint  # noqa: PLC0415 - torch: only when evaluating, not for --report-only

    cache = run_dir / "eval" / f"{split}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    if not (root / split).is_dir():
        print(f"[ablation] no split {root / split}: not evaluated", flush=True)
        return None
    metrics = evaluate_checkpoint(run_dir / "last", root, split, threads=threads)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(metrics, indent=2))
    return metrics


def collect(
    out: Path, runs: Sequence[RunSpec], splits: Sequence[str], root: Path, budget: Budget, evaluate: bool = True
) -> dict:
    """Everything the report needs, as one JSON-able dict."""
    result: dict = {"budget": budget.__dict__, "splits": list(splits), "runs": {}}
    for spec in runs:
        run_dir = out / spec.name
        if run_state(run_dir, budget.epochs) != "done":
            continue
        records = epoch_records(run_dir)
        info = json.loads((run_dir / "last" / "checkpoint.json").read_text())
        evals = {s: (evaluate_run(run_dir, root, s) if evaluate else _cached(run_dir, s)) for s in splits}
        result["runs"][spec.name] = {
            "variant": spec.variant,
            "seed": spec.seed,
            "exclude_shapes": list(spec.exclude_shapes),
            "steps": info.get("step"),
            "train_wall_s": round(sum(r.get("epoch_time_s", 0.0) for r in records), 1),
            "curve": [
                {
                    "epoch": r["epoch"] + 1,
                    "edge_phase": r.get("edge_phase"),
                    "train_loss": r.get("train_loss"),
                    **{k: r.get("val", {}).get(k) for k, _ in TABLE_METRICS},
                }
                for r in records
            ],
            "eval": {s: _table_subset(m) for s, m in evals.items() if m is not None},
        }
    return result


def _cached(run_dir: Path, split: str) -> dict | None:
    cache = run_dir / "eval" / f"{split}.json"
    return json.loads(cache.read_text()) if cache.is_file() else None


def _table_subset(metrics: dict) -> dict:
    return {k: metrics[k] for k, _ in TABLE_METRICS if k in metrics} | {"frames": metrics.get("frames")}


def _mean_and_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{mean(values):.3f} ± {(max(values) - min(values)) / 2:.3f}"


def markdown_report(result: dict) -> str:
    """The variant table (test split, mean ± half-range over seeds), the other splits' key
    metrics, and the held-out-shape table."""
    runs = result["runs"]
    b = result["budget"]
    size = "x".join(map(str, b["input_size"])) if b.get("input_size") else "preset"
    lines = [
        f"Budget per run: {b['epochs']} epochs x {b['steps_per_epoch']} steps (batch from the config), "
        f"network input {size}, progressive switch at epoch {b['switch_epoch']}; last-epoch weights.",
        "",
    ]
    by_variant: dict[str, list[dict]] = {}
    for run in runs.values():
        if not run["exclude_shapes"]:
            by_variant.setdefault(run["variant"], []).append(run)
    for split in result["splits"]:
        rows = [(v, [r["eval"][split] for r in rs if split in r["eval"]]) for v, rs in by_variant.items()]
        rows = [(v, ms) for v, ms in rows if ms]
        if not rows:
            continue
        frames = rows[0][1][0].get("frames")
        lines += [
            f"**{split}** split ({frames} frames):",
            "",
            "| variant | seeds | " + " | ".join(label for _, label in TABLE_METRICS) + " |",
            "|---|---:|" + "---:|" * len(TABLE_METRICS),
        ]
        for variant in VARIANTS:
            ms = dict(rows).get(variant)
            if ms:
                cells = [_mean_and_spread([m[k] for m in ms]) for k, _ in TABLE_METRICS]
                lines.append(f"| {variant} | {len(ms)} | " + " | ".join(cells) + " |")
        lines.append("")
    held = {n: r for n, r in runs.items() if r["exclude_shapes"]}
    for name, run in held.items():
        ref = next((r for r in by_variant.get(run["variant"], []) if r["seed"] == run["seed"]), None)
        shapes = ",".join(run["exclude_shapes"])
        lines += [
            f"**Held-out shapes** ({shapes} excluded from training in `{name}`; `{run['variant']}` saw every shape):",
            "",
            "| model | split | " + " | ".join(label for _, label in TABLE_METRICS) + " |",
            "|---|---|" + "---:|" * len(TABLE_METRICS),
        ]
        for label, r in ((f"without {shapes}", run), ("all shapes", ref)):
            if r is None:
                continue
            for split, m in r["eval"].items():
                lines.append(f"| {label} | {split} | " + " | ".join(f"{m[k]:.3f}" for k, _ in TABLE_METRICS) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_report(result: dict, png: Path) -> Path:
    """Learning curves (glass IoU and d<1.25 on the test split per epoch) of every run."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, run in result["runs"].items():
        epochs = [c["epoch"] for c in run["curve"]]
        style = "--" if run["exclude_shapes"] else ("-" if run["seed"] == 0 else ":")
        for ax, key in zip(axes, ("transparent_iou", "delta_1.25", "t_delta_1.05")):
            ax.plot(epochs, [c.get(key) for c in run["curve"]], style, marker="o", ms=3, label=name)
    for ax, title in zip(axes, ("glass IoU", "d<1.25 (all pixels)", "d<1.05 (glass pixels)")):
        ax.set_title(f"{title}, test split")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    switch = result["budget"].get("switch_epoch")
    if switch:
        for ax in axes:
            ax.axvline(switch + 0.5, color="grey", lw=0.8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)[,x](\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected H,W (e.g. 96,128), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.train.ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="egsa-synth dataset (train + eval splits)")
    parser.add_argument("--out", type=Path, required=True, help="one sub-directory per run + the report")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--repeat-variants",
        nargs="+",
        choices=list(VARIANTS),
        help="variants that the seeds after the first run (default: all)",
    )
    parser.add_argument("--epochs", type=int, default=Budget.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=Budget.steps_per_epoch)
    parser.add_argument("--switch-epoch", type=int, default=Budget.switch_epoch)
    parser.add_argument("--input-size", type=_size, help="network input H,W (default: the preset's)")
    parser.add_argument("--heldout-shapes", default="", help="comma-separated glass shapes to hold out in one run")
    parser.add_argument("--heldout-variant", default="egsa_progressive", choices=list(VARIANTS))
    parser.add_argument("--eval-splits", nargs="+", default=["test"])
    parser.add_argument("--set", nargs="*", default=[], metavar="key=value", help="egsa-train overrides for every run")
    parser.add_argument("--report-only", action="store_true", help="train/evaluate nothing; report what exists")
    args = parser.parse_args(argv)
    if not 0 < args.switch_epoch < args.epochs:
        parser.error("--switch-epoch must lie strictly between 0 and --epochs")
    budget = Budget(args.epochs, args.steps_per_epoch, args.switch_epoch, args.input_size)
    runs = plan_runs(
        args.variants,
        args.seeds,
        [s for s in args.heldout_shapes.split(",") if s],
        args.heldout_variant,
        args.repeat_variants,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for i, spec in enumerate(runs, 1):
            print(f"[ablation] run {i}/{len(runs)}", flush=True)
            train_run(spec, args.root, args.out, budget, args.set)
    result = collect(args.out, runs, args.eval_splits, args.root, budget, evaluate=not args.report_only)
    missing = [s.name for s in runs if s.name not in result["runs"]]
    (args.out / "ablation.json").write_text(json.dumps(result, indent=2))
    report = markdown_report(result)
    (args.out / "ablation.md").write_text(report + "\n")
    plot_report(result, args.out / "ablation.png")
    print(report)
    print(
        f"[ablation] wrote {args.out / 'ablation.md'}, ablation.json, ablation.png"
        + (f"; not finished: {missing}" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
