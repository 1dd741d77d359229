"""``egsa-synth --jobs N``: render one shard with N worker processes at once.

Why processes: Mitsuba's LLVM variant compiles a new path-tracing kernel for every scene
(each frame has other meshes and materials; Dr.Jit logs one ~2 s kernel build per frame at
256x192 / 32 spp, measured on a busy 2-core host), and one process leaves cores idle while it
compiles. Measured gain: 1.1x the frames per hour with 2 jobs on a 2-vCPU host
(docs/benchmarks.md); not measured on larger machines.

Each worker is a plain ``egsa-synth`` child process rendering a sub-shard; a frame depends
only on the seed and its index, so the output is the same as a one-process render
(byte-identical with ``scalar_rgb``; ``llvm_ad_rgb`` itself differs from run to run by 1 in a
handful of RGB pixels, with or without workers), and resuming works as before.

Sub-shards: shard ``i/n`` split over ``N`` jobs is the shards ``(i + n*(j-1)) / (n*N)`` for
j = 1..N, which together hold exactly the indices i-1, i-1+n, ... of shard ``i/n``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from egsa_ros.data.synth.render import frame_complete, frame_id


def sub_shards(shard: tuple[int, int], jobs: int) -> list[tuple[int, int]]:
    """The ``jobs`` shards (k, m) that together cover exactly ``shard`` (i, n)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    i, n = shard
    return [(i + n * (j - 1), n * jobs) for j in range(1, jobs + 1)]


def worker_argv(args, variant: str, shard: tuple[int, int]) -> list[str]:
    """The ``egsa-synth`` command line of one worker: ``args``' scene settings, no bag, no bar.

    Built from the parsed options (not by editing the parent's argv) so that every spelling
    of an option reaches the worker the same way; ``variant`` is the parent's resolved one,
    so all workers render with the same Mitsuba variant.
    """
    argv = [
        sys.executable,
        "-m",
        "egsa_ros.data.synth.cli",
        "--out",
        str(args.out),
        "--split",
        args.split,
        "--frames",
        str(args.frames),
        "--seed",
        str(args.seed),
        "--width",
        str(args.width),
        "--height",
        str(args.height),
        "--spp",
        str(args.spp),
        "--variant",
        variant,
        "--shard",
        f"{shard[0]}/{shard[1]}",
        "--no-progress",
    ]
    if args.glass_shapes is not None:
        argv += ["--glass-shapes", ",".join(args.glass_shapes)]
    if args.ior is not None:
        argv += ["--ior", f"{args.ior[0]!r},{args.ior[1]!r}"]
    if args.glass_count is not None:
        argv += ["--glass-count", f"{args.glass_count[0]},{args.glass_count[1]}"]
    if getattr(args, "generator", "v1") != "v1":
        argv += ["--generator", args.generator, "--split-family", args.split_family]
        if getattr(args, "hfov_range", None) is not None:
            argv += ["--hfov-range", f"{args.hfov_range[0]!r},{args.hfov_range[1]!r}"]
    return argv


def render_with_workers(
    args, variant: str, split_dir: Path, indices: list[int], progress: bool = True, poll_s: float = 1.0
) -> int:
    """Render ``indices`` of ``args.shard`` with ``args.jobs`` worker processes; wait for all.

    A progress bar counts complete frames on disk (polled every ``poll_s`` seconds). If a
    worker fails, the others are stopped and the failing worker's command is reported.
    Returns 0 on success, 1 if a worker failed (its stderr went to ours).
    """

    pending = [i for i in indices if not frame_complete(split_dir / frame_id(i))]
    workers = [
        subprocess.Popen(worker_argv(args, variant, s), stdout=subprocess.DEVNULL)
        for s in sub_shards(args.shard, args.jobs)
    ]
    bar = tqdm(
        total=len(indices),
        initial=len(indices) - len(pending),
        unit="frame",
        desc=f"{args.split} {args.shard[0]}/{args.shard[1]} x{args.jobs} jobs",
        disable=not progress,
    )
    failed = None
    try:
        while True:
            finished = [w.poll() is not None for w in workers]
            failed = next((w for w in workers if w.returncode not in (None, 0)), None)
            still = [i for i in pending if not frame_complete(split_dir / frame_id(i))]
            bar.update(len(pending) - len(still))
            pending = still
            if failed is not None or all(finished):
                break
            time.sleep(poll_s)
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            w.wait()
        bar.close()
    if failed is not None:
        print(f"egsa-synth: worker failed with exit code {failed.returncode}: {' '.join(failed.args)}", file=sys.stderr)
        return 1
    return 0
