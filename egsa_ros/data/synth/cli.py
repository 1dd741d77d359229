"""``egsa-synth``: render a split of glassware frames with Mitsuba 3.

Deterministic (a frame depends only on ``--seed`` and its index), shardable
(``--shard i/n`` renders indices i-1, i-1+n, ...), resumable (frames whose ``meta.json``
is complete are skipped; ``meta.json`` is written last, atomically), and parallel
(``--jobs N`` renders with N worker processes; 1.1x the frames per hour with 2 on a
2-core host, see ``parallel.py``).

Example::

    egsa-synth --out data/synth --split train --frames 1000 --seed 0 --shard 1/4 --jobs 2
    egsa-synth --out data/v2 --split ood --frames 64 --seed 7200 --generator v2 --split-family ood
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from tqdm import tqdm

from egsa_ros.data.synth.bag import bag_directory, write_bag
from egsa_ros.data.synth.families import SPLIT_FAMILIES
from egsa_ros.data.synth.parallel import render_with_workers
from egsa_ros.data.synth.render import frame_complete, frame_id, render_frame
from egsa_ros.data.synth.scene import DEFAULT_PROFILE, GLASS_SHAPES, SceneProfile, sample_scene
from egsa_ros.data.synth.scene_v2 import sample_scene_v2, v2_profile
from egsa_ros.data.synth.variant import VARIANTS, resolve_variant, set_variant


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> (i, n); raises ``argparse.ArgumentTypeError`` otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise argparse.ArgumentTypeError(f"--shard must look like i/n (e.g. 1/4), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"--shard i/n needs 1 <= i <= n, got {text!r}")
    return i, n


def shard_indices(frames: int, shard: tuple[int, int] = (1, 1)) -> list[int]:
    """Frame indices of ``shard`` (i, n): i-1, i-1+n, ... below ``frames``."""
    i, n = shard
    return list(range(i - 1, frames, n))


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _non_negative(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _shape_list(text: str) -> tuple:

    shapes = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(set(shapes) - set(GLASS_SHAPES))
    if not shapes or unknown:
        raise argparse.ArgumentTypeError(f"unknown glass shapes {unknown}; choose from {', '.join(GLASS_SHAPES)}")
    return shapes


def _pair(text: str, kind):
    try:
        low, high = (kind(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    return low, high


def _float_pair(text: str) -> tuple:
    return _pair(text, float)


def _int_pair(text: str) -> tuple:
    return _pair(text, int)


def scene_profile(args):
    """The SceneProfile of the command line (the default one when no option is given).

    With ``--generator v2`` this is the v2 profile dict of ``--split-family`` instead.
    """

    if args.generator == "v2":
        return V2Profile(v2_profile(args.split_family, args.hfov_range))

    options = {
        k: v
        for k, v in (("glass_shapes", args.glass_shapes), ("ior_range", args.ior), ("glass_count", args.glass_count))
        if v is not None
    }
    return SceneProfile(**options) if options else DEFAULT_PROFILE


class V2Profile(dict):
    """A v2 scene profile (a plain dict) with the ``to_dict`` the resume check calls."""

    def to_dict(self) -> dict:
        return dict(self)


def resume_conflicts(split_dir: Path, expected: dict) -> list:
    """Differences between ``expected`` settings and the frames already complete in ``split_dir``.

    Resuming a split with another seed, size, spp, Mitsuba variant or scene profile would mix
    two distributions in one split without a trace; each returned string names one setting,
    e.g. ``"variant: frames on disk have 'scalar_rgb', this run 'llvm_ad_rgb'"``. Checks the
    first and the last complete frame (sorted by name); [] when the split is new.
    """

    done = sorted(d for d in split_dir.iterdir() if frame_complete(d)) if split_dir.is_dir() else []
    problems = {}
    for frame_dir in dict.fromkeys(done[:1] + done[-1:]):
        meta = json.loads((frame_dir / "meta.json").read_text())
        for key, want in expected.items():
            have = meta.get(key)
            if have != want and key not in problems:
                problems[key] = f"{key}: frames on disk ({frame_dir.name}) have {have!r}, this run {want!r}"
    return list(problems.values())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="egsa-synth", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, type=Path, help="output root; frames go to OUT/SPLIT/NNNNNN/")
    p.add_argument("--split", default="train", help="split name (sub-directory), default train")
    p.add_argument("--frames", required=True, type=_non_negative, help="total frames in the split")
    p.add_argument("--seed", default=0, type=_non_negative, help="run seed (frame = f(seed, index))")
    p.add_argument("--width", default=320, type=_positive, help="image width, pixels")
    p.add_argument("--height", default=240, type=_positive, help="image height, pixels")
    p.add_argument("--spp", default=32, type=_positive, help="samples per pixel")
    p.add_argument("--shard", default=(1, 1), type=parse_shard, help="i/n: render every n-th frame from i-1")
    p.add_argument(
        "--variant",
        default="auto",
        choices=VARIANTS,
        help="Mitsuba variant; auto = llvm_ad_rgb if it works here, else scalar_rgb; cuda_ad_rgb renders on "
        "an NVIDIA GPU (on request only)",
    )
    p.add_argument(
        "--glass-shapes",
        type=_shape_list,
        default=None,
        help="comma-separated subset of the glass shapes to draw (held-out sets), default all",
    )
    p.add_argument(
        "--ior",
        type=_float_pair,
        default=None,
        metavar="LOW,HIGH",
        help="refractive-index range of the glass, default 1.33,1.6",
    )
    p.add_argument(
        "--glass-count", type=_int_pair, default=None, metavar="MIN,MAX", help="glass objects per frame, default 1,4"
    )
    p.add_argument(
        "--generator",
        default="v1",
        choices=("v1", "v2"),
        help="scene generator: v1 (default, the bundled model's distribution) or v2 (diverse: "
        "18 glass families, liquids, look-alikes, rooms, lights, wide cameras)",
    )
    p.add_argument(
        "--split-family",
        default=None,
        choices=SPLIT_FAMILIES,
        help="v2 only: train (default) draws the training distribution; ood draws only the "
        "held-out glass families, table materials and room/light; train_tables is train with "
        "more table materials and photo tables from photo set 2; train_lights is train lit by 2-3 "
        "hard spot/point lights; ood_glass, ood_tables, ood_room, ood_corner, ood_warm and "
        "ood_spots (diagnostics, never for training) hold out one of ood's factors each (see families.py)",
    )
    p.add_argument(
        "--hfov-range",
        type=_float_pair,
        default=None,
        metavar="LO,HI",
        help="v2 only: horizontal field of view range in degrees (default 40,90), e.g. 95,110 for "
        "a camera family training never saw; the scenes are otherwise those of the same seed",
    )
    p.add_argument(
        "--bag",
        type=Path,
        default=None,
        help="also write this shard's frames to a ROS 2 bag with MCAP storage "
        "(out.mcap -> directory out/ with out.mcap + metadata.yaml; needs rosbags)",
    )
    p.add_argument("--bag-zstd", action="store_true", help="compress the bag's messages with zstd (~2x smaller)")
    p.add_argument(
        "--jobs",
        default=1,
        type=_positive,
        help="worker processes rendering this shard at once (default 1; 2 gave 1.1x "
        "the frames per hour on a 2-core host, docs/benchmarks.md)",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bag is not None:
        try:
            import rosbags  # noqa: F401, PLC0415 - only to tell whether bags can be written
        except ImportError:
            parser.error("--bag needs the rosbags package (pip install rosbags==0.11.9)")
        if bag_directory(args.bag).exists():
            parser.error(f"--bag: {bag_directory(args.bag)} exists already; remove it or pick another path")

    if args.generator == "v1" and args.split_family is not None:
        parser.error("--split-family needs --generator v2")
    if args.generator == "v1" and args.hfov_range is not None:
        parser.error("--hfov-range needs --generator v2")
    if args.hfov_range is not None and not 1.0 <= args.hfov_range[0] <= args.hfov_range[1] < 179.0:
        parser.error(f"--hfov-range must be LO,HI with 1 <= LO <= HI < 179 degrees, got {args.hfov_range}")
    if args.generator == "v2":
        args.split_family = args.split_family or "train"
        given = [
            o
            for o, v in (
                ("--glass-shapes", args.glass_shapes),
                ("--ior", args.ior),
                ("--glass-count", args.glass_count),
            )
            if v is not None
        ]
        if given:
            parser.error(f"{', '.join(given)}: v1 options; --generator v2 uses --split-family instead")
    try:
        profile = scene_profile(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        variant = resolve_variant(args.variant)
    except ValueError as exc:
        parser.error(str(exc))
    split_dir = args.out / args.split
    conflicts = resume_conflicts(
        split_dir,
        {
            "seed": args.seed,
            "width": args.width,
            "height": args.height,
            "spp": args.spp,
            "variant": variant,
            "scene_profile": profile.to_dict(),
        },
    )
    if conflicts:
        parser.error(
            f"{split_dir} holds frames rendered with other settings; resume with the same "
            "options (--variant too) or use a new --split / --out:\n  " + "\n  ".join(conflicts)
        )
    set_variant(variant)
    print(f"egsa-synth: Mitsuba variant {variant}", file=sys.stderr)
    if args.variant == "auto" and variant == "scalar_rgb":
        print(
            "egsa-synth: warning: no usable LLVM >= 16 found, so the slower scalar_rgb renders these "
            "frames; its pixels differ slightly from llvm_ad_rgb's, which the bundled model card's "
            "splits used (Debian: apt-get install libllvm19)",
            file=sys.stderr,
        )
    indices = shard_indices(args.frames, args.shard)
    if args.jobs > 1:
        before = sum(frame_complete(split_dir / frame_id(i)) for i in indices)
        t0 = time.perf_counter()
        if render_with_workers(args, variant, split_dir, indices, progress=not args.no_progress):
            return 1
        seconds = time.perf_counter() - t0
        rendered = sum(frame_complete(split_dir / frame_id(i)) for i in indices) - before
        skipped = before
    else:
        rendered, skipped, seconds = _render_in_process(args, split_dir, indices, profile)
    if args.bag is not None:
        done = [split_dir / frame_id(i) for i in indices if frame_complete(split_dir / frame_id(i))]
        print(f"egsa-synth: wrote {len(done)} frames to bag {write_bag(done, args.bag, compress=args.bag_zstd)}")
    per = seconds / rendered if rendered else float("nan")
    wall = f" wall clock with {args.jobs} jobs" if args.jobs > 1 else ""
    print(
        f"egsa-synth: {rendered} rendered, {skipped} skipped (already complete), "
        f"{per:.2f} s/frame{wall} at {args.width}x{args.height}, {args.spp} spp, {variant}"
    )
    return 0


def _render_in_process(args, split_dir: Path, indices: list, profile) -> tuple:
    """Render the missing frames of ``indices`` here; (rendered, skipped, render seconds)."""

    rendered = skipped = 0
    seconds = 0.0
    for index in tqdm(
        indices, desc=f"{args.split} {args.shard[0]}/{args.shard[1]}", unit="frame", disable=args.no_progress
    ):
        frame_dir = split_dir / frame_id(index)
        if frame_complete(frame_dir):
            skipped += 1
            continue
        t0 = time.perf_counter()
        if args.generator == "v2":
            spec = sample_scene_v2(args.seed, index, args.width, args.height, args.split_family, args.hfov_range)
        else:
            spec = sample_scene(args.seed, index, args.width, args.height, profile)
        render_frame(spec, frame_dir, spp=args.spp, split=args.split)
        seconds += time.perf_counter() - t0
        rendered += 1
    return rendered, skipped, seconds


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
