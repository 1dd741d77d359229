"""The command line shared by the analyses that run a model over one rendered split
(``geometry_limits``, ``camera_robustness``): the same arguments, the same one-line refusal of a
folder without frames, the same report output (Markdown on stdout, optionally JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli_helpers import output_file, parse_size
from ..data.synthetic_frames import frame_dirs
from ..runtime.pipeline import Pipeline, load_pipeline


def split_tool_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the split folder, ``--model``, ``--backend``, ``--threads``,
    ``--mask-net-size``, ``--limit``, ``--json`` and ``--no-progress``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("split", type=Path, help="a rendered split folder (egsa-synth output ROOT/SPLIT)")
    parser.add_argument("--model", default=None, help="model directory, .onnx or engine (default: the bundled model)")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--mask-net-size",
        type=parse_size,
        help="take the mask from a second network pass at this HxW (the node's mask_input_size, e.g. 384x512)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N frames only")
    parser.add_argument("--json", type=output_file, help="also write the report as JSON")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def open_split_tool(prog: str, args: argparse.Namespace) -> Pipeline | None:
    """The model's pipeline for ``args``; None (after one line on stderr) when ``args.split``
    holds no rendered frames."""
    if not frame_dirs(args.split):
        print(f"{prog}: {args.split} holds no rendered frame directories (each with a meta.json)", file=sys.stderr)
        return None
    return load_pipeline(
        args.model,
        backend=args.backend,
        threads=args.threads,
        frame_size=None,
        mask_input_size=args.mask_net_size,
    )


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``--no-progress`` or stderr is not a terminal."""
    return not args.no_progress and sys.stderr.isatty()


def finish_split_tool(
    report: dict[str, Any], pipeline: Pipeline, args: argparse.Namespace, markdown: Callable[[dict], str]
) -> int:
    """Name the model (and its mask pass size, None for none) in ``report``, print its Markdown,
    write the JSON when asked; exit code 0."""
    report["model"] = pipeline.model_name
    size = pipeline.options.mask_input_size
    report["mask_input_size"] = None if size is None else list(size)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0
