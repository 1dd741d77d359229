"""``egsa-train --config FILE_OR_NAME [key=value ...] [--resume]``.

Examples::

    egsa-train --config default_small data.root=/data/synth optim.epochs=2
    egsa-train --config paper_syntodd data.root=/data/syntodd model.overrides.fusion=sa
    torchrun --nproc_per_node 4 -m egsa_ros.train.cli --config paper_syntodd data.root=...
    egsa-train --config default_small out_dir=runs/x --resume     # continue from runs/x/last
"""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from ..model.checkpoint_info import is_checkpoint_dir
from .config import load_train_config, shipped_configs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egsa-train",
        description="Train an EGSA depth + transparent-mask network.",
        epilog=f"shipped configs: {', '.join(shipped_configs())}",
    )
    parser.add_argument(
        "--config", default="default_small", help="a shipped config name or a YAML path (default: default_small)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from <out_dir>/last")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="dotted overrides, values parsed as YAML (optim.epochs=2)"
    )
    args = parser.parse_args(argv)
    try:
        cfg = load_train_config(args.config, args.overrides)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    if args.resume and not is_checkpoint_dir(os.path.join(cfg.out_dir, "last")):
        parser.error(
            f"--resume: nothing to continue in {cfg.out_dir} (no last/checkpoint.json: no epoch finished); "
            "run again without --resume"
        )
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        print(yaml.safe_dump({"train": cfg.to_dict(), "model": cfg.model_config().to_dict()}, sort_keys=False), end="")
        print(f"outputs: {os.path.abspath(cfg.out_dir)} (metrics.jsonl, last/, best/)", flush=True)
    if args.print_config:
        return 0
    from .trainer import Trainer, run_to_end  # noqa: PLC0415 - torch: not needed for --help or --print-config

    try:  # what the run is set up from (data, init_from, a resumed run): one line, no traceback
        trainer = Trainer(cfg, resume=args.resume)
    except (ValueError, FileNotFoundError) as exc:
        print(f"egsa-train: error: {exc}", file=sys.stderr)
        return 2
    summary = run_to_end(trainer)
    if rank == 0:
        print(
            f"done: step {summary['step']}, best {summary['best_metric']} = {summary['best_value']:.4f}, "
            f"checkpoints in {os.path.abspath(cfg.out_dir)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
