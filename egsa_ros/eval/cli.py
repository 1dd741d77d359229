"""``egsa-eval``: replay a ROS 2 bag through the model and report accuracy and latency.

    egsa-eval                                  # the bundled sample bag, live through egsa_node
    egsa-eval my_robot_bag/ --offline          # any bag (sqlite3 or MCAP), pipeline only
    egsa-eval my_bag/ --image-topic /cam/color/image_raw --gt-depth-topic '' --gt-mask-topic ''
    egsa-eval data/synthetic/test --model runs/x/last   # a split rendered by egsa-synth (offline)

Live mode starts egsa_node as a separate process on a private loopback ROS domain, plays the
bag with its original timing and records the node's outputs: end-to-end latency (receive
time minus input stamp), dropped frames, metrics. Offline mode runs the pipeline directly;
it is the only mode for a folder of rendered frames (``egsa-synth --out ROOT --split S`` writes
``ROOT/S``), which scores a held-out split with the simulated depth camera and depth_completed.
Writes report.json, report.md, panel PNGs and a latency plot to --out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..cli_helpers import parse_size
from ..package_data import find_data, searched_locations
from ..runtime.pipeline import load_pipeline
from .bag_frames import BagError, EvalTopics, count_frames
from .live import evaluate_live
from .offline import evaluate_offline
from .report import coverage
from .split_frames import is_split_folder

SAMPLE_BAG = "egsa_sample"


def sample_bag_dir() -> Path | None:
    """The bundled sample bag: source tree, the ament share directory or ``<prefix>/share/egsa_ros``."""
    return find_data(f"data/{SAMPLE_BAG}", marker="metadata.yaml")


def summary(result: dict) -> str:
    parts = [f"{result['frames']} frames ({result['mode']}, {result.get('backend', '')})"]
    if "mask" in result:
        parts.append(f"transparent IoU {result['mask']['transparent_iou']:.3f}")
    if "depth_all" in result:
        d = result["depth_all"]
        parts.append(f"RMSE {d['rmse']:.3f} m, d<1.25 {d['delta_1.25']:.3f}")
    if "frame_scale" in result:
        scale = result["frame_scale"]
        parts.append(f"scale off > 25 % in {scale['failures']}/{scale['frames']} frames")
    if "depth_transparent_support_plane" in result:
        plane = result["depth_transparent_support_plane"]
        parts.append(
            f"with scale from the known camera height: d<1.25 "
            f"{result['depth_all_support_plane']['delta_1.25']:.3f}, glass d<1.05 {plane['delta_1.05']:.3f}"
        )
    if "depth_transparent" in result:
        parts.append(f"glass d<1.05 {result['depth_transparent']['delta_1.05']:.3f}")
    if "sensor_depth_transparent" in result and "depth_completed_transparent_sensor_valid" in result:
        sensor = result["sensor_depth_transparent"]
        parts.append(
            f"glass RMSE where the sensor has a value ({coverage(sensor):.0%} of glass): sensor "
            f"{sensor['rmse']:.3f} m -> completed "
            f"{result['depth_completed_transparent_sensor_valid']['rmse']:.3f} m; completed covers "
            f"{coverage(result['depth_completed_transparent']):.0%} of glass"
        )
    key = "latency_ms" if "latency_ms" in result else "inference_ms"
    if key in result:
        parts.append(
            f"{'end-to-end' if key == 'latency_ms' else 'pipeline'} latency p50 {result[key]['p50']:.1f} ms, "
            f"p99 {result[key]['p99']:.1f} ms"
        )
    if "dropped_frames" in result:
        parts.append(f"dropped {result['dropped_frames']}/{result['frames_played']}")
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egsa-eval",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "bag",
        nargs="?",
        type=Path,
        help="bag directory or .mcap/.db3, or a folder of frames rendered by egsa-synth (default: the sample bag)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", help="run the pipeline directly (default: live)")
    mode.add_argument("--live", action="store_true", help="through egsa_node in a live ROS 2 graph (default)")
    parser.add_argument("--model", help="checkpoint directory, .onnx or preset (default: the bundled model)")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "torch", "tensorrt"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="also run each mirrored frame and average (the node's flip_average; ~2x network time)",
    )
    parser.add_argument(
        "--mask-net-size",
        type=parse_size,
        help="take the mask from a second network pass at this HxW (the node's mask_input_size)",
    )
    parser.add_argument(
        "--no-canonical-view",
        action="store_true",
        help="skip the model's second look at frames from lenses outside its trained focal range "
        "(the node's canonical_view:=false)",
    )
    parser.add_argument(
        "--no-sensor-veto",
        action="store_true",
        help="the glass geometry keeps objects the depth camera reads as solid (the node's "
        "geometry_sensor_veto:=false)",
    )
    parser.add_argument("--rate", type=float, default=1.0, help="live playback speed factor")
    parser.add_argument("--limit", type=int, help="first N frames only")
    parser.add_argument("--panels", type=int, default=4, help="PNG panels to write")
    parser.add_argument("--out", type=Path, default=Path("out/eval"))
    parser.add_argument("--no-progress", action="store_true")
    defaults = EvalTopics()
    for name in ("image", "camera_info", "sensor_depth", "gt_depth", "gt_mask"):
        parser.add_argument(
            f"--{name.replace('_', '-')}-topic",
            default=getattr(defaults, name),
            help=f"default {getattr(defaults, name)} ('' to ignore)",
        )
    args = parser.parse_args(argv)

    bag = args.bag or sample_bag_dir()
    if bag is None:
        print(
            "egsa-eval: error: no bag given and the sample bag is not installed (looked in "
            f"{', '.join(searched_locations('data/' + SAMPLE_BAG))})",
            file=sys.stderr,
        )
        return 2
    topics = replace(
        defaults,
        **{
            n: getattr(args, f"{n}_topic") or "\0unused"
            for n in ("image", "camera_info", "sensor_depth", "gt_depth", "gt_mask")
        },
    )
    offline = args.offline
    if is_split_folder(bag):
        if args.live:
            parser.error(
                f"{bag} is a folder of rendered frames: live mode plays a bag (write one with "
                "egsa-synth --bag), use --offline"
            )
        offline = True
    try:
        if not is_split_folder(bag) and count_frames(bag, topics) == 0:  # unreadable bags fail here, cheaply
            raise BagError(f"bag {bag} has no messages on {topics.image}")
        if offline:
            pipeline = load_pipeline(
                args.model,
                backend=args.backend,
                threads=args.threads,
                frame_size=None,
                flip_average=True if args.flip_average else None,
                mask_input_size=args.mask_net_size,
                canonical_view=False if args.no_canonical_view else None,
            )
            result = evaluate_offline(
                bag,
                pipeline,
                args.out,
                topics=topics,
                panels=args.panels,
                limit=args.limit,
                progress=not args.no_progress,
                sensor_veto=not args.no_sensor_veto,
            )
        else:
            result = evaluate_live(
                bag,
                args.out,
                topics=topics,
                model=args.model,
                backend=args.backend,
                threads=args.threads,
                flip_average=args.flip_average,
                mask_input_size=args.mask_net_size,
                canonical_view=not args.no_canonical_view,
                sensor_veto=not args.no_sensor_veto,
                rate=args.rate,
                panels=args.panels,
                limit=args.limit,
                progress=not args.no_progress,
            )
    except (FileNotFoundError, BagError) as exc:  # the bag: one line
        print(f"egsa-eval: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as exc:
        print(f"egsa-eval: error: {exc}", file=sys.stderr)
        return 2
    print(f"egsa-eval: {summary(result)}")
    print(f"egsa-eval: report {result['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
