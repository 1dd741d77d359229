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
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..runtime.prediction import STAGES, Prediction, stage_timings

Size = Tuple[int, int]


def percentiles(values: Sequence[float]) -> Dict[str, float]:
    """p50/p90/p99 and mean of a list of milliseconds."""
    arr = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90)),
            "p99": float(np.percentile(arr, 99)), "mean": float(arr.mean())}


def summarise(name: str, size: Size, timings: List[Dict[str, float]]) -> Dict:
    """One result row: per-stage percentiles and fps at the median total."""
    row = {"candidate": name, "frame_size": list(size), "frames": len(timings)}
    for stage in STAGES:
        row[stage] = percentiles([t[stage] for t in timings])
    row["fps_p50"] = 1000.0 / row["total"]["p50"]
    return row


class Cv2CannyPipeline:
    """cv2 resize + cv2.Canny on the CPU, the network in ONNX Runtime with edges as an input.

    The network graph has inputs ``rgb`` (1, 3, h, w) float 0..255 and ``edges`` (1, 1, h, w)
    {0, 1}; Canny thresholds and blur are the network config's, so the edges equal the
    in-graph ones once hysteresis converges.
    """

    def __init__(self, network: torch.nn.Module, workdir: Path, threads: Optional[int]) -> None:
        import onnxruntime as ort

        self.network = network.eval()
        self.config = network.config
        h, w = self.config.input_size
        path = Path(workdir) / "net_external_edges.onnx"

        class WithEdges(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, rgb, edges):
                return self.net(rgb, rgb_edges=edges)

        from ..export.onnx_export import quiet_tracing

        with torch.no_grad(), quiet_tracing():
            torch.onnx.export(WithEdges(self.network).eval(), (torch.zeros(1, 3, h, w), torch.zeros(1, 1, h, w)),
                              str(path), dynamo=False, opset_version=17, input_names=["rgb", "edges"],
                              output_names=["depth", "seg_logits"])
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = "cv2-canny/onnxruntime-cpu"

    def __call__(self, rgb: np.ndarray) -> Prediction:
        import cv2

        from ..data.transforms import resize_rgb, to_network_input

        cfg = self.config
        t0 = time.perf_counter()
        small = resize_rgb(rgb, cfg.input_size)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if cfg.canny_blur:
            grey = cv2.GaussianBlur(grey, (5, 5), 0)
        edges = (cv2.Canny(grey, cfg.canny_low, cfg.canny_high) > 0).astype(np.float32)[None, None]
        net_in = to_network_input(small)
        t1 = time.perf_counter()
        depth, logits = self.session.run(["depth", "seg_logits"], {"rgb": net_in, "edges": edges})
        t2 = time.perf_counter()
        height, width = rgb.shape[:2]
        mask = (logits[0].argmax(0) == cfg.transparent_class).astype(np.uint8)
        depth = cv2.resize(depth[0, 0], (width, height), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        t3 = time.perf_counter()
        return Prediction(depth, mask, stage_timings(t0, t1, t2, t3))


def canny_step_costs(config, repeats: int, threads: Optional[int]) -> List[Dict]:
    """In-graph Canny vs cv2.Canny at the network size, on each device available."""
    import cv2

    from ..data.generated import tabletop_frame
    from ..edges import RGBCanny

    h, w = config.input_size
    rgb = tabletop_frame(1, h, w)
    canny = RGBCanny(config.canny_low, config.canny_high, config.hysteresis_rounds, config.canny_blur).eval()
    rows = []

    def cv2_canny():
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 0) if config.canny_blur else grey
        return cv2.Canny(grey, config.canny_low, config.canny_high)

    rows.append({"what": "cv2.Canny (grey+blur+Canny, CPU)", "ms": _time(cv2_canny, repeats)})
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        rows.append({"what": f"in-graph Canny, torch CPU ({config.hysteresis_rounds} rounds)",
                     "ms": _time(lambda: canny(x), repeats)})
    if torch.cuda.is_available():
        gpu_canny, xg = canny.cuda(), x.cuda()

        def on_gpu():
            with torch.inference_mode():
                gpu_canny(xg)
            torch.cuda.synchronize()

        def cv2_and_upload():
            torch.from_numpy(cv2_canny()).cuda()
            torch.cuda.synchronize()

        rows.append({"what": "in-graph Canny, torch CUDA fp32", "ms": _time(on_gpu, repeats)})
        rows.append({"what": "cv2.Canny (CPU) + upload to GPU", "ms": _time(cv2_and_upload, repeats)})
    for row in rows:
        row["size"] = [h, w]
    return rows


def _time(fn: Callable, repeats: int) -> Dict[str, float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return percentiles(times)


def build_candidates(args, network, workdir: Path) -> List[List[Tuple[str, Callable]]]:
    """Groups of (name, callable frame -> Prediction) for every backend available here.

    Candidates are interleaved within a group only. torch's OpenMP worker threads keep
    spinning for a while after each call and slow down whatever runs next on the same
    cores, so torch CPU is its own group, measured after the ONNX Runtime group.
    """
    import copy

    from ..runtime.backends import OnnxRuntimeBackend, TorchBackend

    groups = []
    if "onnxruntime" in args.backends:
        groups.append([("fused/onnxruntime", OnnxRuntimeBackend(network, threads=args.threads).infer),
                       ("cv2-canny/onnxruntime", Cv2CannyPipeline(network, workdir, args.threads))])
    gpu = []
    if "cuda" in args.backends and torch.cuda.is_available():
        gpu.append(("fused/torch-cuda-fp16-cudagraph",
                    TorchBackend(copy.deepcopy(network), device="cuda", fp16=True, cuda_graphs=True).infer))
    if args.engine:
        from ..runtime.tensorrt_backend import TensorRTBackend

        gpu.append((f"fused/tensorrt ({Path(args.engine).name})", TensorRTBackend(args.engine).infer))
    if gpu:
        groups.append(gpu)
    if "torch" in args.backends:
        groups.append([("fused/torch-cpu", TorchBackend(copy.deepcopy(network), threads=args.threads).infer)])
    if not groups:
        raise ValueError(f"nothing to measure: backends {args.backends} on a machine "
                         f"{'with' if torch.cuda.is_available() else 'without'} CUDA and no --engine")
    return groups


def _measure_group(group: List[Tuple[str, Callable]], frames: List[np.ndarray], size: Size, count: int) -> List[Dict]:
    """Warm up, then run ``count`` frames through every candidate of ``group``, interleaved."""
    from tqdm import tqdm

    for _, fn in group:
        for frame in frames[:3]:
            fn(frame)  # warm-up (and graph preparation for this size)
    timings: List[List[Dict[str, float]]] = [[] for _ in group]
    names = ", ".join(name for name, _ in group)
    for i in tqdm(range(count), desc=f"{size[1]}x{size[0]} {names}", unit="frame"):
        for j, (_, fn) in enumerate(group):
            timings[j].append(fn(frames[i % len(frames)]).timings)
    return [summarise(name, size, t) for (name, _), t in zip(group, timings)]


def environment(args) -> Dict:
    import cv2
    import onnxruntime as ort

    env = {"python": platform.python_version(), "torch": torch.__version__, "onnxruntime": ort.__version__,
           "opencv": cv2.__version__, "cpu": platform.processor() or platform.machine(),
           "cpu_count": __import__("os").cpu_count(), "threads": args.threads,
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
           "command": "egsa-bench " + " ".join(sys.argv[1:])}
    try:
        import tensorrt

        env["tensorrt"] = tensorrt.__version__
    except ImportError:
        env["tensorrt"] = None
    return env


def run(args) -> Dict:
    from tqdm import tqdm

    from ..data.generated import tabletop_frame
    from ..model import build_model, get_preset
    from ..runtime.backends import OnnxRuntimeBackend
    from ..runtime.model_loading import load_network

    if args.threads:
        torch.set_num_threads(args.threads)
    network, model_name = load_network(args.model, flip_average=True if args.flip_average else None,
                                       mask_input_size=args.mask_net_size)
    results: Dict = {"environment": environment(args), "model": model_name, "rows": [], "ratios": {}}
    with tempfile.TemporaryDirectory(prefix="egsa_bench_") as workdir:
        groups = build_candidates(args, network, Path(workdir))
        for size in args.sizes:
            frames = [tabletop_frame(i, *size) for i in range(8)]
            for group in groups:
                rows = _measure_group(group, frames, size, args.frames)
                results["rows"].extend(rows)
                if rows[0]["candidate"] == "fused/onnxruntime":
                    results["ratios"][f"fused_ort_over_cv2canny_{size[0]}x{size[1]}"] = \
                        rows[0]["total"]["p50"] / rows[1]["total"]["p50"]

        if args.peer_frames > 0 and "onnxruntime" in args.backends:
            size = args.sizes[0]
            torch.manual_seed(0)
            peer = build_model(get_preset(args.peer_preset, fusion="modest", iterations=3)).eval()
            peer_backend = OnnxRuntimeBackend(peer, threads=args.threads)
            default_backend = OnnxRuntimeBackend(network, threads=args.threads)
            frames = [tabletop_frame(i, *size) for i in range(4)]
            peer_backend.infer(frames[0])
            default_backend.infer(frames[0])
            peer_t, default_t = [], []
            for i in tqdm(range(args.peer_frames), desc="MODEST peer", unit="frame"):
                peer_t.append(peer_backend.infer(frames[i % 4]).timings)
                default_t.append(default_backend.infer(frames[i % 4]).timings)
            peer_row = summarise(f"modest-peer ({args.peer_preset}, modest fusion, 3 it, random)/onnxruntime",
                                 size, peer_t)
            default_row = summarise("default (same frames as peer)/onnxruntime", size, default_t)
            peer_row["params_M"] = sum(p.numel() for p in peer.parameters()) / 1e6
            default_row["params_M"] = sum(p.numel() for p in network.parameters()) / 1e6
            results["rows"].extend([default_row, peer_row])
            results["ratios"]["modest_peer_over_default"] = peer_row["total"]["p50"] / default_row["total"]["p50"]
    results["canny_step"] = canny_step_costs(network.config, args.canny_repeats, args.threads)
    return results


def print_report(results: Dict) -> None:
    env = results["environment"]
    print(f"\nmodel: {results['model']}; torch {env['torch']}, onnxruntime {env['onnxruntime']}, "
          f"threads {env['threads']}, GPU {env['gpu'] or 'none'}, TensorRT {env['tensorrt'] or 'not installed'}")
    print("| candidate | frame | preprocess p50 | inference p50 | postprocess p50 | total p50 | p90 | p99 | fps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['candidate']} | {r['frame_size'][1]}x{r['frame_size'][0]} | {r['preprocess']['p50']:.2f} | "
              f"{r['inference']['p50']:.1f} | {r['postprocess']['p50']:.2f} | {r['total']['p50']:.1f} | "
              f"{r['total']['p90']:.1f} | {r['total']['p99']:.1f} | {r['fps_p50']:.1f} |")
    print("\nCanny step alone (ms, p50):")
    for r in results["canny_step"]:
        print(f"  {r['what']} at {r['size'][1]}x{r['size'][0]}: {r['ms']['p50']:.2f}")
    print("\nratios (same run):")
    for key, value in results["ratios"].items():
        print(f"  {key}: {value:.2f}")


def plot(results: Dict, out: Path) -> Path:
    """Stacked p50 stages per candidate and frame size, p99 ticks, the 33 ms line.

    Linear axis up to 4x the 30 Hz budget; slower rows (the ViT peer) are clipped and
    labelled with their total.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    labels = [f"{r['candidate']} @ {r['frame_size'][1]}x{r['frame_size'][0]}" for r in rows]
    limit = max(4 * 1000 / 30, min(max(r["total"]["p99"] for r in rows), 4 * 1000 / 30))
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(rows) + 1.6))
    left = np.zeros(len(rows))
    for stage in ("preprocess", "inference", "postprocess"):
        vals = np.array([r[stage]["p50"] for r in rows])
        ax.barh(labels, vals, left=left, label=f"{stage} p50")
        left += vals
    p99 = [min(r["total"]["p99"], limit) for r in rows]
    ax.scatter(p99, labels, marker="|", s=200, color="black", label="total p99", zorder=3)
    for y, r in enumerate(rows):
        clipped = r["total"]["p50"] > limit
        text = f"{r['total']['p50']:.1f} ms" + (" (clipped)" if clipped else "")
        ax.text(limit * 0.7 if clipped else r["total"]["p50"] + 1, y, text, va="center", fontsize=8,
                color="white" if clipped else "black")
    ax.axvline(1000 / 30, color="red", ls="--", lw=1, label="33 ms (30 Hz)")
    ax.set_xlim(0, limit)
    ax.set_xlabel("ms per frame (p50 stages stacked)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    env = results["environment"]
    ax.set_title(f"egsa-bench, frame -> depth + mask: {env['gpu'] or 'CPU only'}, {env['threads']} threads",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    from ..export.cli import parse_size

    parser = argparse.ArgumentParser(prog="egsa-bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory or preset (default: the bundled model)")
    parser.add_argument("--flip-average", action="store_true",
                        help="measure the model with mirrored test-time averaging (ModelConfig.flip_average)")
    parser.add_argument("--mask-net-size", type=parse_size,
                        help="measure the model with its mask from a second pass at this HxW (mask_input_size)")
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(480, 640)], help="frame sizes HxW")
    parser.add_argument("--frames", type=int, default=200, help="frames per size and candidate")
    parser.add_argument("--peer-frames", type=int, default=10, help="frames for the MODEST peer (0: skip)")
    parser.add_argument("--peer-preset", default="paper_vitb",
                        help="architecture of the MODEST peer (paper_vitb: ViT-B/16 at 384x384)")
    parser.add_argument("--canny-repeats", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (ORT intra-op, torch)")
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch", "cuda"],
                        choices=["onnxruntime", "torch", "cuda"],
                        help="groups to measure: onnxruntime (fused graph and the cv2-Canny deployment), torch "
                             "(CPU), cuda (torch CUDA fp16 + CUDA graphs, only when a GPU is present)")
    parser.add_argument("--engine", help="a TensorRT engine to include (needs CUDA + TensorRT)")
    parser.add_argument("--out", type=Path, default=Path("out/bench/latency.json"), help="JSON output (PNG next to it)")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be >= 1")
    try:
        results = run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"egsa-bench: error: {exc}", file=sys.stderr)
        return 2
    print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    png = plot(results, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
