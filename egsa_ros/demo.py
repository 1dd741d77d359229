"""The main job until a trained model and sample bag exist: run the pipeline on generated
frames, print a latency summary and write PNG panels (RGB | depth | mask overlay).

    egsa-demo [--frames N] [--backend auto|torch|onnxruntime] [--out DIR]

The default model is RANDOMLY INITIALISED until the training issue bundles a trained one:
the numbers show the pipeline's speed, the pictures show nothing learned.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from .data.generated import tabletop_frame


def colourise_depth(depth: np.ndarray, d_min: float, d_max: float) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) uint8 RGB with a fixed colour map; NaN is black."""
    norm = np.clip((np.nan_to_num(depth, nan=d_min) - d_min) / (d_max - d_min), 0.0, 1.0)
    bgr = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[~np.isfinite(depth)] = 0
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def panel(rgb: np.ndarray, depth: np.ndarray, mask: np.ndarray, d_min: float, d_max: float) -> np.ndarray:
    """RGB | colourised depth | RGB with the transparent mask in magenta, side by side."""
    overlay = rgb.copy()
    overlay[mask > 0] = (0.5 * overlay[mask > 0] + 0.5 * np.array([255, 0, 255])).astype(np.uint8)
    return np.concatenate([rgb, colourise_depth(depth, d_min, d_max), overlay], axis=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="egsa-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20, help="frames to generate and run (default 20)")
    parser.add_argument("--backend", default="auto", help="auto | torch | onnxruntime (default auto)")
    parser.add_argument("--model", default=None, help="preset name (default: the bundled default)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    if args.frames < 1:
        parser.error("--frames must be >= 1")

    from tqdm import tqdm

    from . import load_pipeline

    pipe = load_pipeline(args.model, backend=args.backend, threads=args.threads)
    cfg = pipe.config
    args.out.mkdir(parents=True, exist_ok=True)
    totals, fractions = [], []
    pipe(tabletop_frame(10_000))  # warm-up, not timed
    for i in tqdm(range(args.frames), desc="frames", unit="frame"):
        rgb = tabletop_frame(i)
        pred = pipe(rgb)
        totals.append(pred.timings)
        fractions.append(float(pred.mask.mean()))
        if i < 4:
            cv2.imwrite(str(args.out / f"panel_{i:02d}.png"),
                        cv2.cvtColor(panel(rgb, pred.depth, pred.mask, cfg.d_min, cfg.d_max), cv2.COLOR_RGB2BGR))
    stages = {k: [t[k] for t in totals] for k in totals[0]}
    summary = {
        "model": pipe.model_name, "backend": pipe.backend_name, "frames": args.frames,
        "frame_size": [480, 640], "network_input": list(cfg.input_size), "threads": args.threads,
        "latency_ms": {k: {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
                           "max": float(np.max(v))} for k, v in stages.items()},
        "fps_p50": 1000.0 / float(np.percentile(stages["total"], 50)),
        "mean_transparent_fraction": float(np.mean(fractions)),
        "note": "randomly initialised network until a trained model is bundled: outputs are not meaningful",
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nmodel {summary['model']} on {summary['backend']}, {args.frames} frames of 640x480 "
          f"(network {cfg.input_size[1]}x{cfg.input_size[0]}, {args.threads} threads)")
    for k, v in summary["latency_ms"].items():
        print(f"  {k:12s} p50 {v['p50']:7.2f} ms   p90 {v['p90']:7.2f} ms")
    print(f"  => {summary['fps_p50']:.1f} fps at p50.  Panels and summary.json in {args.out}/")
    print("  NOTE: " + summary["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
