#!/usr/bin/env python3
"""Export an EGSA network to ONNX (opset 17, static shapes) and check it against torch.

Thin CLI over :func:`egsa_ros.export.onnx_export.export_network_onnx`. Until trained
checkpoints exist it exports a preset with random (or ImageNet-encoder) weights; the
camera-frame graph (uint8 frame in, depth + mask out) and TensorRT engines come with the
export issue.

    python export/export_onnx.py --preset default_small --out out/default_small.onnx
"""
import argparse
import sys

import torch


def main(argv=None) -> int:
    from egsa_ros.export import export_network_onnx, onnx_op_types, onnx_parity
    from egsa_ros.model import PRESETS, build_model, get_preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default_small", choices=sorted(PRESETS))
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--fusion", choices=["modest", "sa", "egsa"], help="override the preset's fusion")
    args = parser.parse_args(argv)
    overrides = {"fusion": args.fusion} if args.fusion else {}
    model = build_model(get_preset(args.preset, **overrides))
    path = export_network_onnx(model, args.out)
    h, w = model.config.input_size
    rgb = torch.randint(0, 256, (1, 3, h, w)).float()
    parity = onnx_parity(model, path, rgb)
    print(f"wrote {path} ({sum(onnx_op_types(path).values())} nodes); ONNX Runtime vs torch: {parity}")
    return 0 if parity["depth_max_abs_m"] <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
