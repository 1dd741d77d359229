"""Parameter counts and CPU forward times of the presets, and the frame-to-mask latency of
``default_small`` candidates through ONNX Runtime.

    python -m egsa_ros.bench.model_bench [--threads 2] [--sizes 240x320 480x640]
        [--presets ...] [--repeats 5] [--pipeline] [--json out.json]

Forward times are torch eval-mode, no-grad, batch 1, after one warm-up run; the network
input is the requested size rounded to the encoder's size divisor (the table says which
size ran). ``--pipeline`` measures 480x640 uint8 frames to depth + mask with the
:class:`~egsa_ros.runtime.pipeline.Pipeline` on ONNX Runtime (CPU, ``threads`` intra-op
threads, no spin-waiting), for candidate internal resolutions of ``default_small``.
Times are wall-clock on a possibly shared machine: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import onnxruntime as ort
import torch
from tqdm import tqdm

from ..cli_helpers import output_file, parse_size
from ..data.generated import tabletop_frame
from ..model import PRESETS, build_model, get_preset
from ..model.frame_onnx import graph_exporter
from ..model.net import round_to_multiple
from ..runtime.onnxruntime_backend import OnnxRuntimeBackend
from ..runtime.pipeline import Pipeline

# (label, overrides of default_small) for the internal-resolution sweep.
SMALL_CANDIDATES: list[tuple[str, dict]] = [
    ("default_small", {}),
    ("192x256 it3 c32-96", dict(input_size=(192, 256), iterations=3, decoder_channels=(32, 48, 64, 96))),
    ("192x256 it3 c24-64", dict(input_size=(192, 256), iterations=3, decoder_channels=(24, 32, 48, 64))),
    ("192x256 it3 c16-48", dict(iterations=3)),
    ("192x256 it2 c16-48 N32", dict(hysteresis_rounds=32)),
    ("192x256 it2 c24-64", dict(decoder_channels=(24, 32, 48, 64))),
    ("160x224 it3 c24-64", dict(input_size=(160, 224), iterations=3, decoder_channels=(24, 32, 48, 64))),
    ("224x288 it3 c24-64", dict(input_size=(224, 288), iterations=3, decoder_channels=(24, 32, 48, 64))),
    ("256x352 it3 c24-64", dict(input_size=(256, 352), iterations=3, decoder_channels=(24, 32, 48, 64))),
]


def valid_size(size: tuple[int, int], divisor: int) -> tuple[int, int]:
    """Round (H, W) to the nearest multiple of ``divisor`` (at least one multiple)."""
    return tuple(round_to_multiple(s, divisor) for s in size)  # type: ignore[return-value]


def time_forward(model: torch.nn.Module, size: tuple[int, int], repeats: int) -> list[float]:
    """Wall-clock ms of ``repeats`` eval forwards after one warm-up."""
    x = torch.randint(0, 256, (1, 3, *size)).float()
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def bench_presets(presets: list[str], sizes: list[tuple[int, int]], repeats: int) -> list[dict]:
    rows = []
    for name in tqdm(presets, desc="presets", unit="preset"):
        torch.manual_seed(0)
        model = build_model(get_preset(name)).eval()
        params = sum(p.numel() for p in model.parameters())
        enc = sum(p.numel() for p in model.backbone.parameters())
        for size in sizes:
            run = valid_size(size, model.backbone.size_divisor)
            times = time_forward(model, run, repeats)
            rows.append(
                {
                    "preset": name,
                    "params_M": params / 1e6,
                    "encoder_params_M": enc / 1e6,
                    "requested": list(size),
                    "ran": list(run),
                    "forward_ms_median": float(np.median(times)),
                    "forward_ms_min": float(np.min(times)),
                    "repeats": repeats,
                }
            )
    return rows


def bench_pipeline(threads: int, frames: int) -> list[dict]:
    images = [tabletop_frame(i) for i in range(8)]
    pipes = []
    for label, overrides in tqdm(SMALL_CANDIDATES, desc="export", unit="cfg"):
        torch.manual_seed(0)
        cfg = get_preset("default_small", **overrides)
        model = build_model(cfg)
        pipe = Pipeline(OnnxRuntimeBackend(export=graph_exporter(model), threads=threads, spin=False), cfg, label)
        for img in images[:3]:
            pipe(img)
        pipes.append((pipe, sum(p.numel() for p in model.parameters())))
    # Interleaved: frame i goes through every candidate before frame i+1, so slow phases
    # of a shared machine hit all candidates alike.
    timings: list[list[dict[str, float]]] = [[] for _ in pipes]
    for i in tqdm(range(frames), desc="frames", unit="frame"):
        for j, (pipe, _) in enumerate(pipes):
            timings[j].append(pipe(images[i % len(images)]).timings)
    rows = []
    for (pipe, params), times in zip(pipes, timings):
        cfg = pipe.config
        row = {
            "candidate": pipe.model_name,
            "input_size": list(cfg.input_size),
            "iterations": cfg.iterations,
            "decoder_channels": list(cfg.decoder_channels),
            "hysteresis_rounds": cfg.hysteresis_rounds,
            "frames": frames,
            "params_M": params / 1e6,
            "onnxruntime": ort.__version__,
        }
        for stage in ("preprocess", "inference", "postprocess", "total"):
            vals = [t[stage] for t in times]
            row[f"{stage}_p50_ms"] = float(np.percentile(vals, 50))
            row[f"{stage}_p90_ms"] = float(np.percentile(vals, 90))
        row["fps_p50"] = 1000.0 / row["total_p50_ms"]
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="egsa_ros.bench.model_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(240, 320), (480, 640)])
    parser.add_argument("--presets", nargs="+", default=sorted(PRESETS), choices=sorted(PRESETS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pipeline", action="store_true", help="also sweep default_small candidates (ORT)")
    parser.add_argument("--pipeline-only", action="store_true", help="only the default_small sweep")
    parser.add_argument("--frames", type=int, default=100, help="frames per pipeline candidate")
    parser.add_argument("--json", type=output_file, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    result = {"threads": args.threads, "torch": torch.__version__, "cpu_count": torch.get_num_threads()}
    if not args.pipeline_only:
        result["presets"] = bench_presets(args.presets, args.sizes, args.repeats)
        print(
            f"\n| preset | params (M) | encoder (M) | input | forward ms "
            f"(median of {args.repeats}, {args.threads} threads) |"
        )
        print("|---|---:|---:|---|---:|")
        for r in result["presets"]:
            print(
                f"| {r['preset']} | {r['params_M']:.2f} | {r['encoder_params_M']:.2f} | "
                f"{r['ran'][0]}x{r['ran'][1]} | {r['forward_ms_median']:.1f} |"
            )
    if args.pipeline or args.pipeline_only:
        result["pipeline"] = bench_pipeline(args.threads, args.frames)
        print(f"\n480x640 frame -> depth + mask, ONNX Runtime CPU, {args.threads} threads, {args.frames} frames")
        print("| candidate | params (M) | pre p50 | net p50 | post p50 | total p50 | total p90 | fps (p50) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in result["pipeline"]:
            print(
                f"| {r['candidate']} | {r['params_M']:.2f} | {r['preprocess_p50_ms']:.1f} | "
                f"{r['inference_p50_ms']:.1f} | {r['postprocess_p50_ms']:.1f} | {r['total_p50_ms']:.1f} | "
                f"{r['total_p90_ms']:.1f} | {r['fps_p50']:.1f} |"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
