"""``egsa-build-engine`` / ``export/build_engine.py``: camera-frame ONNX -> TensorRT engine + sidecar.

    python export/build_engine.py --onnx out/export/default_small_480x640.onnx --precision fp16
    python export/build_engine.py --onnx M.onnx --precision int8 --calibration data/sample_bag
    python export/build_engine.py --onnx M.onnx --dla-core 0          # Jetson DLA, GPU fallback
    python export/build_engine.py --check out/export/default_small_480x640.engine

Needs TensorRT 10 and a CUDA GPU; without them it says so and exits with status 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..cli_helpers import output_file, parse_size
from ..model.tensorrt_engine import (
    PRECISIONS,
    EngineMismatchError,
    build_engine,
    cuda_and_tensorrt_status,
    read_sidecar,
    running_identity,
    sidecar_mismatches,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egsa-build-engine",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--onnx", type=Path, help="camera-frame graph from egsa-export")
    parser.add_argument("--out", type=output_file, help="engine file (default: the ONNX path with .engine)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="fp16", help="fp16 (default; Canny layers stay fp32), fp32 or int8"
    )
    parser.add_argument("--workspace-mb", type=int, default=2048, help="builder workspace limit, MiB")
    parser.add_argument("--timing-cache", type=Path, help="timing cache file to read and update")
    parser.add_argument("--dla-core", type=int, help="build for this DLA core (Jetson), GPU fallback on")
    parser.add_argument("--calibration", type=Path, help="folder of images or ROS 2 bag for int8")
    parser.add_argument("--calibration-frames", type=int, default=64)
    parser.add_argument(
        "--dynamic-shapes",
        type=parse_size,
        nargs=3,
        metavar=("MIN", "OPT", "MAX"),
        help="frame sizes HxW of the optimisation profile for a dynamic graph",
    )
    parser.add_argument(
        "--check",
        type=Path,
        metavar="ENGINE",
        help="only compare ENGINE's sidecar with this machine's TensorRT and GPU",
    )
    args = parser.parse_args(argv)

    usable, reason = cuda_and_tensorrt_status()
    if args.check:
        sidecar = read_sidecar(args.check)
        if not usable:
            print(f"cannot compare with this machine: {reason}\nsidecar: {json.dumps(sidecar, indent=2)}")
            return 3
        problems = sidecar_mismatches(sidecar, running_identity())
        print("engine matches this machine" if not problems else "MISMATCH:\n  " + "\n  ".join(problems))
        return 0 if not problems else 1
    if args.onnx is None:
        parser.error("--onnx is required (or --check ENGINE)")
    if not usable:
        print(f"egsa-build-engine: cannot build here: {reason}", file=sys.stderr)
        return 3
    out = args.out or args.onnx.with_suffix(".engine")
    try:
        path = build_engine(
            args.onnx,
            out,
            precision=args.precision,
            workspace_mb=args.workspace_mb,
            timing_cache=args.timing_cache,
            dla_core=args.dla_core,
            calibration=args.calibration,
            calibration_frames=args.calibration_frames,
            dynamic_shapes=args.dynamic_shapes,
        )
    except (ValueError, FileNotFoundError, RuntimeError, EngineMismatchError) as exc:
        print(f"egsa-build-engine: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} and {path.name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
