"""Whole-bag metrics: depth errors and mask IoU summed over frames, per-frame metric scale, and
latency statistics."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ..metrics import (confusion_matrix, depth_error_sums, depth_metrics_from_sums, median_scale_ratio,
                       segmentation_metrics_from_confusion)

SCALE_FAILURE = 1.25
"""A frame whose median predicted / true depth is off by more than this factor (either way)
counts as a whole-frame scale failure (the frame's median pixel misses delta < 1.25)."""


def _add(total: Dict[str, float], part: Dict[str, float]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0.0) + value


class EvalAccumulator:
    """Adds frames; :meth:`result` gives metrics over all frames at once (not a mean of means)."""

    def __init__(self) -> None:
        self.depth_all: Dict[str, float] = {}
        self.depth_all_aligned: Dict[str, float] = {}
        self.scale_ratios: List[float] = []
        self.plane_all: Dict[str, float] = {}
        self.plane_glass: Dict[str, float] = {}
        self.plane_frames = 0
        self.plane_refused = 0
        self.depth_glass: Dict[str, float] = {}
        self.completed_glass: Dict[str, float] = {}
        self.sensor_glass: Dict[str, float] = {}
        self.completed_glass_sensor_valid: Dict[str, float] = {}
        self.confusion = np.zeros((2, 2), np.int64)
        self.frames = 0
        self.frames_with_gt = 0
        self.latency_ms: List[float] = []
        self.inference_ms: List[float] = []

    def add(self, depth: np.ndarray, mask: np.ndarray, gt_depth: Optional[np.ndarray],
            gt_mask: Optional[np.ndarray], *, latency_ms: Optional[float] = None,
            inference_ms: Optional[float] = None, completed: Optional[np.ndarray] = None,
            sensor: Optional[np.ndarray] = None) -> None:
        """One frame: predicted depth (m) and mask (0/1 or 0/255), ground truth when known."""
        self.frames += 1
        if latency_ms is not None:
            self.latency_ms.append(float(latency_ms))
        if inference_ms is not None:
            self.inference_ms.append(float(inference_ms))
        if gt_depth is None:
            return
        self.frames_with_gt += 1
        glass = gt_mask if gt_mask is not None else np.zeros(gt_depth.shape, bool)
        _add(self.depth_all, depth_error_sums(depth, gt_depth))
        ratio = median_scale_ratio(depth, gt_depth)
        if np.isfinite(ratio) and ratio > 0:
            self.scale_ratios.append(ratio)
            # The same frame with its scale error removed: what is left is error of shape.
            _add(self.depth_all_aligned, depth_error_sums(depth / ratio, gt_depth))
        _add(self.depth_glass, depth_error_sums(depth, gt_depth, mask=glass))
        if completed is not None:
            _add(self.completed_glass, depth_error_sums(completed, gt_depth, mask=glass))
        if sensor is not None:
            _add(self.sensor_glass, depth_error_sums(np.nan_to_num(sensor, nan=0.0), gt_depth, mask=glass))
            if completed is not None:  # the same pixels as the sensor's RMSE: a like-for-like comparison
                sensor_valid = np.isfinite(sensor) & (sensor > 0)
                _add(self.completed_glass_sensor_valid,
                     depth_error_sums(completed, gt_depth, mask=glass & sensor_valid))
        if gt_mask is not None:
            self.confusion += confusion_matrix((mask > 0).astype(np.int64), gt_mask.astype(np.int64), 2)

    def add_support_plane(self, scaled_depth: np.ndarray, ok: bool, gt_depth: np.ndarray,
                          gt_mask: Optional[np.ndarray]) -> None:
        """The same frame's depth rescaled from the camera's known height above the table (see
        :mod:`egsa_ros.runtime.support_plane_scale`); ``ok`` False = the estimate was refused
        (``scaled_depth`` is then the unscaled prediction, and is scored as such)."""
        self.plane_frames += 1
        self.plane_refused += 0 if ok else 1
        glass = gt_mask if gt_mask is not None else np.zeros(gt_depth.shape, bool)
        _add(self.plane_all, depth_error_sums(scaled_depth, gt_depth))
        _add(self.plane_glass, depth_error_sums(scaled_depth, gt_depth, mask=glass))

    def result(self) -> Dict:
        out: Dict = {"frames": self.frames, "frames_with_ground_truth": self.frames_with_gt}
        if self.depth_all:
            out["depth_all"] = depth_metrics_from_sums(self.depth_all)
            out["depth_transparent"] = depth_metrics_from_sums(self.depth_glass)
        if self.depth_all_aligned:
            out["depth_all_scale_aligned"] = depth_metrics_from_sums(self.depth_all_aligned)
        if self.scale_ratios:
            out["frame_scale"] = frame_scale_summary(self.scale_ratios)
        if self.plane_frames:
            out["depth_all_support_plane"] = depth_metrics_from_sums(self.plane_all)
            out["depth_transparent_support_plane"] = depth_metrics_from_sums(self.plane_glass)
            out["support_plane"] = {"frames": self.plane_frames, "refused": self.plane_refused}
        if self.completed_glass:
            out["depth_completed_transparent"] = depth_metrics_from_sums(self.completed_glass)
        if self.sensor_glass:
            out["sensor_depth_transparent"] = depth_metrics_from_sums(self.sensor_glass)
        if self.completed_glass_sensor_valid:
            out["depth_completed_transparent_sensor_valid"] = depth_metrics_from_sums(self.completed_glass_sensor_valid)
        if self.confusion.sum():
            seg = segmentation_metrics_from_confusion(self.confusion)
            out["mask"] = {"transparent_iou": seg.get("iou_1", float("nan")), "background_iou": seg.get("iou_0"),
                           "miou": seg.get("miou")}
        for name, values in (("latency_ms", self.latency_ms), ("inference_ms", self.inference_ms)):
            if values:
                arr = np.asarray(values)
                out[name] = {"p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90)),
                             "p99": float(np.percentile(arr, 99)), "max": float(arr.max()), "count": len(values)}
        return out


def frame_scale_summary(ratios: List[float]) -> Dict:
    """Percentiles of the per-frame median predicted / true depth ratio, and how many frames are
    off by more than :data:`SCALE_FAILURE` (too far or too near) or by more than 10 %."""
    arr = np.asarray(ratios, np.float64)
    off = np.maximum(arr, 1.0 / arr)
    return {"frames": int(arr.size), "p05": float(np.percentile(arr, 5)), "p50": float(np.median(arr)),
            "p95": float(np.percentile(arr, 95)), "failures": int(np.sum(off > SCALE_FAILURE)),
            "too_far": int(np.sum(arr > SCALE_FAILURE)), "too_near": int(np.sum(arr < 1.0 / SCALE_FAILURE)),
            "off_by_10pct": int(np.sum(off > 1.10)), "ratios": [float(r) for r in arr]}
