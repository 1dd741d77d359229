"""Ship camera-frame graphs inside a checkpoint directory, so it runs without torch.

    python -m egsa_ros.export.ship_graphs models/default_small          # 480x640 + dynamic
    python -m egsa_ros.export.ship_graphs CKPT --sizes 480x640,720x1280 --no-dynamic

Writes ``CKPT/graphs/frame_<H>x<W>.onnx`` (static: fastest on a CPU for that size) and
``CKPT/graphs/frame_dynamic.onnx`` (any size), sharing one ``weights.bin``, each exported with
the checkpoint's saved test-time options and stamped with the SHA-256 of its
``model.safetensors`` (the runtime ignores graphs whose weights or options differ). Each graph
is checked against torch on a rendered table-top frame before it is written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import onnx

from ..cli_helpers import parse_sizes
from ..data.generated import tabletop_frame
from ..model.checkpoint_info import GRAPHS_DIR, MODEL_FILE, is_checkpoint_dir, sha256_file
from ..model.frame_graph import CameraFrameModel
from ..model.frame_onnx import export_frame_onnx
from ..model.loading import load_network
from .onnx_export import frame_parity
from .shared_weights import save_sharing_weights

DEFAULT_SIZES = ((480, 640),)
PARITY_DEPTH_M = 1e-4
PARITY_MASK = 0.999


def ship_graphs(
    checkpoint: str | Path, *, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, dynamic: bool = True
) -> dict:
    """Export and check the graphs, then replace ``checkpoint/graphs``; returns a report dict."""
    checkpoint = Path(checkpoint)
    if not is_checkpoint_dir(checkpoint):
        raise FileNotFoundError(f"{checkpoint} is not a checkpoint directory")
    network, options, name = load_network(checkpoint)
    digest = sha256_file(checkpoint / MODEL_FILE)
    wanted = [(f"frame_{h}x{w}.onnx", (h, w), False) for h, w in sizes]
    if dynamic:
        wanted.append(("frame_dynamic.onnx", (480, 640), True))
    report: dict = {"model": name, "graphs": {}}
    protos: dict[str, onnx.ModelProto] = {}
    with tempfile.TemporaryDirectory(prefix="egsa_ship_") as work:
        for file_name, size, is_dynamic in wanted:
            path = export_frame_onnx(
                network,
                Path(work) / file_name,
                size,
                dynamic=is_dynamic,
                options=options,
                model_name=name,
                weights_sha256=digest,
            )
            check_sizes = [size, (240, 320), (720, 1280)] if is_dynamic else [size]
            for check in check_sizes:
                parity = frame_parity(
                    CameraFrameModel(network, check, options=options), path, tabletop_frame(3, *check)
                )
                if parity["depth_max_abs_m"] > PARITY_DEPTH_M or parity["mask_agreement"] < PARITY_MASK:
                    raise RuntimeError(f"{file_name} at {check[1]}x{check[0]} differs from torch: {parity}")
                report["graphs"].setdefault(file_name, {})[f"{check[0]}x{check[1]}"] = parity
            protos[file_name] = onnx.load(str(path))
        staging = Path(work) / GRAPHS_DIR
        report["weights"] = save_sharing_weights(protos, staging)
        target = checkpoint / GRAPHS_DIR
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(staging, target)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egsa_ros.export.ship_graphs", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory (e.g. models/default_small)")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="static frame sizes HxW, comma-separated (default 480x640)",
    )
    parser.add_argument("--no-dynamic", action="store_true", help="ship no dynamic-size graph")
    args = parser.parse_args(argv)
    try:
        report = ship_graphs(args.checkpoint, sizes=args.sizes, dynamic=not args.no_dynamic)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    weights = report["weights"]
    print(
        f"{args.checkpoint / GRAPHS_DIR}: {', '.join(report['graphs'])} sharing {weights['bytes'] / 1e6:.1f} MB "
        f"of weights ({weights['tensors']} tensors, {weights['shared']} shared); model {report['model']}"
    )
    for file_name, checks in report["graphs"].items():
        for size, parity in checks.items():
            print(
                f"  {file_name} at {size}: depth max |diff| {parity['depth_max_abs_m']:.2e} m, "
                f"mask agreement {parity['mask_agreement']:.5f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
