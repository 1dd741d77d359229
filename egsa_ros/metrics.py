"""Evaluation metrics for metric depth and segmentation (pure functions, numpy float64).

Inputs may be numpy arrays or torch tensors (any device); they are converted to numpy.
All results are plain Python floats/ints.

Depth conventions
-----------------
- Evaluated pixels: ``gt`` finite and > 0, and ``valid`` (if given), and ``mask`` (if given).
  ``count`` is their number.
- A prediction that is non-finite or <= 0 at an evaluated pixel is *invalid*: it counts as a
  failure for every ``delta_*`` (denominator ``count``) and is left out of ``rmse``, ``mae``,
  ``rel`` (denominator ``count - invalid_pred``). ``invalid_pred`` reports how many there were.
- ``rmse = sqrt(mean((p - g)^2))`` and ``mae = mean|p - g|`` in metres, ``rel = mean(|p - g| / g)``,
  ``delta_t = fraction of pixels with max(p/g, g/p) < t`` for t in 1.05, 1.10, 1.25.
- Undefined metrics are NaN: with ``count == 0`` every metric is NaN (``count`` and
  ``invalid_pred`` are 0); when every prediction is invalid rmse/mae/rel are NaN and deltas 0.
- For a dataset, sum the dicts of :func:`depth_error_sums` over images and call
  :func:`depth_metrics_from_sums` (pixel-pooled metrics): :class:`DepthErrorSums` does this,
  and :class:`MetricAccumulator` adds the transparent region and the confusion matrix (the one
  accumulator of training's validation, ``train.evaluate``, ``train.calibrate`` and ``eval``).

Segmentation conventions
------------------------
- Confusion matrix ``cm[g, p]``: rows ground truth, columns prediction, int64, (K, K).
  Pixels whose ground truth is ``ignore_index`` or outside ``[0, K)`` are skipped; a
  prediction outside ``[0, K)`` at a counted pixel raises ``ValueError``.
- ``IoU_k = cm[k,k] / (row_k + col_k - cm[k,k])``; NaN when class k appears in neither gt nor
  prediction (union 0). ``miou`` is the mean over the classes with a non-zero union (so absent
  classes never make it NaN); NaN only when nothing was counted. ``pixel_acc = trace / sum``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "DELTA_THRESHOLDS",
    "depth_error_sums",
    "depth_metrics_from_sums",
    "depth_metrics",
    "depth_metrics_report",
    "median_scale_ratio",
    "confusion_matrix",
    "iou_from_confusion",
    "segmentation_metrics_from_confusion",
    "segmentation_metrics",
    "depth_sum_keys",
    "DepthErrorSums",
    "MetricAccumulator",
]

DELTA_THRESHOLDS = (1.05, 1.10, 1.25)


def _np(x, dtype=np.float64) -> np.ndarray:
    """Convert a numpy array / torch tensor / scalar sequence to a numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    return a.astype(dtype, copy=False) if dtype is not None else a


def _same_shape(a: np.ndarray, ref: np.ndarray, name: str) -> np.ndarray:
    if a.shape == ref.shape:
        return a
    if a.size == ref.size:
        return a.reshape(ref.shape)
    try:
        return np.broadcast_to(a, ref.shape)
    except ValueError:
        raise ValueError(f"{name} has shape {a.shape}, incompatible with gt shape {ref.shape}") from None


def _delta_key(t: float) -> str:
    return f"delta_{t:.2f}"


def depth_error_sums(
    pred,
    gt,
    valid=None,
    mask=None,
    thresholds: Sequence[float] = DELTA_THRESHOLDS,
) -> dict[str, float]:
    """Additive sufficient statistics of the depth metrics (sum them over images).

    Args:
        pred: predicted depth, metres, any shape (numpy or torch).
        gt: ground-truth depth, metres, same number of elements as ``pred``.
        valid: optional bool array, same size as ``gt``.
        mask: optional bool array (e.g. a class region), same size as ``gt``.
        thresholds: delta thresholds.

    Returns:
        Dict with ``count``, ``invalid_pred``, ``n_ok`` (valid predictions), ``sq_err``,
        ``abs_err``, ``rel_err`` (sums over valid predictions) and ``delta_<t>_hits``.
    """
    g = _np(gt)
    p = _same_shape(_np(pred), g, "pred")
    sel = np.isfinite(g) & (g > 0)
    if valid is not None:
        sel &= _same_shape(_np(valid, None).astype(bool), g, "valid")
    if mask is not None:
        sel &= _same_shape(_np(mask, None).astype(bool), g, "mask")
    gs = g[sel]
    ps = p[sel]
    ok = np.isfinite(ps) & (ps > 0)
    go, po = gs[ok], ps[ok]
    err = po - go
    out: dict[str, float] = {
        "count": int(gs.size),
        "invalid_pred": int(gs.size - go.size),
        "n_ok": int(go.size),
        "sq_err": float(np.sum(err * err)),
        "abs_err": float(np.sum(np.abs(err))),
        "rel_err": float(np.sum(np.abs(err) / go)) if go.size else 0.0,
    }
    ratio = np.maximum(po / go, go / po) if go.size else np.zeros(0)
    for t in thresholds:
        out[_delta_key(t) + "_hits"] = int(np.sum(ratio < t))
    return out


def median_scale_ratio(pred, gt, valid=None) -> float:
    """Median of predicted / true depth over one image's pixels where both are finite and > 0
    (NaN if none): how far the whole frame's metric scale is off (1.0 = right scale, 1.3 =
    everything 30 % too far). Monocular depth can be right in shape and wrong in scale.

    Args:
        pred: predicted depth, metres, any shape (numpy or torch).
        gt: ground-truth depth, metres, same number of elements as ``pred``.
        valid: optional bool array, same size as ``gt``.
    """
    g = _np(gt)
    p = _same_shape(_np(pred), g, "pred")
    sel = np.isfinite(g) & (g > 0) & np.isfinite(p) & (p > 0)
    if valid is not None:
        sel &= _same_shape(_np(valid, None).astype(bool), g, "valid")
    return float(np.median(p[sel] / g[sel])) if sel.any() else float("nan")


def depth_metrics_from_sums(sums: dict[str, float], thresholds: Sequence[float] = DELTA_THRESHOLDS) -> dict[str, float]:
    """Depth metrics (see the module docstring) from (possibly summed) :func:`depth_error_sums` dicts."""
    n = int(sums["count"])
    n_ok = int(sums["n_ok"])
    nan = float("nan")
    out: dict[str, float] = {
        "count": n,
        "invalid_pred": int(sums["invalid_pred"]),
        "rmse": float(np.sqrt(sums["sq_err"] / n_ok)) if n_ok else nan,
        "mae": float(sums["abs_err"] / n_ok) if n_ok else nan,
        "rel": float(sums["rel_err"] / n_ok) if n_ok else nan,
    }
    for t in thresholds:
        k = _delta_key(t)
        out[k] = float(sums[k + "_hits"] / n) if n else nan
    return out


def depth_metrics(pred, gt, valid=None, mask=None, thresholds: Sequence[float] = DELTA_THRESHOLDS) -> dict[str, float]:
    """Depth metrics of one prediction.

    Args:
        pred: predicted depth in metres, numpy or torch, any shape (e.g. (H, W), (B, 1, H, W)).
        gt: ground truth in metres, same number of elements (NaN/0 = no ground truth).
        valid: optional bool, same size: extra validity mask.
        mask: optional bool, same size: region to evaluate (e.g. transparent pixels).
        thresholds: delta thresholds (default 1.05, 1.10, 1.25).

    Returns:
        ``{"count", "invalid_pred", "rmse", "mae", "rel", "delta_1.05", "delta_1.10",
        "delta_1.25"}`` as Python numbers; see the module docstring for the conventions.
    """
    return depth_metrics_from_sums(depth_error_sums(pred, gt, valid, mask, thresholds), thresholds)


def depth_metrics_report(
    pred,
    gt,
    seg_gt=None,
    transparent_class: int | Iterable[int] = 2,
    valid=None,
    thresholds: Sequence[float] = DELTA_THRESHOLDS,
) -> dict[str, dict[str, float]]:
    """Depth metrics over all pixels and over the transparent pixels only.

    Args:
        pred, gt: depth in metres (see :func:`depth_metrics`).
        seg_gt: ground-truth labels with the same number of elements as ``gt`` (or None: then
            the "transparent" entry has count 0 and NaN metrics).
        transparent_class: label (or labels) that mark transparent objects.
        valid: optional bool validity mask.
        thresholds: delta thresholds.

    Returns:
        ``{"all": depth_metrics(...), "transparent": depth_metrics(..., mask=seg_gt in classes)}``.
    """
    g = _np(gt)
    classes = [int(transparent_class)] if np.isscalar(transparent_class) else [int(c) for c in transparent_class]
    if seg_gt is None:
        tmask = np.zeros(g.shape, dtype=bool)
    else:
        s = _same_shape(_np(seg_gt, None), g, "seg_gt")
        tmask = np.isin(s, classes)
    return {
        "all": depth_metrics(pred, g, valid=valid, thresholds=thresholds),
        "transparent": depth_metrics(pred, g, valid=valid, mask=tmask, thresholds=thresholds),
    }


def confusion_matrix(pred_labels, gt_labels, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Confusion matrix ``cm[gt, pred]`` (K, K) int64 of one prediction; add them up over a dataset.

    Args:
        pred_labels: predicted class indices, any shape (numpy or torch, integer).
        gt_labels: ground-truth class indices, same number of elements.
        num_classes: K.
        ignore_index: ground-truth label to skip (labels outside [0, K) are skipped too).

    Returns:
        (K, K) int64 array.

    Raises:
        ValueError: if a prediction at a counted pixel is outside [0, K).
    """
    g = _np(gt_labels, None).astype(np.int64).ravel()
    p = _same_shape(_np(pred_labels, None).astype(np.int64), _np(gt_labels, None), "pred_labels").ravel()
    keep = (g != ignore_index) & (g >= 0) & (g < num_classes)
    g, p = g[keep], p[keep]
    if p.size and (p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"predicted labels must lie in [0, {num_classes}), got range [{p.min()}, {p.max()}]")
    counts = np.bincount(g * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def iou_from_confusion(cm) -> np.ndarray:
    """Per-class IoU (K,) float64 from a confusion matrix; NaN for classes with an empty union."""
    cm = _np(cm)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.where(union > 0, union, 1.0), np.nan)


def segmentation_metrics_from_confusion(cm) -> dict[str, float]:
    """Segmentation metrics from an (accumulated) confusion matrix ``cm[gt, pred]``.

    Returns:
        ``{"iou_<k>" for each class k, "miou", "pixel_acc", "count"}``: IoUs as in
        :func:`iou_from_confusion`, ``miou`` the mean over classes with a non-zero union (NaN if
        none), ``pixel_acc = trace / total`` (NaN if total is 0), ``count`` the counted pixels.
    """
    cm = _np(cm)
    iou = iou_from_confusion(cm)
    total = float(cm.sum())
    present = ~np.isnan(iou)
    out: dict[str, float] = {f"iou_{k}": float(v) for k, v in enumerate(iou)}
    out["miou"] = float(iou[present].mean()) if present.any() else float("nan")
    out["pixel_acc"] = float(np.trace(cm) / total) if total > 0 else float("nan")
    out["count"] = int(total)
    return out


def segmentation_metrics(pred_labels, gt_labels, num_classes: int, ignore_index: int = 255) -> dict[str, float]:
    """Per-class IoU, mIoU and pixel accuracy of one prediction.

    Args:
        pred_labels: predicted class indices (numpy or torch), any shape.
        gt_labels: ground truth, same number of elements; ``ignore_index`` pixels are skipped.
        num_classes: K.
        ignore_index: label to ignore (default 255).

    Returns:
        See :func:`segmentation_metrics_from_confusion`.
    """
    return segmentation_metrics_from_confusion(confusion_matrix(pred_labels, gt_labels, num_classes, ignore_index))


def depth_sum_keys(thresholds: Sequence[float] = DELTA_THRESHOLDS) -> tuple:
    """The keys of a :func:`depth_error_sums` dict, in a fixed order."""
    return ("count", "invalid_pred", "n_ok", "sq_err", "abs_err", "rel_err") + tuple(
        _delta_key(t) + "_hits" for t in thresholds
    )


class DepthErrorSums:
    """Running sums of :func:`depth_error_sums` over frames; :meth:`metrics` gives the
    pixel-pooled metrics of everything added (not a mean of per-frame means).

    Attributes:
        sums: {key: float} in :func:`depth_sum_keys` order.
        added: how many predictions were added (0: nothing to report).
    """

    def __init__(self, thresholds: Sequence[float] = DELTA_THRESHOLDS) -> None:
        self.thresholds = tuple(thresholds)
        self.sums: dict[str, float] = dict.fromkeys(depth_sum_keys(self.thresholds), 0.0)
        self.added = 0

    def add(self, pred, gt, valid=None, mask=None) -> None:
        """One prediction (any shape, metres); ``valid`` / ``mask`` as in :func:`depth_error_sums`."""
        for key, value in depth_error_sums(pred, gt, valid, mask, self.thresholds).items():
            self.sums[key] += float(value)
        self.added += 1

    def metrics(self) -> dict[str, float]:
        """:func:`depth_metrics_from_sums` of the sums so far."""
        return depth_metrics_from_sums(self.sums, self.thresholds)

    def to_vector(self) -> np.ndarray:
        """The sums as a (len(keys),) float64 vector (e.g. to all-reduce across processes)."""
        return np.array(list(self.sums.values()), dtype=np.float64)

    def load_vector(self, vector) -> None:
        """Replace the sums with a vector from :meth:`to_vector` (e.g. the all-reduced one)."""
        values = _np(vector).ravel()
        if values.size != len(self.sums):
            raise ValueError(f"expected {len(self.sums)} depth sums, got {values.size}")
        self.sums = {key: float(v) for key, v in zip(self.sums, values)}


class MetricAccumulator:
    """Depth errors over all pixels and over the transparent pixels, and a confusion matrix,
    summed over frames; :meth:`result` gives the validation metrics.

    Args:
        num_classes: K (the confusion matrix is (K, K)).
        transparent_class: the label whose ground-truth pixels form the transparent region
            (``t_`` metrics) and whose IoU is ``transparent_iou``.
        ignore_index: ground-truth label left out of the confusion matrix.
        thresholds: delta thresholds.

    Attributes:
        depth_all, depth_transparent: :class:`DepthErrorSums` of the two regions.
        confusion: (K, K) int64 ``cm[gt, pred]``.
    """

    def __init__(
        self,
        num_classes: int,
        transparent_class: int,
        ignore_index: int = 255,
        thresholds: Sequence[float] = DELTA_THRESHOLDS,
    ) -> None:
        self.num_classes = int(num_classes)
        self.transparent_class = int(transparent_class)
        self.ignore_index = int(ignore_index)
        self.depth_all = DepthErrorSums(thresholds)
        self.depth_transparent = DepthErrorSums(thresholds)
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def add(self, pred_depth, gt_depth, valid=None, gt_labels=None, pred_labels=None) -> None:
        """One prediction (a frame or a batch; numpy or torch).

        Args:
            pred_depth: predicted depth, metres, e.g. (B, 1, H, W) or (H, W).
            gt_depth: ground truth, metres, same number of elements (NaN / 0: none).
            valid: optional bool, same number of elements.
            gt_labels: ground-truth classes, same number of elements, or None (then the
                transparent region is empty and the confusion matrix is not updated).
            pred_labels: predicted classes (e.g. the logits' argmax), same number of elements
                as ``gt_labels``, or None (depth only).
        """
        self.depth_all.add(pred_depth, gt_depth, valid)
        if gt_labels is None:
            region = np.zeros(_np(gt_depth, None).shape, dtype=bool)
        else:
            region = _np(gt_labels, None) == self.transparent_class
        self.depth_transparent.add(pred_depth, gt_depth, valid, mask=region)
        if gt_labels is not None and pred_labels is not None:
            self.confusion += confusion_matrix(pred_labels, gt_labels, self.num_classes, self.ignore_index)

    def segmentation(self) -> dict[str, float]:
        """:func:`segmentation_metrics_from_confusion` of the confusion matrix so far."""
        return segmentation_metrics_from_confusion(self.confusion)

    def result(self) -> dict[str, float]:
        """Depth metrics over all pixels, the same with a ``t_`` prefix over the transparent
        pixels, then ``miou``, ``pixel_acc``, ``transparent_iou`` and ``iou_<k>`` per class."""
        out: dict[str, float] = dict(self.depth_all.metrics())
        out.update({f"t_{k}": v for k, v in self.depth_transparent.metrics().items()})
        seg = self.segmentation()
        out["miou"] = seg["miou"]
        out["pixel_acc"] = seg["pixel_acc"]
        out["transparent_iou"] = seg[f"iou_{self.transparent_class}"]
        for c in range(self.num_classes):
            out[f"iou_{c}"] = seg[f"iou_{c}"]
        return out

    def to_vector(self) -> np.ndarray:
        """All sums and the confusion matrix as one float64 vector (to all-reduce across processes)."""
        return np.concatenate(
            [self.depth_all.to_vector(), self.depth_transparent.to_vector(), self.confusion.ravel().astype(np.float64)]
        )

    def load_vector(self, vector) -> None:
        """Replace the state with a vector from :meth:`to_vector` (e.g. the all-reduced one)."""
        values = _np(vector).ravel()
        n = len(self.depth_all.sums)
        if values.size != 2 * n + self.confusion.size:
            raise ValueError(f"expected {2 * n + self.confusion.size} values, got {values.size}")
        self.depth_all.load_vector(values[:n])
        self.depth_transparent.load_vector(values[n : 2 * n])
        self.confusion = np.rint(values[2 * n :]).astype(np.int64).reshape(self.confusion.shape)
