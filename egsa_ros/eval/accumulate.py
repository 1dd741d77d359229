"""Whole-bag metrics: depth errors and mask IoU summed over frames, per-frame metric scale, and
latency statistics."""

from __future__ import annotations

import numpy as np

from ..metrics import DepthErrorSums, MetricAccumulator, median_scale_ratio

SCALE_FAILURE = 1.25
"""A frame whose median predicted / true depth is off by more than this factor (either way)
counts as a whole-frame scale failure (the frame's median pixel misses delta < 1.25)."""

BACKGROUND, GLASS = 0, 1
"""Classes of the replay's two-class mask (the node publishes 1 on transparent pixels)."""


class EvalAccumulator:
    """Adds frames; :meth:`result` gives metrics over all frames at once (not a mean of means).

    The predicted depth over all and over glass pixels and the mask's confusion matrix go
    through the same :class:`~egsa_ros.metrics.MetricAccumulator` as training's validation (two
    classes: background, glass); the other depths (scale-aligned, support plane, completed,
    sensor) are :class:`~egsa_ros.metrics.DepthErrorSums` of their own.
    """

    def __init__(self) -> None:
        self.predicted = MetricAccumulator(num_classes=2, transparent_class=GLASS)
        self.depth_all_aligned = DepthErrorSums()
        self.scale_ratios: list[float] = []
        self.plane_all = DepthErrorSums()
        self.plane_glass = DepthErrorSums()
        self.plane_frames = 0
        self.plane_refused = 0
        self.plane_scale_ratios: list[float] = []
        self.completed_glass = DepthErrorSums()
        self.sensor_glass = DepthErrorSums()
        self.completed_glass_sensor_valid = DepthErrorSums()
        self.frames = 0
        self.frames_with_gt = 0
        self.latency_ms: list[float] = []
        self.inference_ms: list[float] = []

    def add(
        self,
        depth: np.ndarray,
        mask: np.ndarray,
        gt_depth: np.ndarray | None,
        gt_mask: np.ndarray | None,
        *,
        latency_ms: float | None = None,
        inference_ms: float | None = None,
        completed: np.ndarray | None = None,
        sensor: np.ndarray | None = None,
    ) -> None:
        """One frame: predicted depth (H, W) metres and mask (H, W) (0/1 or 0/255); ground-truth
        depth (H, W) metres (NaN: unknown) and glass mask (H, W) bool when known."""
        self.frames += 1
        if latency_ms is not None:
            self.latency_ms.append(float(latency_ms))
        if inference_ms is not None:
            self.inference_ms.append(float(inference_ms))
        if gt_depth is None:
            return
        self.frames_with_gt += 1
        glass = _glass(gt_mask, gt_depth.shape)
        self.predicted.add(
            depth,
            gt_depth,
            gt_labels=glass.astype(np.int64) if gt_mask is not None else None,
            pred_labels=(mask > 0).astype(np.int64),
        )
        ratio = median_scale_ratio(depth, gt_depth)
        if np.isfinite(ratio) and ratio > 0:
            self.scale_ratios.append(ratio)
            # The same frame with its scale error removed: what is left is error of shape.
            self.depth_all_aligned.add(depth / ratio, gt_depth)
        if completed is not None:
            self.completed_glass.add(completed, gt_depth, mask=glass)
        if sensor is not None:
            self.sensor_glass.add(np.nan_to_num(sensor, nan=0.0), gt_depth, mask=glass)
            if completed is not None:  # the same pixels as the sensor's RMSE: a like-for-like comparison
                sensor_valid = np.isfinite(sensor) & (sensor > 0)
                self.completed_glass_sensor_valid.add(completed, gt_depth, mask=glass & sensor_valid)

    def add_support_plane(
        self, scaled_depth: np.ndarray, ok: bool, gt_depth: np.ndarray, gt_mask: np.ndarray | None
    ) -> None:
        """The same frame's depth rescaled from the camera's known height above the table (see
        :mod:`egsa_ros.runtime.support_plane_scale`); ``ok`` False = the estimate was refused
        (``scaled_depth`` is then the unscaled prediction, and is scored as such)."""
        self.plane_frames += 1
        self.plane_refused += 0 if ok else 1
        self.plane_all.add(scaled_depth, gt_depth)
        self.plane_glass.add(scaled_depth, gt_depth, mask=_glass(gt_mask, gt_depth.shape))
        ratio = median_scale_ratio(scaled_depth, gt_depth)
        if np.isfinite(ratio) and ratio > 0:
            self.plane_scale_ratios.append(ratio)

    def result(self) -> dict:
        out: dict = {"frames": self.frames, "frames_with_ground_truth": self.frames_with_gt}
        if self.predicted.depth_all.added:
            out["depth_all"] = self.predicted.depth_all.metrics()
            out["depth_transparent"] = self.predicted.depth_transparent.metrics()
        if self.depth_all_aligned.added:
            out["depth_all_scale_aligned"] = self.depth_all_aligned.metrics()
        if self.scale_ratios:
            out["frame_scale"] = frame_scale_summary(self.scale_ratios)
        if self.plane_frames:
            out["depth_all_support_plane"] = self.plane_all.metrics()
            out["depth_transparent_support_plane"] = self.plane_glass.metrics()
            out["support_plane"] = {"frames": self.plane_frames, "refused": self.plane_refused}
            if self.plane_scale_ratios:  # the same per-frame scale error after the table's scale
                out["frame_scale_support_plane"] = frame_scale_summary(self.plane_scale_ratios)
        if self.completed_glass.added:
            out["depth_completed_transparent"] = self.completed_glass.metrics()
        if self.sensor_glass.added:
            out["sensor_depth_transparent"] = self.sensor_glass.metrics()
        if self.completed_glass_sensor_valid.added:
            out["depth_completed_transparent_sensor_valid"] = self.completed_glass_sensor_valid.metrics()
        if self.predicted.confusion.sum():
            seg = self.predicted.segmentation()
            out["mask"] = {
                "transparent_iou": seg[f"iou_{GLASS}"],
                "background_iou": seg[f"iou_{BACKGROUND}"],
                "miou": seg["miou"],
            }
        for name, values in (("latency_ms", self.latency_ms), ("inference_ms", self.inference_ms)):
            if values:
                arr = np.asarray(values)
                out[name] = {
                    "p50": float(np.percentile(arr, 50)),
                    "p90": float(np.percentile(arr, 90)),
                    "p99": float(np.percentile(arr, 99)),
                    "max": float(arr.max()),
                    "count": len(values),
                }
        return out


def _glass(gt_mask: np.ndarray | None, shape) -> np.ndarray:
    """The ground-truth glass pixels as bool (none when the frame has no mask)."""
    return np.zeros(shape, bool) if gt_mask is None else np.asarray(gt_mask).astype(bool)


def frame_scale_summary(ratios: list[float]) -> dict:
    """Percentiles of the per-frame median predicted / true depth ratio and of its |log| (the
    per-frame scale error), and how many frames are off by more than :data:`SCALE_FAILURE` (too
    far or too near) or by more than 10 %."""
    arr = np.asarray(ratios, np.float64)
    off = np.maximum(arr, 1.0 / arr)
    abs_log = np.abs(np.log(arr))
    return {
        "frames": int(arr.size),
        "p05": float(np.percentile(arr, 5)),
        "p50": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "abs_log_p50": float(np.median(abs_log)),
        "abs_log_p95": float(np.percentile(abs_log, 95)),
        "failures": int(np.sum(off > SCALE_FAILURE)),
        "too_far": int(np.sum(arr > SCALE_FAILURE)),
        "too_near": int(np.sum(arr < 1.0 / SCALE_FAILURE)),
        "off_by_10pct": int(np.sum(off > 1.10)),
        "ratios": [float(r) for r in arr],
    }
