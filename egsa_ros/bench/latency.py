"""``egsa-bench``: camera frame -> depth + mask latency per stage, over backends and frame sizes.

One run measures, on the same frames and interleaved (frame i goes through every candidate
before frame i+1, so a noisy shared machine slows all candidates alike):

- ``fused/<backend>``: the camera-frame graph (resize, Canny, network, upsampling, argmax in
  one graph) on every backend available here: ONNX Runtime, torch CPU, and on a GPU torch
  CUDA fp16 + CUDA graphs and TensorRT (when an engine is given);
- ``cv2-canny``: the deployment the fused graph replaces: cv2 resize + ``cv2.Canny`` on the
  CPU, the network (edges as a second input) in ONNX Runtime, cv2 upsampling;
- ``modest-peer``: a MODEST-architecture network (ViT-B/16 at 384x384, 3 iterations,
  MODEST fusion, random weights) through the same fused graph, fewer frames;
- the Canny step alone: in-graph Canny (torch/ORT, and CUDA if present) vs ``cv2.Canny``
  (+ the upload of its edge map to the GPU when there is one).

Writes JSON (with device, versions and the command) and a PNG plot, prints a table and the
ratios.

    egsa-bench --frames 200 --threads 2 --out docs/bench/latency.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch
from tqdm import tqdm

from ..cli_helpers import output_file, parse_size
from ..data.generated import tabletop_frame
from ..model.config import get_preset
from ..model.frame_onnx import graph_exporter
from ..model.inference_options import InferenceOptions
from ..model.loading import load_network
from ..model.net import build_model
from ..runtime.onnxruntime_backend import OnnxRuntimeBackend
from ..runtime.tensorrt_backend import TensorRTBackend
from ..runtime.torch_backend import TorchBackend
from .canny_step import canny_step_costs
from .cv2_canny_pipeline import Cv2CannyPipeline
from .plots import plot_latency
from .stats import Size, summarise

Candidate = tuple[str, Callable]


def onnxruntime_backend(
    network: torch.nn.Module, options: InferenceOptions, threads: int | None, net_size: Size | None = None
):
    """ONNX Runtime on graphs exported from ``network`` per frame size (as the pipeline does);
    ``net_size``: the network's (h, w) input inside the graph (default: the trained size)."""
    return OnnxRuntimeBackend(export=graph_exporter(network, options=options, net_size=net_size), threads=threads)


def build_candidates(args, network, options: InferenceOptions, workdir: Path) -> list[list[Candidate]]:
    """Groups of (name, callable frame -> Prediction) for every backend available here.

    Candidates are interleaved within a group only. torch's OpenMP worker threads keep
    spinning for a while after each call and slow down whatever runs next on the same
    cores, so torch CPU is its own group, measured after the ONNX Runtime group.
    """
    groups = []
    if "onnxruntime" in args.backends:
        groups.append(
            [
                ("fused/onnxruntime", onnxruntime_backend(network, options, args.threads).infer),
                ("cv2-canny/onnxruntime", Cv2CannyPipeline(network, workdir, args.threads)),
            ]
            + [
                (f"fused/onnxruntime net {h}x{w}", onnxruntime_backend(network, options, args.threads, (h, w)).infer)
                for h, w in args.net_sizes
            ]
        )
    gpu = []
    if "cuda" in args.backends and torch.cuda.is_available():
        gpu.append(
            (
                "fused/torch-cuda-fp16-cudagraph",
                TorchBackend(copy.deepcopy(network), options=options, device="cuda", fp16=True, cuda_graphs=True).infer,
            )
        )
    if args.engine:
        gpu.append((f"fused/tensorrt ({Path(args.engine).name})", TensorRTBackend(args.engine).infer))
    if gpu:
        groups.append(gpu)
    if "torch" in args.backends:
        groups.append(
            [("fused/torch-cpu", TorchBackend(copy.deepcopy(network), options=options, threads=args.threads).infer)]
        )
    if not groups:
        raise ValueError(
            f"nothing to measure: backends {args.backends} on a machine "
            f"{'with' if torch.cuda.is_available() else 'without'} CUDA and no --engine"
        )
    return groups


def _measure_group(group: list[Candidate], frames: list[np.ndarray], size: Size, count: int) -> list[dict]:
    """Warm up, then run ``count`` frames through every candidate of ``group``, interleaved."""
    for _, fn in group:
        for frame in frames[:3]:
            fn(frame)  # warm-up (and graph preparation for this size)
    timings: list[list[dict[str, float]]] = [[] for _ in group]
    names = ", ".join(name for name, _ in group)
    for i in tqdm(range(count), desc=f"{size[1]}x{size[0]} {names}", unit="frame"):
        for j, (_, fn) in enumerate(group):
            timings[j].append(fn(frames[i % len(frames)]).timings)
    return [summarise(name, size, t) for (name, _), t in zip(group, timings)]


def environment(args) -> dict:
    """Versions, CPU/GPU and the command line, stored with the results."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "command": "egsa-bench " + " ".join(sys.argv[1:]),
    }
    try:
        import tensorrt  # noqa: PLC0415 - optional (TensorRT machines only): reported when installed

        env["tensorrt"] = tensorrt.__version__
    except ImportError:
        env["tensorrt"] = None
    return env


def _peer_rows(args, network, options: InferenceOptions) -> tuple[list[dict], float]:
    """The default model and a MODEST-architecture peer on the same frames (ONNX Runtime)."""
    size = args.sizes[0]
    torch.manual_seed(0)
    peer = build_model(get_preset(args.peer_preset, fusion="modest", iterations=3)).eval()
    peer_backend = onnxruntime_backend(peer, InferenceOptions(), args.threads)
    default_backend = onnxruntime_backend(network, options, args.threads)
    frames = [tabletop_frame(i, *size) for i in range(4)]
    peer_backend.infer(frames[0])
    default_backend.infer(frames[0])
    peer_t, default_t = [], []
    for i in tqdm(range(args.peer_frames), desc="MODEST peer", unit="frame"):
        peer_t.append(peer_backend.infer(frames[i % 4]).timings)
        default_t.append(default_backend.infer(frames[i % 4]).timings)
    peer_row = summarise(f"modest-peer ({args.peer_preset}, modest fusion, 3 it, random)/onnxruntime", size, peer_t)
    default_row = summarise("default (same frames as peer)/onnxruntime", size, default_t)
    peer_row["params_M"] = sum(p.numel() for p in peer.parameters()) / 1e6
    default_row["params_M"] = sum(p.numel() for p in network.parameters()) / 1e6
    return [default_row, peer_row], peer_row["total"]["p50"] / default_row["total"]["p50"]


def run(args) -> dict:
    """Measure every candidate on every frame size; returns the results dict (rows, ratios)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    network, options, model_name = load_network(
        args.model, flip_average=True if args.flip_average else None, mask_input_size=args.mask_net_size
    )
    results: dict = {"environment": environment(args), "model": model_name, "rows": [], "ratios": {}}
    with tempfile.TemporaryDirectory(prefix="egsa_bench_") as workdir:
        groups = build_candidates(args, network, options, Path(workdir))
        for size in args.sizes:
            frames = [tabletop_frame(i, *size) for i in range(8)]
            for group in groups:
                rows = _measure_group(group, frames, size, args.frames)
                results["rows"].extend(rows)
                if rows[0]["candidate"] == "fused/onnxruntime":
                    results["ratios"][f"fused_ort_over_cv2canny_{size[0]}x{size[1]}"] = (
                        rows[0]["total"]["p50"] / rows[1]["total"]["p50"]
                    )
        if args.peer_frames > 0 and "onnxruntime" in args.backends:
            rows, ratio = _peer_rows(args, network, options)
            results["rows"].extend(rows)
            results["ratios"]["modest_peer_over_default"] = ratio
    results["canny_step"] = canny_step_costs(network.config, args.canny_repeats)
    return results


def print_report(results: dict) -> None:
    """The results as a markdown table, the Canny step and the ratios."""
    env = results["environment"]
    print(
        f"\nmodel: {results['model']}; torch {env['torch']}, onnxruntime {env['onnxruntime']}, "
        f"threads {env['threads']}, GPU {env['gpu'] or 'none'}, TensorRT {env['tensorrt'] or 'not installed'}"
    )
    print("| candidate | frame | preprocess p50 | inference p50 | postprocess p50 | total p50 | p90 | p99 | fps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(
            f"| {r['candidate']} | {r['frame_size'][1]}x{r['frame_size'][0]} | {r['preprocess']['p50']:.2f} | "
            f"{r['inference']['p50']:.1f} | {r['postprocess']['p50']:.2f} | {r['total']['p50']:.1f} | "
            f"{r['total']['p90']:.1f} | {r['total']['p99']:.1f} | {r['fps_p50']:.1f} |"
        )
    print("\nCanny step alone (ms, p50):")
    for r in results["canny_step"]:
        print(f"  {r['what']} at {r['size'][1]}x{r['size'][0]}: {r['ms']['p50']:.2f}")
    print("\nratios (same run):")
    for key, value in results["ratios"].items():
        print(f"  {key}: {value:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egsa-bench", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="checkpoint directory or preset (default: the bundled model)")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="measure the model with mirrored test-time averaging (InferenceOptions.flip_average)",
    )
    parser.add_argument(
        "--mask-net-size",
        type=parse_size,
        help="measure the model with its mask from a second pass at this HxW (mask_input_size)",
    )
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(480, 640)], help="frame sizes HxW")
    parser.add_argument(
        "--net-sizes",
        type=parse_size,
        nargs="+",
        default=[],
        help="also measure the fused ONNX Runtime graph with the network at these HxW (multiples of the "
        "encoder stride; interleaved with the trained size): what a larger network input would cost",
    )
    parser.add_argument("--frames", type=int, default=200, help="frames per size and candidate")
    parser.add_argument("--peer-frames", type=int, default=10, help="frames for the MODEST peer (0: skip)")
    parser.add_argument(
        "--peer-preset", default="paper_vitb", help="architecture of the MODEST peer (paper_vitb: ViT-B/16 at 384x384)"
    )
    parser.add_argument("--canny-repeats", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (ORT intra-op, torch)")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["onnxruntime", "torch", "cuda"],
        choices=["onnxruntime", "torch", "cuda"],
        help="groups to measure: onnxruntime (fused graph and the cv2-Canny deployment), torch "
        "(CPU), cuda (torch CUDA fp16 + CUDA graphs, only when a GPU is present)",
    )
    parser.add_argument("--engine", help="a TensorRT engine to include (needs CUDA + TensorRT)")
    parser.add_argument(
        "--out", type=output_file, default="out/bench/latency.json", help="JSON output (PNG next to it)"
    )
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be >= 1")
    try:
        results = run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"egsa-bench: error: {exc}", file=sys.stderr)
        return 2
    print_report(results)
    args.out.write_text(json.dumps(results, indent=2))
    png = plot_latency(results, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
