"""``egsa-export``: a trained model -> ONE camera-frame ONNX graph, checked three ways.

The graph takes the uint8 camera frame and returns metric depth and the transparent mask
(:mod:`egsa_ros.model.frame_graph`). After writing it the command runs ``onnx.checker``
(full check), compares ONNX Runtime with torch on a frame, and checks every node against
the TensorRT ONNX parser's rules (:mod:`egsa_ros.export.tensorrt_check`); it exits non-zero
if any check fails.

    egsa-export                                   # bundled model, 480x640 frames
    egsa-export --model runs/x/best --frame-size 720x1280 --out out/x_720p.onnx
    egsa-export --dynamic                         # any frame size at run time
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..cli_helpers import output_file, parse_size
from ..data.generated import tabletop_frame
from ..model.frame_graph import CameraFrameModel
from ..model.frame_onnx import export_frame_onnx
from ..model.loading import load_network
from .onnx_export import frame_parity, onnx_op_types
from .tensorrt_check import check_tensorrt_compat

DEPTH_TOLERANCE_M = 1e-4
MASK_AGREEMENT_MIN = 0.999


def parity_frame(frame_size: tuple[int, int]) -> np.ndarray:
    """A rendered-looking table-top frame (not noise: noise makes Canny and argmax degenerate)."""
    return tabletop_frame(3, *frame_size)


def export_and_check(
    model: str | None,
    out: Path,
    frame_size: tuple[int, int],
    *,
    dynamic: bool = False,
    net_size: tuple[int, int] | None = None,
    edge_phase: str | None = None,
    simplify: bool = True,
    threads: int = 2,
    flip_average: bool | None = None,
    mask_net_size: tuple[int, int] | None = None,
) -> dict:
    """Export, then run the checker (inside the export), parity and TensorRT checks.

    ``flip_average``: build mirrored test-time averaging into the graph (True), leave it out
    (False) or keep the model's setting (None). ``mask_net_size``: (h, w) of a second network
    pass that the mask comes from (``InferenceOptions.mask_input_size``), None to keep the model's.

    Returns a report dict with ``ok`` (all checks passed) and each check's numbers.
    """
    network, options, name = load_network(model, flip_average=flip_average, mask_input_size=mask_net_size)
    start = time.perf_counter()
    path = export_frame_onnx(
        network,
        out,
        frame_size,
        dynamic=dynamic,
        net_size=net_size,
        options=options,
        edge_phase=edge_phase,
        simplify=simplify,
        model_name=name,
    )
    seconds = time.perf_counter() - start
    torch.manual_seed(0)
    reference = CameraFrameModel(network, frame_size, edge_phase=edge_phase, net_size=net_size, options=options)
    parity = frame_parity(reference, path, parity_frame(frame_size), threads=threads)
    if dynamic:  # a second size proves the graph really follows the input shape
        other = (frame_size[0] + 96, frame_size[1] + 128)
        other_ref = CameraFrameModel(network, other, edge_phase=edge_phase, net_size=net_size, options=options)
        parity_other = frame_parity(other_ref, path, parity_frame(other), threads=threads)
        parity = {k: (max if k.startswith("depth") else min)(parity[k], parity_other[k]) for k in parity}
    violations = check_tensorrt_compat(path)
    ops = onnx_op_types(path)
    ok = (
        parity["depth_max_abs_m"] <= DEPTH_TOLERANCE_M
        and parity["mask_agreement"] >= MASK_AGREEMENT_MIN
        and not violations
    )
    return {
        "ok": ok,
        "onnx": str(path),
        "model": name,
        "frame_size": "dynamic" if dynamic else list(frame_size),
        "export_seconds": round(seconds, 2),
        "nodes": sum(ops.values()),
        "op_types": ops,
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "checker": "passed (full_check)",
        "parity": parity,
        "tensorrt_violations": [str(v) for v in violations],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egsa-export",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--model", help="checkpoint directory or preset (default: the bundled model)")
    parser.add_argument("--frame-size", type=parse_size, default=(480, 640), help="camera frame HxW (default 480x640)")
    parser.add_argument("--dynamic", action="store_true", help="accept any frame size at run time")
    parser.add_argument(
        "--net-size",
        type=parse_size,
        help="network HxW (default: the size it was trained at; must be a multiple of the encoder stride)",
    )
    parser.add_argument("--edge-phase", choices=["rgb", "depth"], help="override the config's inference edge phase")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="also run the mirrored frame and average depth and logits (~2x network time)",
    )
    parser.add_argument(
        "--mask-net-size",
        type=parse_size,
        help="take the mask from a second network pass at this HxW (e.g. 384x512 for 480x640 "
        "frames: finer glass outlines, ~4x network time)",
    )
    parser.add_argument("--out", type=output_file, help="output .onnx (default out/export/<model>_<H>x<W>.onnx)")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxslim")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for the parity check")
    parser.add_argument("--json", type=output_file, help="also write the report here")
    args = parser.parse_args(argv)

    stem = Path(args.model).name if args.model else "default_small"
    out = (
        args.out
        or Path("out/export") / f"{stem}_{'dynamic' if args.dynamic else '{}x{}'.format(*args.frame_size)}.onnx"
    )
    try:
        report = export_and_check(
            args.model,
            out,
            args.frame_size,
            dynamic=args.dynamic,
            net_size=args.net_size,
            edge_phase=args.edge_phase,
            simplify=not args.no_simplify,
            threads=args.threads,
            flip_average=True if args.flip_average else None,
            mask_net_size=args.mask_net_size,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"egsa-export: error: {exc}", file=sys.stderr)
        return 2
    parity = report["parity"]
    print(f"wrote {report['onnx']} ({report['size_mb']} MB, {report['nodes']} nodes, {report['export_seconds']} s)")
    print(f"  model: {report['model']}; frame {report['frame_size']}")
    print(f"  onnx.checker: {report['checker']}")
    print(
        f"  ONNX Runtime vs torch: depth max |diff| {parity['depth_max_abs_m']:.2e} m "
        f"(<= {DEPTH_TOLERANCE_M:g}), mask agreement {parity['mask_agreement']:.5f} (>= {MASK_AGREEMENT_MIN})"
    )
    if report["tensorrt_violations"]:
        print("  TensorRT ONNX-parser check: FAILED")
        for line in report["tensorrt_violations"]:
            print(f"    {line}")
    else:
        print("  TensorRT ONNX-parser check: passed")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
