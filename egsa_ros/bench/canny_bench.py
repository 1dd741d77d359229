"""Benchmark of the tensor-op Canny (egsa_ros.edges.RGBCanny) against cv2.Canny.

For every number of hysteresis rounds N it reports, over the fixed 480x640 image set of
:mod:`egsa_ros.bench.canny_images`: mean and min IoU of the edge maps against
``cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 0), low, high)``, how many images match
bit for bit, and the mean latency per frame (batch 1) in torch (eager, CPU) and in ONNX
Runtime (CPU, the graph exported at opset 17), with cv2 (grey + blur + Canny) as a
reference. Run::

    python -m egsa_ros.bench.canny_bench --rounds 0 16 32 64 128 --threads 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch

from egsa_ros.bench.canny_images import test_images
from egsa_ros.cli_helpers import output_file
from egsa_ros.edges import RGBCanny

try:
    from tqdm import tqdm
except ImportError:  # tqdm is optional: plain iteration without a progress bar

    def tqdm(iterable, **_kwargs):
        return iterable


def opencv_canny(rgb: np.ndarray, low: float, high: float, blur: bool = True) -> np.ndarray:
    """Reference edges of an HxWx3 uint8 RGB image as an HxW bool array."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if blur:
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
    return cv2.Canny(grey, low, high) > 0


def edge_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool edge maps (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def mean_ms(fn: Callable[[int], object], n_inputs: int, repeats: int, warmup: int = 2) -> float:
    """Mean wall time in ms of ``fn(i)``, cycling i over ``n_inputs``, after a warm-up."""
    for i in range(warmup):
        fn(i % n_inputs)
    start = time.perf_counter()
    for i in range(repeats):
        fn(i % n_inputs)
    return (time.perf_counter() - start) * 1e3 / repeats


def _export_onnx(module: torch.nn.Module, example: torch.Tensor, path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), path, dynamo=False, opset_version=17, input_names=["rgb"], output_names=["edges"]
        )


def run_benchmark(
    rounds: Sequence[int],
    threads: int = 2,
    repeats: int = 10,
    low: float = 50.0,
    high: float = 150.0,
    blur: bool = True,
    use_onnxruntime: bool = True,
    size: tuple[int, int] | None = None,
) -> dict:
    """Run the benchmark and return a JSON-serialisable dict (``rows``: one per N).

    ``size`` (H, W): resize the test images (INTER_AREA) first, e.g. to a network size.
    """
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    images = test_images()
    if size is not None:
        images = [(name, cv2.resize(im, (size[1], size[0]), interpolation=cv2.INTER_AREA)) for name, im in images]
    names = [name for name, _ in images]
    frames = [torch.from_numpy(im).permute(2, 0, 1)[None].float().contiguous() for _, im in images]
    refs = [opencv_canny(im, low, high, blur) for _, im in images]

    ort = None
    if use_onnxruntime:
        try:
            import onnxruntime as ort  # noqa: PLC0415 - optional: timings are skipped without it
        except ImportError:
            print("note: onnxruntime not importable, ONNX Runtime timings skipped", file=sys.stderr)

    cv_ms = mean_ms(lambda i: opencv_canny(images[i][1], low, high, blur), len(images), repeats)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in tqdm(list(rounds), desc="rounds", unit="N"):
            module = RGBCanny(low=low, high=high, hysteresis_rounds=n, blur=blur).eval()
            with torch.no_grad():
                edges = [module(x)[0, 0].numpy() > 0.5 for x in frames]
                torch_ms = mean_ms(lambda i, module=module: module(frames[i]), len(frames), repeats)
            ious = [edge_iou(e, r) for e, r in zip(edges, refs)]
            row = {
                "rounds": n,
                "iou_mean": float(np.mean(ious)),
                "iou_min": float(np.min(ious)),
                "iou_min_image": names[int(np.argmin(ious))],
                "bit_exact_images": int(sum(np.array_equal(e, r) for e, r in zip(edges, refs))),
                "torch_ms": torch_ms,
                "ort_ms": None,
                "ort_equals_torch": None,
                "cv2_ms": cv_ms,
                "per_image_iou": dict(zip(names, ious)),
            }
            if ort is not None:
                path = os.path.join(tmp, f"rgb_canny_{n}.onnx")
                _export_onnx(module, frames[0], path)
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                feeds = [{"rgb": x.numpy()} for x in frames]
                ort_edges = [session.run(None, f)[0][0, 0] > 0.5 for f in feeds]
                row["ort_equals_torch"] = all(np.array_equal(a, b) for a, b in zip(ort_edges, edges))
                row["ort_ms"] = mean_ms(lambda i, s=session, f=feeds: s.run(None, f[i]), len(feeds), repeats)
            rows.append(row)
    return {
        "images": names,
        "image_size": list(images[0][1].shape[:2]),
        "threads": threads,
        "repeats": repeats,
        "low": low,
        "high": high,
        "blur": blur,
        "torch_version": torch.__version__,
        "opencv_version": cv2.__version__,
        "rows": rows,
    }


def format_markdown(result: dict) -> str:
    """Markdown table of :func:`run_benchmark`'s result."""
    h, w = result["image_size"]
    n_img = len(result["images"])
    lines = [
        f"RGBCanny vs cv2.Canny (blur={result['blur']}, thresholds {result['low']:g}/{result['high']:g}), "
        f"{n_img} images {h}x{w}, {result['threads']} threads, ms per frame (batch 1, mean of "
        f"{result['repeats']})",
        "",
        "| rounds N | mean IoU | min IoU (image) | bit-exact | torch ms | ORT ms | ORT == torch | cv2 ms |",
        "|---:|---:|---|---:|---:|---:|:---:|---:|",
    ]
    for r in result["rows"]:
        ort_ms = "-" if r["ort_ms"] is None else f"{r['ort_ms']:.1f}"
        same = "-" if r["ort_equals_torch"] is None else ("yes" if r["ort_equals_torch"] else "NO")
        lines.append(
            f"| {r['rounds']} | {r['iou_mean']:.4f} | {r['iou_min']:.4f} ({r['iou_min_image']}) | "
            f"{r['bit_exact_images']}/{n_img} | {r['torch_ms']:.1f} | {ort_ms} | {same} | "
            f"{r['cv2_ms']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, nargs="+", default=[0, 16, 32, 64, 128, 256], help="hysteresis rounds N to benchmark"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch, ORT, cv2)")
    parser.add_argument("--repeats", type=int, default=10, help="timed frames per measurement")
    parser.add_argument("--low", type=float, default=50.0)
    parser.add_argument("--high", type=float, default=150.0)
    parser.add_argument("--no-blur", action="store_true", help="Canny without the 5x5 blur")
    parser.add_argument("--no-onnxruntime", action="store_true", help="skip ONNX Runtime")
    parser.add_argument("--size", help="resize the images to HxW first (e.g. 192x256, a network size)")
    parser.add_argument("--json", type=output_file, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    result = run_benchmark(
        args.rounds,
        threads=args.threads,
        repeats=args.repeats,
        low=args.low,
        high=args.high,
        blur=not args.no_blur,
        use_onnxruntime=not args.no_onnxruntime,
        size=size,
    )
    print(format_markdown(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
