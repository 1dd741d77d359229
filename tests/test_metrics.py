"""Tests of egsa_ros.metrics against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from egsa_ros.metrics import (
    DepthErrorSums,
    MetricAccumulator,
    confusion_matrix,
    depth_error_sums,
    depth_metrics,
    depth_metrics_from_sums,
    depth_metrics_report,
    iou_from_confusion,
    median_scale_ratio,
    segmentation_metrics,
    segmentation_metrics_from_confusion,
)


def test_depth_metrics_by_hand():
    m = depth_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 2.0]))
    assert m["count"] == 3 and m["invalid_pred"] == 0
    assert m["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert m["mae"] == pytest.approx(2 / 3)
    assert m["rel"] == pytest.approx(1 / 3)
    for k in ("delta_1.05", "delta_1.10", "delta_1.25"):
        assert m[k] == pytest.approx(2 / 3)
    assert all(isinstance(v, (int, float)) for v in m.values())


def test_depth_delta_thresholds_are_strict_and_symmetric():
    gt = np.ones(4)
    pred = np.array([1.04, 1.06, 1.0 / 1.2, 1.3])  # ratios 1.04, 1.06, 1.2, 1.3
    m = depth_metrics(pred, gt)
    assert m["delta_1.05"] == pytest.approx(1 / 4)
    assert m["delta_1.10"] == pytest.approx(2 / 4)
    assert m["delta_1.25"] == pytest.approx(3 / 4)
    m2 = depth_metrics(np.array([2.0, 1.0]), np.array([1.0, 2.0]))  # ratio 2 both ways
    assert m2["delta_1.25"] == 0.0
    assert m2["rel"] == pytest.approx((1.0 + 0.5) / 2)


def test_depth_metrics_excludes_missing_gt_and_honours_valid_and_mask():
    pred = np.array([1.0, 5.0, 5.0, 3.0, 9.0])
    gt = np.array([1.0, 0.0, np.nan, 2.0, 9.0])
    m = depth_metrics(pred, gt)
    assert m["count"] == 3
    assert m["mae"] == pytest.approx(1 / 3)
    valid = np.array([True, True, True, True, False])
    assert depth_metrics(pred, gt, valid=valid)["mae"] == pytest.approx(0.5)
    mask = np.array([False, True, True, True, True])
    assert depth_metrics(pred, gt, mask=mask)["mae"] == pytest.approx(0.5)
    assert depth_metrics(pred, gt, valid=valid, mask=mask)["count"] == 1


def test_depth_metrics_invalid_predictions():
    pred = np.array([np.nan, 2.0, -1.0, 4.0, np.inf])
    gt = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    m = depth_metrics(pred, gt)
    assert m["count"] == 5 and m["invalid_pred"] == 3
    assert m["rmse"] == pytest.approx(math.sqrt(2.0))
    assert m["mae"] == pytest.approx(1.0)
    assert m["rel"] == pytest.approx(0.5)
    assert m["delta_1.25"] == pytest.approx(1 / 5)  # failures count in the denominator
    all_bad = depth_metrics(np.array([0.0, np.nan]), np.array([1.0, 1.0]))
    assert math.isnan(all_bad["rmse"]) and all_bad["delta_1.25"] == 0.0 and all_bad["invalid_pred"] == 2


def test_depth_metrics_empty_selection_is_nan():
    m = depth_metrics(np.array([1.0, 2.0]), np.array([0.0, np.nan]))
    assert m["count"] == 0 and m["invalid_pred"] == 0
    for k in ("rmse", "mae", "rel", "delta_1.05", "delta_1.10", "delta_1.25"):
        assert math.isnan(m[k]), k


def test_depth_metrics_torch_and_shapes():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 4.0, size=(2, 1, 6, 7))
    pred = gt * rng.uniform(0.8, 1.2, size=gt.shape)
    ref = depth_metrics(pred, gt)
    t = depth_metrics(torch.tensor(pred, dtype=torch.float32, requires_grad=True), torch.tensor(gt))
    for k, v in ref.items():
        assert t[k] == pytest.approx(v, rel=1e-5), k
    squeezed = depth_metrics(pred[:, 0], gt, valid=np.ones((2, 6, 7), bool))
    assert squeezed["rmse"] == pytest.approx(ref["rmse"])
    with pytest.raises(ValueError):
        depth_metrics(pred[:, :, :3], gt)


def test_depth_sums_accumulate_to_pooled_metrics():
    rng = np.random.default_rng(1)
    g1, g2 = rng.uniform(1, 3, 10), rng.uniform(1, 3, 7)
    p1, p2 = g1 + rng.normal(0, 0.2, 10), g2 + rng.normal(0, 0.5, 7)
    p2[0] = np.nan
    s1, s2 = depth_error_sums(p1, g1), depth_error_sums(p2, g2)
    pooled = depth_metrics_from_sums({k: s1[k] + s2[k] for k in s1})
    ref = depth_metrics(np.concatenate([p1, p2]), np.concatenate([g1, g2]))
    for k, v in ref.items():
        assert pooled[k] == pytest.approx(v), k


def test_depth_metrics_report_transparent_subset():
    pred = np.array([[1.0, 2.0], [4.0, 3.0]])
    gt = np.array([[1.0, 2.0], [2.0, 3.0]])
    seg = np.array([[0, 2], [2, 1]])
    r = depth_metrics_report(pred, gt, seg, transparent_class=2)
    assert set(r) == {"all", "transparent"}
    assert r["all"]["count"] == 4 and r["all"]["mae"] == pytest.approx(0.5)
    assert r["transparent"]["count"] == 2
    assert r["transparent"]["mae"] == pytest.approx(1.0)
    assert r["transparent"]["delta_1.25"] == pytest.approx(0.5)
    multi = depth_metrics_report(pred, gt, seg, transparent_class=(1, 2))
    assert multi["transparent"]["count"] == 3
    none = depth_metrics_report(pred, gt, np.zeros((2, 2), int))
    assert none["transparent"]["count"] == 0 and math.isnan(none["transparent"]["rmse"])


def test_median_scale_ratio_skips_missing_pixels():
    gt = np.array([[1.0, 2.0, 0.0], [4.0, np.nan, 2.0]])
    pred = np.array([[1.5, 3.0, 9.0], [6.0, 1.0, np.nan]])  # 1.5x where both are known
    assert median_scale_ratio(pred, gt) == pytest.approx(1.5)
    assert median_scale_ratio(torch.tensor(pred), torch.tensor(gt)) == pytest.approx(1.5)
    valid = np.array([[True, False, False], [False, False, False]])
    assert median_scale_ratio(pred * np.array([[1.0, 2.0, 1.0], [1.0, 1.0, 1.0]]), gt, valid) == pytest.approx(1.5)
    assert math.isnan(median_scale_ratio(np.full((2, 3), np.nan), gt))


def test_segmentation_by_hand_with_ignore():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    cm = confusion_matrix(pred, gt, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]
    m = segmentation_metrics(pred, gt, 3)
    assert m["iou_0"] == pytest.approx(1 / 2)
    assert m["iou_1"] == pytest.approx(2 / 3)
    assert m["iou_2"] == pytest.approx(1.0)
    assert m["miou"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["pixel_acc"] == pytest.approx(4 / 5)
    assert m["count"] == 5
    # the prediction at an ignored pixel does not matter
    pred2 = pred.copy()
    pred2[1, 2] = 2
    assert segmentation_metrics(pred2, gt, 3) == m
    # a different ignore index
    m3 = segmentation_metrics(pred, np.where(gt == 255, 7, gt), 3, ignore_index=7)
    assert m3 == m


def test_segmentation_absent_class_and_empty():
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    m = segmentation_metrics(pred, gt, 3)
    assert math.isnan(m["iou_2"])
    assert m["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)  # class 2 absent: not averaged
    # a class only predicted counts with IoU 0
    m2 = segmentation_metrics(np.array([0, 2, 1, 1]), gt, 3)
    assert m2["iou_2"] == 0.0 and m2["miou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    empty = segmentation_metrics(pred, np.full(4, 255), 3)
    assert empty["count"] == 0 and math.isnan(empty["miou"]) and math.isnan(empty["pixel_acc"])
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_confusion_accumulates_and_accepts_torch():
    rng = np.random.default_rng(2)
    g1, g2 = rng.integers(0, 4, (5, 6)), rng.integers(0, 4, (3, 6))
    p1, p2 = rng.integers(0, 4, (5, 6)), rng.integers(0, 4, (3, 6))
    g1[0, :3] = 255
    total = confusion_matrix(p1, g1, 4) + confusion_matrix(torch.from_numpy(p2), torch.from_numpy(g2), 4)
    ref = confusion_matrix(np.concatenate([p1, p2]), np.concatenate([g1, g2]), 4)
    assert np.array_equal(total, ref) and total.dtype == np.int64
    assert total.sum() == 5 * 6 + 3 * 6 - 3
    iou = iou_from_confusion(total)
    assert iou.shape == (4,)
    assert segmentation_metrics_from_confusion(total)["miou"] == pytest.approx(float(np.nanmean(iou)))


def _frames(n=3, h=6, w=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        gt = rng.uniform(0.5, 2.5, (1, 1, h, w))
        gt[..., 0, :2] = np.nan  # no ground truth
        pred = gt * rng.uniform(0.8, 1.3, gt.shape)
        valid = np.ones(gt.shape, bool)
        valid[..., -1, :] = False
        labels = rng.integers(0, classes, (1, h, w))
        labels[:, 0, -1] = 255  # ignored
        pred_labels = np.where(rng.random((1, h, w)) < 0.7, np.where(labels == 255, 0, labels), 0)
        yield pred, gt, valid, labels, pred_labels


def test_metric_accumulator_pools_frames_like_one_big_frame():
    """Frame-by-frame sums give the metrics of all pixels at once (depth over all and over the
    transparent class, IoUs), whatever the batching."""
    frames = list(_frames())
    acc = MetricAccumulator(num_classes=3, transparent_class=2)
    for pred, gt, valid, labels, pred_labels in frames:
        acc.add(torch.from_numpy(pred), gt, valid, torch.from_numpy(labels), pred_labels)
    pred, gt, valid, labels, pred_labels = (np.concatenate(parts) for parts in zip(*frames))
    result = acc.result()
    report = depth_metrics_report(pred, gt, seg_gt=labels, transparent_class=2, valid=valid)
    seg = segmentation_metrics(pred_labels, labels, 3)
    for key, value in report["all"].items():
        assert result[key] == pytest.approx(value, rel=1e-12), key
    for key, value in report["transparent"].items():
        assert result[f"t_{key}"] == pytest.approx(value, rel=1e-12), key
    assert 0 < result["t_count"] < result["count"]
    for key in ("miou", "pixel_acc", "iou_0", "iou_1", "iou_2"):
        assert result[key] == pytest.approx(seg[key], rel=1e-12), key
    assert result["transparent_iou"] == result["iou_2"]


def test_metric_accumulator_vector_round_trip_sums_two_shards():
    """What DDP does: each process's vector, summed, loaded into one accumulator."""
    frames = list(_frames(n=4, seed=1))
    whole = MetricAccumulator(3, 2)
    shards = [MetricAccumulator(3, 2), MetricAccumulator(3, 2)]
    for i, frame in enumerate(frames):
        whole.add(*frame)
        shards[i % 2].add(*frame)
    merged = MetricAccumulator(3, 2)
    merged.load_vector(shards[0].to_vector() + shards[1].to_vector())
    assert np.array_equal(merged.confusion, whole.confusion) and merged.confusion.dtype == np.int64
    for key, value in whole.result().items():
        assert merged.result()[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    with pytest.raises(ValueError, match="expected"):
        merged.load_vector(np.zeros(3))


def test_metric_accumulator_without_labels_scores_depth_only():
    acc = MetricAccumulator(2, 1)
    acc.add(np.full((4, 4), 2.0), np.full((4, 4), 1.0))
    result = acc.result()
    assert result["count"] == 16 and result["delta_1.25"] == 0.0
    assert result["t_count"] == 0 and math.isnan(result["t_rmse"])
    assert acc.confusion.sum() == 0 and math.isnan(result["miou"])
    empty = DepthErrorSums()
    assert empty.added == 0 and math.isnan(empty.metrics()["rmse"])
