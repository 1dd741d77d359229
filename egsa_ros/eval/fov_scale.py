"""Per-frame depth scale error through lenses outside the trained range, per canonical-view inset.

    python -m egsa_ros.eval.fov_scale data/egsa_v2/fov_narrow_val data/egsa_v2/fov_wide_val \\
        --insets 0.5,0.7,0.9 [--model M] [--json out/fov_scale.json]

Runs one model (default: the bundled one) over the given rendered splits once per inset of its
canonical-view pass (:mod:`egsa_ros.runtime.canonical_view`: a frame from a lens outside the
trained fx / width range is seen a second time through a lens that far inside it) and reports, per
inset, the frame scale error |log(median predicted / true depth)| p50 and p95 pooled over all the
splits and per split, transparent IoU and all-pixel delta<1.25 per split, and the second lens for
the narrowest and widest camera. Frames inside the trained range are the same at every inset.
The inset is a test-time option: the bundled value lives in the checkpoint's
``inference_options.canonical_view_inset``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..cli_helpers import output_file
from ..data.synthetic_frames import frame_dirs
from ..runtime.canonical_view import second_lens
from ..runtime.pipeline import Pipeline, load_pipeline
from .accumulate import frame_scale_summary
from .candidate_check import score_split


def parse_insets(text: str) -> list[float]:
    """``"0.5,0.7"`` -> [0.5, 0.7]; each in [0, 1) (argparse type)."""
    try:
        insets = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"insets must be comma-separated numbers, got {text!r}") from None
    if not insets or any(not 0.0 <= inset < 1.0 for inset in insets):
        raise argparse.ArgumentTypeError(f"each inset must be in [0, 1), got {text!r}")
    return insets


def sweep(pipeline: Pipeline, splits: Sequence[Path], insets: Sequence[float], progress: bool = True) -> dict:
    """The report for ``pipeline`` over ``splits`` at each inset (see the module docstring).

    Raises ValueError when the model has no canonical-view pass (no inset to vary)."""
    options = pipeline.options
    span = options.canonical_view_focal
    if span is None:
        raise ValueError(f"{pipeline.model_name} has no canonical-view pass (inference_options.canonical_view_focal)")
    rows = []
    for inset in insets:
        pipeline.options = options.replace(canonical_view_inset=float(inset))
        per_split, ratios = {}, []
        for folder in splits:
            part = score_split(pipeline, folder, progress=progress)
            summary = frame_scale_summary(part["scale_ratios"])
            per_split[Path(folder).name] = {
                "frames": part["frames"],
                "transparent_iou": part["transparent_iou"],
                "delta_1.25": part["delta_1.25"],
                "scale_error_p50": summary["abs_log_p50"],
                "scale_error_p95": summary["abs_log_p95"],
            }
            ratios += part["scale_ratios"]
        pooled = frame_scale_summary(ratios)
        rows.append(
            {
                "inset": float(inset),
                "narrow_lens_seen_as": second_lens(span[1] * 2.0, span, options.canonical_focal, inset),
                "wide_lens_seen_as": second_lens(span[0] / 2.0, span, options.canonical_focal, inset),
                "pooled": {
                    "frames": pooled["frames"],
                    "scale_error_p50": pooled["abs_log_p50"],
                    "scale_error_p95": pooled["abs_log_p95"],
                },
                "splits": per_split,
            }
        )
    pipeline.options = options
    return {"model": pipeline.model_name, "trained_focal_range": list(span), "rows": rows}


def markdown(report: dict) -> str:
    """The report as a Markdown table, one row per inset and split."""
    lines = [
        f"Canonical-view inset sweep, model {report['model']} (trained fx / width {report['trained_focal_range']})",
        "",
        "| inset | lens seen as (narrow / wide) | split | frames | scale error p50 / p95 | IoU | delta<1.25 |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        lenses = f"{row['narrow_lens_seen_as']:.3f} / {row['wide_lens_seen_as']:.3f}"
        pooled = row["pooled"]
        lines.append(
            f"| {row['inset']:.2f} | {lenses} | **pooled** | {pooled['frames']} | "
            f"{pooled['scale_error_p50']:.3f} / {pooled['scale_error_p95']:.3f} | | |"
        )
        for name, part in row["splits"].items():
            lines.append(
                f"| | | {name} | {part['frames']} | {part['scale_error_p50']:.3f} / {part['scale_error_p95']:.3f} | "
                f"{part['transparent_iou']:.3f} | {part['delta_1.25']:.3f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    prog = "python -m egsa_ros.eval.fov_scale"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("splits", nargs="+", type=Path, help="rendered split folders (egsa-synth output ROOT/SPLIT)")
    parser.add_argument("--insets", type=parse_insets, required=True, help="comma-separated insets in [0, 1)")
    parser.add_argument("--model", default=None, help="model directory or .onnx (default: the bundled model)")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=output_file, help="also write the report as JSON")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    for folder in args.splits:
        if not frame_dirs(folder):
            print(f"{prog}: {folder} holds no rendered frame directories (each with a meta.json)", file=sys.stderr)
            return 2
    pipeline = load_pipeline(args.model, backend=args.backend, threads=args.threads, frame_size=None)
    try:
        report = sweep(pipeline, args.splits, args.insets, progress=not args.no_progress and sys.stderr.isatty())
    except ValueError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
