"""How the glass mask and depth hold up under the camera effects a robot's images carry.

    python -m egsa_ros.eval.camera_robustness SPLIT [--model M] [--json out.json] [--limit N]

Every frame of a rendered split is scored as rendered and again under one camera effect at a
time, each at a few strengths (:data:`EFFECTS`): sensor noise (shot and read noise on linear
intensities), exposure, Gaussian blur (defocus) and JPEG compression. The effects are those of
training's degradations (:func:`egsa_ros.data.degradations.degrade`) with one value instead of a
range, so the rows read as "inside" or "beyond" what training showed (:data:`TRAINING_RANGE`).
The same frame gets the same noise for every model (the seed is the frame's index), so two models
scored on one split compare row by row. Reported per row: glass IoU, recall and precision, the
share of non-glass pixels marked glass, all-pixel delta<1.25 and the frame scale error (p50 of
|log(median predicted / true depth)|), each frame's fx applied.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..data.degradations import OFF, DegradationConfig, degrade
from .accumulate import GLASS, EvalAccumulator
from .split_frames import read_split_frames
from .split_tool import finish_split_tool, open_split_tool, show_progress, split_tool_parser


@dataclass(frozen=True)
class CameraEffect:
    """One camera effect at one strength: ``name`` (the row), ``fields`` the
    :class:`~egsa_ros.data.degradations.DegradationConfig` fields that switch it on (on top of
    :data:`~egsa_ros.data.degradations.OFF`), ``within_training`` whether training's ranges
    include this strength."""

    name: str
    fields: dict
    within_training: bool

    def config(self) -> DegradationConfig:
        return replace(OFF, **self.fields)


EFFECTS: tuple[CameraEffect, ...] = (
    CameraEffect("as rendered", {}, True),
    CameraEffect("noise shot 0.02 read 0.005", {"p_noise": 1.0, "shot": (0.02, 0.02), "read": (0.005, 0.005)}, True),
    CameraEffect("noise shot 0.04 read 0.01", {"p_noise": 1.0, "shot": (0.04, 0.04), "read": (0.01, 0.01)}, False),
    CameraEffect("noise shot 0.08 read 0.02", {"p_noise": 1.0, "shot": (0.08, 0.08), "read": (0.02, 0.02)}, False),
    CameraEffect("exposure -2 stops", {"p_exposure": 1.0, "exposure_stops": (-2.0, -2.0)}, False),
    CameraEffect("exposure -1 stop", {"p_exposure": 1.0, "exposure_stops": (-1.0, -1.0)}, True),
    CameraEffect("exposure +1 stop", {"p_exposure": 1.0, "exposure_stops": (1.0, 1.0)}, True),
    CameraEffect("blur sigma 1 px", {"p_blur": 1.0, "motion_share": 0.0, "blur_sigma_px": (1.0, 1.0)}, True),
    CameraEffect("blur sigma 2 px", {"p_blur": 1.0, "motion_share": 0.0, "blur_sigma_px": (2.0, 2.0)}, False),
    CameraEffect("jpeg quality 50", {"p_jpeg": 1.0, "jpeg_quality": (50, 50)}, True),
    CameraEffect("jpeg quality 20", {"p_jpeg": 1.0, "jpeg_quality": (20, 20)}, False),
)
"""The rows, the first one the frames as rendered. Strengths at and beyond training's ranges."""

TRAINING_RANGE = {
    "noise": "shot 0-0.03, read 0-0.01 (linear 0-1 units)",
    "exposure": "-1 to +1 stops",
    "blur": "sigma 0.4-1.5 px",
    "jpeg": "quality 40-95",
}
"""Training's degradation ranges (``DegradationConfig``'s defaults), for the report's header."""


def score_effect(
    predict: Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]],
    frames: Sequence[Any],
    effect: CameraEffect,
) -> dict[str, Any]:
    """Score ``predict`` ((H, W, 3) uint8 RGB, fx -> depth (H, W) m, mask (H, W)) on ``frames``
    (:class:`~egsa_ros.eval.split_frames.SplitFrame`) with ``effect`` applied to each image."""
    acc = EvalAccumulator()
    config = effect.config()
    for index, frame in enumerate(frames):
        rgb = frame.rgb if not effect.fields else degrade(frame.rgb, index, config)
        depth, mask = predict(rgb, float(np.asarray(frame.K)[0, 0]))
        acc.add(depth, mask, frame.gt_depth, frame.gt_mask)
    result = acc.result()
    cm = acc.predicted.confusion  # cm[true, predicted], classes background and glass
    true_glass, marked = cm[GLASS].sum(), cm[:, GLASS].sum()
    not_glass = cm.sum() - true_glass
    row = {
        "effect": effect.name,
        "within_training": effect.within_training,
        "frames": result["frames_with_ground_truth"],
        "glass_iou": result.get("mask", {}).get("transparent_iou", float("nan")),
        "glass_recall": float(cm[GLASS, GLASS] / true_glass) if true_glass else float("nan"),
        "glass_precision": float(cm[GLASS, GLASS] / marked) if marked else float("nan"),
        "false_glass_share": float(cm[1 - GLASS, GLASS] / not_glass) if not_glass else float("nan"),
        "delta_1.25": result.get("depth_all", {}).get("delta_1.25", float("nan")),
        "frame_scale_abs_log_p50": result.get("frame_scale", {}).get("abs_log_p50", float("nan")),
    }
    return row


def analyse_split(
    predict: Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]],
    folder: Path,
    *,
    effects: Sequence[CameraEffect] = EFFECTS,
    limit: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Every effect of ``effects`` on the frames of a rendered split (read once)."""
    frames = list(read_split_frames(folder, limit=limit))
    rows = [score_effect(predict, frames, e) for e in tqdm(effects, desc="effects", disable=not progress)]
    return {"split": str(folder), "frames": len(frames), "training_range": TRAINING_RANGE, "rows": rows}


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (what the CLI prints)."""
    first = report["rows"][0]
    lines = [
        f"{report['frames']} frames of {report['split']}; training's ranges: "
        + "; ".join(f"{k} {v}" for k, v in report["training_range"].items()),
        "",
        "| camera effect | in training's range | glass IoU (change) | recall | precision | non-glass marked | "
        "delta<1.25 | frame scale err p50 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        change = row["glass_iou"] - first["glass_iou"]
        lines.append(
            f"| {row['effect']} | {'yes' if row['within_training'] else 'beyond'} | {row['glass_iou']:.3f} "
            f"({change:+.3f}) | {row['glass_recall']:.3f} | {row['glass_precision']:.3f} | "
            f"{row['false_glass_share']:.2%} | {row['delta_1.25']:.3f} | {row['frame_scale_abs_log_p50']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    prog = "egsa_ros.eval.camera_robustness"
    args = split_tool_parser(prog, __doc__.split("\n\n")[0]).parse_args(argv)
    pipeline = open_split_tool(prog, args)
    if pipeline is None:
        return 2

    def predict(rgb: np.ndarray, fx: float) -> tuple[np.ndarray, np.ndarray]:
        pred = pipeline(rgb, fx=fx)
        return pred.depth, pred.mask

    report = analyse_split(predict, args.split, limit=args.limit, progress=show_progress(args))
    return finish_split_tool(report, pipeline, args, markdown)


if __name__ == "__main__":
    sys.exit(main())
