"""Does a retrained model replace the bundled one? The v2 bundling rule, measured in one run.

    python -m egsa_ros.eval.candidate_check runs/v2/v2t/calibrated --v2 data/egsa_v2 \\
        --v1 data/synthetic --json out/candidates/v2t.json

Both models (the candidate and the baseline, by default the bundled model) run through the same
runtime pipeline (same backend and threads, each frame's fx, the model's own test-time options)
on the same frames:

- v2 ``val`` and ``ood``: transparent IoU and all-pixel delta<1.25 pooled over the split, per
  object family on ood (:mod:`.family_recall`);
- the v1 ``test`` split: transparent IoU and delta<1.25 (the first generator must not regress);
- the FOV validation splits ``fov_narrow_val`` and ``fov_wide_val`` pooled: p95 of the per-frame
  scale error |log(median predicted / true depth)|, the candidate's canonical-view pass at the
  baseline's inset (as the rules say) unless ``--canonical-view-inset`` sets both;
- the held-out real photos without glass of the latest photo set: median and max fraction of
  pixels marked transparent;
- with ``--clean-renders``, also ``val_spp256`` and ``ood_spp256``: the val and ood scenes rendered
  at 256 samples per pixel (``scripts/render_v2.sh``), without the path tracer's noise that the
  32-sample splits carry on glass and dim regions; the rule then reads them too
  (:class:`~egsa_ros.eval.bundling_rule.BundlingRule` ``clean_renders``); with ``--clean-decides``
  the clean renders alone decide the gain and the 32-sample splits only floor it (``clean_decides``).

Then the six conditions that the v2 candidates' rules fix before each run (``models/rules/``
since 2026-12-04, e.g. ``2026-12-04_v2t_all_frames_from_start.md``) are applied (margins:
:class:`~egsa_ros.eval.bundling_rule.BundlingRule`). Reported alongside and never decided on:
photo set 1, and with ``--independent`` scikit-image's photos; with ``--train-frames N``, the IoU
on the first N frames of the v2 ``train`` split (how well the model fits what it was trained on).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..cli_helpers import output_file
from ..data.photos import LATEST_PHOTO_SET, PHOTO_SETS
from ..data.synthetic_frames import frame_dirs
from ..runtime.pipeline import load_pipeline
from .accumulate import EvalAccumulator, frame_scale_summary
from .bundling_rule import BundlingRule, conditions, summary_lines
from .family_recall import FamilyRecall
from .photo_negatives import heldout_images, marked_fractions, skimage_images
from .split_frames import is_split_folder, read_split_frames

PHOTO_SIZE = (480, 640)
"""(H, W) the photos are cropped to: a robot camera's frame."""


@dataclass(frozen=True)
class Splits:
    """Folders of rendered frames (``egsa-synth`` layout) each role reads."""

    val: Path
    ood: Path
    v1_test: Path
    fov: tuple[Path, ...]
    train: Path | None = None
    val_clean: Path | None = None
    ood_clean: Path | None = None

    @classmethod
    def from_roots(cls, v2_root: Path, v1_root: Path) -> Splits:
        """The default layout: ``scripts/render_v2.sh`` under ``v2_root``, the v1 test split under
        ``v1_root``."""
        v2_root, v1_root = Path(v2_root), Path(v1_root)
        return cls(
            val=v2_root / "val",
            ood=v2_root / "ood",
            v1_test=v1_root / "test",
            fov=(v2_root / "fov_narrow_val", v2_root / "fov_wide_val"),
            train=v2_root / "train",
            val_clean=v2_root / "val_spp256",
            ood_clean=v2_root / "ood_spp256",
        )

    def check(self, with_train: bool, with_clean: bool = False) -> None:
        """Raise FileNotFoundError naming the first missing or empty folder."""
        roles = [("val", self.val), ("ood", self.ood), ("v1 test", self.v1_test)]
        roles += [("FOV validation", path) for path in self.fov]
        if with_train:
            roles.append(("train", self.train))
        if with_clean:
            roles += [("clean-render val", self.val_clean), ("clean-render ood", self.ood_clean)]
        for role, path in roles:
            if path is None or not is_split_folder(Path(path)) or not frame_dirs(Path(path)):
                raise FileNotFoundError(
                    f"{role} split {path} has no rendered frames (scripts/render_v2.sh renders the v2 splits, "
                    "scripts/train_default.sh the v1 test split)"
                )


def score_split(pipeline, folder: Path, *, limit: int | None = None, progress: bool = True) -> dict:
    """One model on one rendered split: ``frames``, ``transparent_iou``, ``delta_1.25`` (all
    pixels), ``scale_ratios`` (per-frame median predicted / true depth) and ``families`` (when
    the frames list their objects)."""
    acc, families = EvalAccumulator(), FamilyRecall()
    total = len(frame_dirs(folder))
    total = total if limit is None else min(limit, total)
    for frame in tqdm(
        read_split_frames(folder, limit=limit), total=total, desc=Path(folder).name, unit="frame", disable=not progress
    ):
        pred = pipeline(frame.rgb, fx=frame.focal_px())
        acc.add(pred.depth, pred.mask, frame.gt_depth, frame.gt_mask)
        if getattr(frame, "gt_instances", None) is not None and getattr(frame, "gt_objects", None):
            families.add(pred.mask, frame.gt_instances, frame.gt_objects)
    result = acc.result()
    if "mask" not in result:
        raise ValueError(f"{folder}: no frame has a ground-truth mask and depth")
    out = {
        "frames": result["frames"],
        "transparent_iou": float(result["mask"]["transparent_iou"]),
        "delta_1.25": float(result["depth_all"]["delta_1.25"]),
        "scale_ratios": list(result.get("frame_scale", {}).get("ratios", [])),
    }
    if families.glass or families.opaque:
        out["families"] = families.result()
    return out


def score_model(
    model: str | None,
    splits: Splits,
    *,
    backend: str = "onnxruntime",
    threads: int = 2,
    train_frames: int = 0,
    independent: bool = False,
    canonical_view_inset: float | None = None,
    clean_renders: bool = False,
    progress: bool = True,
) -> dict:
    """Every number the rule and the report need for one model (None = the bundled model).

    ``canonical_view_inset``: run the model's canonical-view pass at this inset instead of its
    own (the rules compare a candidate at the bundled model's inset); ignored by a model without
    the pass. The inset used is returned as ``canonical_view_inset`` (None without the pass).
    ``clean_renders``: also score ``splits.val_clean`` and ``splits.ood_clean`` (as ``val_clean``,
    ``ood_clean``).
    """
    pipeline = load_pipeline(model, backend=backend, threads=threads, frame_size=None)
    has_view = pipeline.options.canonical_view_focal is not None
    if has_view and canonical_view_inset is not None:
        pipeline.options = pipeline.options.replace(canonical_view_inset=float(canonical_view_inset))
    scores: dict = {
        "model": pipeline.model_name,
        "backend": pipeline.backend_name,
        "canonical_view_inset": pipeline.options.canonical_view_inset if has_view else None,
    }
    roles = ("val", "ood", "v1_test") + (("val_clean", "ood_clean") if clean_renders else ())
    for role in roles:
        scores[role] = score_split(pipeline, getattr(splits, role), progress=progress)
    fov = [score_split(pipeline, folder, progress=progress) for folder in splits.fov]
    ratios = [ratio for part in fov for ratio in part["scale_ratios"]]
    if not ratios:
        raise ValueError(f"FOV validation splits {[str(f) for f in splits.fov]}: no frame with a finite depth scale")
    scores["fov_val"] = {
        "frames": len(ratios),
        "scale_error_p95": frame_scale_summary(ratios)["abs_log_p95"],
        "scale_ratios": ratios,
    }
    if train_frames:
        scores["train_sample"] = score_split(pipeline, splits.train, limit=train_frames, progress=progress)

    def mask_of(rgb: np.ndarray) -> np.ndarray:
        return pipeline(rgb).mask

    photos = {f"photo_set_{s}": _fractions(heldout_images(PHOTO_SIZE, s), mask_of) for s in PHOTO_SETS}
    if independent:
        photos["independent_skimage"] = _fractions(skimage_images(PHOTO_SIZE), mask_of)
    scores["photos"] = photos
    return scores


def _fractions(images, mask_of: Callable[[np.ndarray], np.ndarray]) -> dict:
    part = marked_fractions(images, mask_of)
    return {key: part[key] for key in ("count", "median", "max")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m egsa_ros.eval.candidate_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("candidate", help="checkpoint directory of the candidate (calibrated on v2 val)")
    parser.add_argument("--baseline", help="checkpoint directory of the baseline (default: the bundled model)")
    parser.add_argument("--v2", type=Path, default=Path("data/egsa_v2"), help="root of the v2 splits")
    parser.add_argument("--v1", type=Path, default=Path("data/synthetic"), help="root of the v1 splits (its test)")
    parser.add_argument("--backend", default="onnxruntime", help="the same for both models (default onnxruntime)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-frames", type=int, default=0, help="also report IoU on this many v2 train frames")
    parser.add_argument(
        "--independent", action="store_true", help="also report scikit-image's photos (never decide on it)"
    )
    parser.add_argument(
        "--photo-set", type=int, choices=PHOTO_SETS, default=LATEST_PHOTO_SET, help="photos the rule reads"
    )
    parser.add_argument(
        "--canonical-view-inset",
        type=float,
        help="inset of both models' canonical-view pass (default: the baseline's own, which the candidate also uses)",
    )
    parser.add_argument(
        "--clean-renders",
        action="store_true",
        help="also score val_spp256 and ood_spp256 and apply the rule that reads them (rules since V2ac)",
    )
    parser.add_argument(
        "--clean-decides",
        action="store_true",
        help="score the clean renders and let them alone decide conditions 1-2, the 32-sample splits "
        "only floored (rules since V2ah; implies --clean-renders)",
    )
    parser.add_argument("--json", type=output_file, help="write both models' numbers and the conditions here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.train_frames < 0 or args.threads < 1:
        parser.error("--train-frames must be >= 0 and --threads >= 1")
    rule = BundlingRule(clean_renders=args.clean_renders, clean_decides=args.clean_decides)
    splits = Splits.from_roots(args.v2, args.v1)
    try:
        splits.check(with_train=args.train_frames > 0, with_clean=rule.reads_clean_renders)
        kwargs = dict(
            backend=args.backend,
            threads=args.threads,
            train_frames=args.train_frames,
            independent=args.independent,
            clean_renders=rule.reads_clean_renders,
            progress=not args.no_progress,
        )
        baseline = score_model(args.baseline, splits, canonical_view_inset=args.canonical_view_inset, **kwargs)
        inset = baseline["canonical_view_inset"] if args.canonical_view_inset is None else args.canonical_view_inset
        candidate = score_model(args.candidate, splits, canonical_view_inset=inset, **kwargs)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        print(f"candidate_check: error: {exc}", file=sys.stderr)
        return 2
    checked = conditions(candidate, baseline, rule, args.photo_set)
    print("\n".join(summary_lines(candidate, baseline, checked)))
    if args.json:
        result = {
            "rule": asdict(rule),
            "photo_set": args.photo_set,
            "conditions": [dict(asdict(cond), holds=cond.holds) for cond in checked],
            "replaces_baseline": all(cond.holds for cond in checked),
            "candidate": candidate,
            "baseline": baseline,
        }
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
