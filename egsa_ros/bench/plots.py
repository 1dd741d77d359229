"""Plots of the benchmark JSON files (what people would rather look at than read).

    python -m egsa_ros.bench.plots docs/bench

Reads ``canny_bench.json``, ``pipeline_sweep.json`` and ``model_bench.json`` where present
in the folder and writes ``canny_rounds.png``, ``pipeline_latency.png`` and
``preset_forward.png`` next to them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..viz import pyplot


def plot_canny(data: dict, out: Path) -> Path:
    """IoU against cv2.Canny and ONNX Runtime time, both against hysteresis rounds."""
    plt = pyplot()
    rows = data["rows"]
    rounds = [r["rounds"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(rounds, [r["iou_mean"] for r in rows], "o-", label="mean IoU")
    ax.plot(rounds, [r["iou_min"] for r in rows], "s--", label="worst image IoU")
    ax.axhline(0.99, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("hysteresis rounds N")
    ax.set_ylabel("IoU vs cv2.Canny")
    ax.set_ylim(0, 1.02)
    twin = ax.twinx()
    twin.plot(rounds, [r["ort_ms"] for r in rows], "^-", color="tab:red", label="ONNX Runtime ms")
    twin.plot(rounds, [r["torch_ms"] for r in rows], "v-", color="tab:orange", label="torch ms")
    twin.set_ylabel(f"ms per {data['image_size'][0]}x{data['image_size'][1]} frame ({data['threads']} threads)")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    ax.set_title("In-graph Canny: agreement and cost")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_pipeline(data: dict, out: Path) -> Path:
    """Stacked p50 latency per default_small candidate, with the 33 ms (30 Hz) budget."""
    plt = pyplot()
    rows = data["pipeline"]
    labels = [r["candidate"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    bottom = [0.0] * len(rows)
    for stage in ("preprocess", "inference", "postprocess"):
        vals = [r[f"{stage}_p50_ms"] for r in rows]
        ax.barh(labels, vals, left=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.scatter([r["total_p90_ms"] for r in rows], labels, marker="|", s=200, color="black", label="total p90")
    ax.axvline(1000 / 30, color="red", ls="--", lw=1, label="30 Hz")
    ax.set_xlabel(f"ms per 480x640 frame (ONNX Runtime CPU, {data['threads']} threads)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("default_small candidates: frame to depth + mask")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_presets(data: dict, out: Path) -> Path:
    """Forward time per preset and input size (log scale)."""
    plt = pyplot()
    rows = data["presets"]
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    sizes = list(dict.fromkeys(tuple(r["requested"]) for r in rows))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    width = 0.8 / max(len(sizes), 1)
    for j, size in enumerate(sizes):
        vals = [
            next((r["forward_ms_median"] for r in rows if r["preset"] == p and tuple(r["requested"]) == size), 0)
            for p in presets
        ]
        ax.bar([i + j * width for i in range(len(presets))], vals, width, label=f"~{size[0]}x{size[1]}")
    ax.set_xticks([i + width * (len(sizes) - 1) / 2 for i in range(len(presets))], presets)
    ax.set_yscale("log")
    ax.set_ylabel(f"torch CPU forward ms ({data['threads']} threads)")
    ax.legend(fontsize=8)
    ax.set_title("Presets: forward time")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_latency(results: dict, out: Path) -> Path:
    """Stacked p50 stages per candidate and frame size, p99 ticks, the 33 ms line.

    Linear axis up to 4x the 30 Hz budget; slower rows (the ViT peer) are clipped and
    labelled with their total.
    """
    plt = pyplot()
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
        ax.text(
            limit * 0.7 if clipped else r["total"]["p50"] + 1,
            y,
            text,
            va="center",
            fontsize=8,
            color="white" if clipped else "black",
        )
    ax.axvline(1000 / 30, color="red", ls="--", lw=1, label="33 ms (30 Hz)")
    ax.set_xlim(0, limit)
    ax.set_xlabel("ms per frame (p50 stages stacked)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    env = results["environment"]
    ax.set_title(
        f"egsa-bench, frame -> depth + mask: {env['gpu'] or 'CPU only'}, {env['threads']} threads", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0] if argv else "docs/bench")
    written: list[Path] = []
    jobs = (
        ("canny_bench.json", plot_canny, "canny_rounds.png"),
        ("pipeline_sweep.json", plot_pipeline, "pipeline_latency.png"),
        ("model_bench.json", plot_presets, "preset_forward.png"),
    )
    for name, fn, png in jobs:
        src = folder / name
        if src.is_file():
            written.append(fn(json.loads(src.read_text()), folder / png))
    if not written:
        print(f"no benchmark JSON files in {folder}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
