"""Tests of egsa_ros.losses: hand-computed values, minima, monotonicity, masking and gradients."""

import functools
import math

import pytest
import torch

from egsa_ros.losses import (
    MultiScaleLoss,
    deal_loss,
    depth_mse,
    egsa_total_loss,
    erode_mask,
    gradient_l1,
    image_level_labels,
    masked_ssim_map,
    modest_depth_loss,
    mse_ot_loss,
    normal_l1,
    normals_from_depth,
    ot_depth_loss,
    segmentation_ce,
    sobel_gradients,
    ssim_loss,
    weighted_depth_loss,
)

H, W = 16, 20


def val(x):
    """Python float of a (possibly grad-requiring) scalar tensor or of a plain value."""
    return float(x.detach()) if torch.is_tensor(x) else float(x)


def intrinsics(b=1, f=40.0, cx=9.5, cy=7.5):
    k = torch.tensor([[f, 0.0, cx], [0.0, f * 1.1, cy], [0.0, 0.0, 1.0]])
    return k.expand(b, 3, 3).clone()


def scene(b=2, seed=0, hole_frac=0.2):
    """A smooth random depth scene (metres) with NaN holes marked invalid."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(b, 1, 4, 5, generator=g) * 3.0 + 1.0
    depth = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=True)
    valid = torch.rand(b, 1, H, W, generator=g) > hole_frac
    target = torch.where(valid, depth, torch.full_like(depth, float("nan")))
    noise = torch.randn(b, 1, H, W, generator=g)
    return depth, target, valid, noise


DEPTH_LOSSES = {
    "mse": depth_mse,
    "grad": gradient_l1,
    "normal": normal_l1,
    "modest": modest_depth_loss,
    "weighted": weighted_depth_loss,
    "ot": ot_depth_loss,
    "mse_ot": mse_ot_loss,
    "ssim": lambda p, t, v, K: ssim_loss(p, t, v),
}


@pytest.mark.parametrize("name", sorted(DEPTH_LOSSES))
def test_depth_loss_zero_at_identity_and_monotone(name):
    fn = DEPTH_LOSSES[name]
    depth, target, valid, noise = scene()
    K = intrinsics(2)
    assert abs(val(fn(depth.clone(), target, valid, K))) < 1e-6
    values = [val(fn(depth + a * noise, target, valid, K)) for a in (0.02, 0.05, 0.1, 0.2)]
    assert values[0] > 0
    assert all(x < y for x, y in zip(values, values[1:])), values


@pytest.mark.parametrize("name", sorted(DEPTH_LOSSES))
def test_depth_loss_ignores_invalid_pixels_and_nan_targets(name):
    fn = DEPTH_LOSSES[name]
    depth, target, valid, noise = scene()
    K = intrinsics(2)
    pred = (depth + 0.1 * noise).requires_grad_()
    loss = fn(pred, target, valid, K)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[valid].abs().sum() > 0
    # invalid pixels get no gradient and changing the prediction there changes nothing
    assert val(pred.grad[~valid].abs().max()) == 0.0
    pred2 = torch.where(valid, pred.detach(), torch.full_like(depth, 50.0))
    assert val(fn(pred2, target, valid, K)) == pytest.approx(val(loss.detach()), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", sorted(DEPTH_LOSSES))
def test_depth_loss_all_invalid_is_zero_with_grad_path(name):
    fn = DEPTH_LOSSES[name]
    depth, _, _, noise = scene()
    valid = torch.zeros(2, 1, H, W, dtype=torch.bool)
    target = torch.full_like(depth, float("nan"))
    pred = (depth + noise).requires_grad_()
    loss = fn(pred, target, valid, intrinsics(2))
    assert val(loss) == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


@pytest.mark.parametrize("name", sorted(DEPTH_LOSSES))
def test_depth_loss_batch_independence(name):
    fn = DEPTH_LOSSES[name]
    depth, target, valid, noise = scene(b=2, seed=3)
    K = intrinsics(2)
    pred = depth + 0.1 * noise * torch.tensor([1.0, 2.0]).view(2, 1, 1, 1)
    both = val(fn(pred, target, valid, K))
    a = val(fn(pred[:1], target[:1], valid[:1], K[:1]))
    b = val(fn(pred[1:], target[1:], valid[1:], K[1:]))
    assert a != pytest.approx(b)
    assert both == pytest.approx((a + b) / 2, rel=1e-5)


def test_depth_mse_by_hand_with_masked_nan():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    target = torch.tensor([[[[1.0, 3.0], [float("nan"), 6.0]]]])
    valid = torch.tensor([[[[True, True], [False, True]]]])
    loss = depth_mse(pred, target, valid)
    assert val(loss) == pytest.approx((0 + 1 + 4) / 3)
    loss.backward()
    expected = torch.tensor([[[[0.0, -2.0 / 3], [0.0, -4.0 / 3]]]])
    assert torch.allclose(pred.grad, expected)


def test_depth_mse_valid_true_but_target_nan_is_ignored():
    pred = torch.tensor([[[[1.0, 5.0]]]])
    target = torch.tensor([[[[2.0, float("inf")]]]])
    valid = torch.ones(1, 1, 1, 2, dtype=torch.bool)
    assert val(depth_mse(pred, target, valid)) == pytest.approx(1.0)


def test_sobel_of_ramp_is_its_slope():
    j = torch.arange(W, dtype=torch.float32).view(1, 1, 1, W).expand(1, 1, H, W)
    i = torch.arange(H, dtype=torch.float32).view(1, 1, H, 1).expand(1, 1, H, W)
    gx, gy = sobel_gradients(0.3 * j - 0.7 * i)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    assert torch.allclose(gx[inner], torch.full_like(gx[inner], 0.3), atol=1e-5)
    assert torch.allclose(gy[inner], torch.full_like(gy[inner], -0.7), atol=1e-5)


def test_erode_mask_removes_border_and_hole_neighbours():
    v = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    v[0, 0, 2, 2] = False
    e = erode_mask(v)
    assert not e[0, 0, 0].any() and not e[0, 0, :, 0].any()  # border
    assert not e[0, 0, 1:4, 1:4].any()  # the 3x3 around the hole
    v2 = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    assert int(erode_mask(v2).sum()) == 9


def test_gradient_l1_of_added_ramp_is_the_slope():
    depth, target, valid, _ = scene(b=1)
    j = torch.arange(W, dtype=torch.float32).view(1, 1, 1, W)
    assert val(gradient_l1(depth + 0.05 * j, target, valid)) == pytest.approx(0.05, rel=1e-4)
    # a constant offset has no gradient error
    assert val(gradient_l1(depth + 1.0, target, valid)) == pytest.approx(0.0, abs=1e-5)


def plane_depth(normal, point, K, h=H, w=W):
    """Depth map of the plane {X : n.X = n.point} seen by a camera with intrinsics K (3, 3)."""
    n = torch.tensor(normal, dtype=torch.float64)
    n = n / n.norm()
    c = val(n @ torch.tensor(point, dtype=torch.float64))
    vs, us = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    rays = torch.linalg.inv(K.double()) @ torch.stack([us, vs, torch.ones_like(us)]).reshape(3, -1)
    z = c / (n @ rays)
    return z.reshape(1, 1, h, w).float(), n.float()


def test_normals_of_fronto_parallel_plane_point_to_camera():
    K = intrinsics(1)
    n = normals_from_depth(torch.full((1, 1, H, W), 2.0), K)
    assert n.shape == (1, 3, H, W)
    inner = n[0, :, 1:-1, 1:-1]
    assert torch.allclose(inner[2], torch.full_like(inner[2], -1.0), atol=1e-6)
    assert inner[:2].abs().max() < 1e-6
    assert n[0, :, 0].abs().max() == 0  # border is zero


def test_normals_of_tilted_plane():
    K = intrinsics(1)
    depth, n0 = plane_depth([0.4, -0.3, -1.0], [0.0, 0.0, 3.0], K[0])
    n = normals_from_depth(depth, K)[0, :, 1:-1, 1:-1]
    assert torch.allclose(n, n0.view(3, 1, 1).expand_as(n), atol=1e-4)
    # unit length
    assert torch.allclose(n.norm(dim=0), torch.ones(H - 2, W - 2), atol=1e-5)


def test_normal_l1_between_two_planes_by_hand():
    K = intrinsics(1)
    flat, _ = plane_depth([0.0, 0.0, -1.0], [0.0, 0.0, 3.0], K[0])
    tilted, n1 = plane_depth([0.6, 0.0, -0.8], [0.0, 0.0, 3.0], K[0])
    valid = torch.ones(1, 1, H, W, dtype=torch.bool)
    expected = val((n1 - torch.tensor([0.0, 0.0, -1.0])).abs().sum())  # 0.6 + 0.2
    assert val(normal_l1(tilted, flat, valid, K)) == pytest.approx(expected, rel=1e-4)
    # scaling the depth keeps the normals
    assert val(normal_l1(1.7 * tilted, tilted, valid, K)) < 1e-5


def test_normals_with_valid_mask_zero_near_holes():
    K = intrinsics(1)
    d = torch.full((1, 1, H, W), 2.0)
    valid = torch.ones(1, 1, H, W, dtype=torch.bool)
    valid[0, 0, 5, 5] = False
    d[0, 0, 5, 5] = float("nan")
    n = normals_from_depth(d, K, valid)
    assert torch.isfinite(n).all()
    assert n[0, :, 4:7, 4:7].abs().max() == 0
    assert n[0, 2, 8, 8] == pytest.approx(-1.0)


def test_modest_is_sum_of_terms_and_weights():
    depth, target, valid, noise = scene()
    K = intrinsics(2)
    pred = depth + 0.1 * noise
    parts = [depth_mse(pred, target, valid), gradient_l1(pred, target, valid), normal_l1(pred, target, valid, K)]
    assert val(modest_depth_loss(pred, target, valid, K)) == pytest.approx(val(sum(parts)), rel=1e-6)
    w = val(modest_depth_loss(pred, target, valid, K, w_grad=2.0, w_normal=0.0))
    assert w == pytest.approx(val(parts[0] + 2 * parts[1]), rel=1e-6)


def test_ssim_identical_is_one_and_constant_offset_by_hand():
    x = torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(1))
    m = torch.ones_like(x, dtype=torch.bool)
    assert torch.allclose(masked_ssim_map(x, x, m), torch.ones_like(x), atol=1e-5)
    # constant images a, b: SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = 1e-4
    a, b = 0.5, 0.25
    s = (2 * a * b + 1e-4) / (a * a + b * b + 1e-4)
    pred = torch.full((1, 1, H, W), 10.0 * a)
    target = torch.full((1, 1, H, W), 10.0 * b)
    assert val(ssim_loss(pred, target, m, max_depth=10.0)) == pytest.approx((1 - s) / 2, rel=1e-4)
    total = val(weighted_depth_loss(pred, target, m, max_depth=10.0))
    assert total == pytest.approx(0.6 * 2.5 + 0.2 * 0.0 + (1 - s) / 2, rel=1e-4)


def test_masked_ssim_ignores_values_in_holes():
    depth, target, valid, noise = scene(b=1)
    t_clean = torch.where(valid, target, torch.zeros_like(target))
    t_other = torch.where(valid, target, torch.full_like(target, 7.0))
    s1 = masked_ssim_map(depth / 10, t_clean / 10, valid)
    s2 = masked_ssim_map(depth / 10, t_other / 10, valid)
    assert torch.allclose(s1[valid], s2[valid])


def test_ot_by_hand():
    p = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3)
    t = torch.tensor([2.0, 3.0, 4.0]).view(1, 1, 1, 3)
    v = torch.ones_like(p, dtype=torch.bool)
    assert val(ot_depth_loss(p, t, v)) == pytest.approx(1.0)
    # order of pixels does not matter
    assert val(ot_depth_loss(p[..., [2, 0, 1]], t[..., [1, 2, 0]], v)) == pytest.approx(1.0)
    assert val(ot_depth_loss(t[..., [2, 0, 1]], t, v)) == 0.0
    # W1 with p=1
    assert val(ot_depth_loss(p, t, v, p=1.0)) == pytest.approx(1.0)
    # mse_ot = MSE + lam * W2^2
    assert val(mse_ot_loss(p[..., [2, 0, 1]], t, v, lam=0.5)) == pytest.approx((4 + 4 + 1) / 3 + 0.5 * 1.0)


def test_ot_variable_counts_and_nan_in_batch():
    nan = float("nan")
    p = torch.tensor([[3.0, 100.0, 1.0, 2.0], [0.0, 9.0, 0.0, -5.0]]).view(2, 1, 1, 4).requires_grad_()
    t = torch.tensor([[4.0, nan, 2.0, 3.0], [2.0, nan, 2.0, nan]]).view(2, 1, 1, 4)
    v = torch.isfinite(t)
    loss = ot_depth_loss(p, t, v)
    assert val(loss) == pytest.approx((1.0 + 4.0) / 2)
    loss.backward()
    assert torch.isfinite(p.grad).all()
    assert p.grad[0, 0, 0, 1] == 0 and p.grad[1, 0, 0, 1] == 0 and p.grad[1, 0, 0, 3] == 0


def test_image_level_labels():
    labels = torch.tensor([[[0, 2], [255, 2]], [[255, 255], [255, 255]], [[1, 1], [7, 0]]])
    y = image_level_labels(labels, 3, ignore_index=255)
    assert y.shape == (3, 3)
    assert y.tolist() == [[1, 0, 1], [0, 0, 0], [1, 1, 0]]


def step_scene(col_seg, col_depth, h=12, w=16, sharp=8.0):
    """Depth with a 1 m step after column col_depth; 2-class logits switching after col_seg.

    The class-1 probability is sigmoid(sharp * (j - col_seg - 0.5)): a sharp step for large
    ``sharp``, a boundary blurred over ~4/sharp columns for small ones.
    """
    j = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(1, 1, h, w)
    depth = torch.where(j > col_depth, torch.full((1, 1, h, w), 3.0), torch.full((1, 1, h, w), 2.0))
    logits = torch.cat([torch.zeros(1, 1, h, w), sharp * (j - col_seg - 0.5)], dim=1)
    return logits, depth


def test_deal_aligned_edges_near_minimum_and_misalignment_costs():
    y = torch.ones(1, 2)
    aligned = val(deal_loss(*step_scene(7, 7), y))
    shifted = val(deal_loss(*step_scene(3, 7), y))
    assert -1.0 < aligned < -0.9
    assert shifted > aligned + 0.2
    assert shifted < 1.0


def test_deal_monotone_in_edge_blur():
    y = torch.ones(1, 2)
    _, depth = step_scene(7, 7)
    vals = []
    for sharp in (8.0, 1.0, 0.3):  # softer class boundaries spread the edge over more columns
        logits, _ = step_scene(7, 7, sharp=sharp)
        vals.append(val(deal_loss(logits, depth, y)))
    assert vals[0] < vals[1] < vals[2], vals


def test_deal_label_weighting_batch_and_empty_labels():
    l1, d1 = step_scene(7, 7)
    l2, d2 = step_scene(3, 9)
    logits, depth = torch.cat([l1, l2]), torch.cat([d1, d2])
    y = torch.ones(2, 2)
    a = val(deal_loss(l1, d1, y[:1]))
    b = val(deal_loss(l2, d2, y[1:]))
    assert val(deal_loss(logits, depth, y)) == pytest.approx((a + b) / 2, rel=1e-6)
    # an image without labels contributes nothing
    y0 = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert val(deal_loss(logits, depth, y0)) == pytest.approx(a, rel=1e-6)
    zero = deal_loss(logits.requires_grad_(), depth, torch.zeros(2, 2))
    assert val(zero) == 0.0
    zero.backward()
    assert torch.isfinite(logits.grad).all()
    # only class 1 labelled: weights are y_k / sum(y) -> same as averaging over that class
    ya = torch.tensor([[0.0, 1.0]])
    assert val(deal_loss(l1, d1, ya)) == pytest.approx(a, rel=1e-3)  # symmetric 2-class edges


def test_deal_gradients_finite_with_nan_depth_and_valid_mask():
    logits, depth = step_scene(7, 7)
    valid = torch.ones_like(depth, dtype=torch.bool)
    valid[..., 2:4, 2:4] = False
    depth = torch.where(valid, depth, torch.full_like(depth, float("nan"))).requires_grad_()
    logits = logits.clone().requires_grad_()
    loss = deal_loss(logits, depth, torch.ones(1, 2), valid=valid)
    loss.backward()
    assert torch.isfinite(loss) and -1 < val(loss) < 0
    assert torch.isfinite(logits.grad).all() and torch.isfinite(depth.grad).all()
    assert logits.grad.abs().sum() > 0
    none = deal_loss(logits, depth, torch.ones(1, 2), valid=torch.zeros_like(valid))
    assert val(none) == 0.0


def test_segmentation_ce_all_ignored_is_zero():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    labels = torch.full((2, 4, 4), 255, dtype=torch.long)
    loss = segmentation_ce(logits, labels)
    assert val(loss) == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    labels[0, 0, 0] = 1
    ref = torch.nn.functional.cross_entropy(logits, labels, ignore_index=255)
    assert val(segmentation_ce(logits, labels)) == pytest.approx(val(ref), rel=1e-6)
    w = torch.tensor([1.0, 3.0, 0.5])
    ref_w = torch.nn.functional.cross_entropy(logits, labels, weight=w, ignore_index=255)
    assert val(segmentation_ce(logits, labels, class_weights=w)) == pytest.approx(val(ref_w), rel=1e-6)


def test_egsa_total_loss_sums_iterations_and_scales():
    n_i, n_s, b, k = 2, 3, 2, 3
    depth, target, valid, noise = scene(b=b)
    g = torch.Generator().manual_seed(5)
    noise_all = 0.1 * torch.randn(n_i, n_s, b, 1, H, W, generator=g)
    depth_all = (depth.unsqueeze(0).unsqueeze(0) + noise_all).requires_grad_()
    seg_all = torch.randn(n_i, n_s, b, k, H, W, generator=g, requires_grad=True)
    labels = torch.randint(0, k, (b, H, W), generator=g)
    labels[:, :2] = 255
    K = intrinsics(b)
    total, parts = egsa_total_loss(depth_all, seg_all, target, labels, valid, K, depth_weight=2.0, seg_weight=0.1)
    d_sum = sum(val(modest_depth_loss(depth_all[i, s], target, valid, K)) for i in range(n_i) for s in range(n_s))
    c_sum = sum(
        val(torch.nn.functional.cross_entropy(seg_all[i, s], labels, ignore_index=255))
        for i in range(n_i)
        for s in range(n_s)
    )
    assert val(total) == pytest.approx(2.0 * d_sum + 0.1 * c_sum, rel=1e-5)
    assert val(parts["depth"]) == pytest.approx(d_sum, rel=1e-5)
    assert val(parts["seg"]) == pytest.approx(c_sum, rel=1e-5)
    assert val(parts["total"]) == pytest.approx(val(total))
    assert "depth_i1_s2" in parts and not parts["depth"].requires_grad
    total.backward()
    assert torch.isfinite(depth_all.grad).all() and torch.isfinite(seg_all.grad).all()
    for i in range(n_i):
        for s in range(n_s):
            assert depth_all.grad[i, s].abs().sum() > 0 and seg_all.grad[i, s].abs().sum() > 0


def test_egsa_total_loss_pluggable_depth_loss_deal_and_module():
    b, k = 1, 3
    depth, target, valid, noise = scene(b=b)
    depth_all = (depth + 0.1 * noise).view(1, 1, b, 1, H, W)
    seg_all = torch.randn(1, 1, b, k, H, W, generator=torch.Generator().manual_seed(2))
    labels = torch.full((b, H, W), 255, dtype=torch.long)  # all ignored: CE is 0, not NaN
    fn = functools.partial(mse_ot_loss, lam=0.5)
    total, parts = egsa_total_loss(depth_all, seg_all, target, labels, valid, None, depth_loss=fn)
    assert val(total) == pytest.approx(val(mse_ot_loss(depth_all[0, 0], target, valid, lam=0.5)), rel=1e-6)
    assert val(parts["seg"]) == 0.0
    module = MultiScaleLoss(depth_loss=fn, seg_weight=0.1)
    assert val(module(depth_all, seg_all, target, labels, valid)[0]) == pytest.approx(val(total))
    labels = torch.randint(0, k, (b, H, W), generator=torch.Generator().manual_seed(4))
    t0, _ = egsa_total_loss(depth_all, seg_all, target, labels, valid, None, depth_loss=fn)
    t1, p1 = egsa_total_loss(depth_all, seg_all, target, labels, valid, None, depth_loss=fn, deal_weight=0.5)
    assert "deal" in p1 and -1.0 < val(p1["deal"]) < 1.0
    assert val(t1) == pytest.approx(val(t0) + 0.5 * val(p1["deal"]), rel=1e-5)
    nested = [[depth_all[0, 0]]], [[seg_all[0, 0]]]
    t2, _ = egsa_total_loss(*nested, target, labels, valid, None, depth_loss=fn)
    assert val(t2) == pytest.approx(val(t0))
    with pytest.raises(ValueError):
        egsa_total_loss(depth_all, seg_all.repeat(2, 1, 1, 1, 1, 1), target, labels, valid, None, depth_loss=fn)


def test_transparent_depth_term_by_hand_and_only_glass_errors_count():
    """The term is the depth loss over transparent pixels (per-image mean); errors elsewhere
    leave it unchanged, errors on glass raise it, an image without glass adds nothing."""
    b, k = 2, 3
    depth, target, valid, noise = scene(b=b, hole_frac=0.0)
    labels = torch.zeros((b, H, W), dtype=torch.long)
    labels[0, 4:10, 5:9] = 2  # glass in image 0 only
    glass = (labels == 2).unsqueeze(1)
    seg_all = torch.zeros(1, 1, b, k, H, W)
    off_glass = torch.where(glass, depth, depth + 0.3)  # wrong everywhere except on the glass
    on_glass = torch.where(glass, depth + 0.3, depth)  # wrong on the glass only

    def glass_part(pred, fn=depth_mse, **kw):
        total, parts = egsa_total_loss(
            pred.view(1, 1, b, 1, H, W),
            seg_all,
            target,
            labels,
            valid,
            None,
            depth_loss=fn,
            transparent_depth_weight=2.0,
            **kw,
        )
        plain, _ = egsa_total_loss(pred.view(1, 1, b, 1, H, W), seg_all, target, labels, valid, None, depth_loss=fn)
        assert val(total) == pytest.approx(val(plain) + 2.0 * val(parts["glassdepth"]), rel=1e-6)
        return val(parts["glassdepth"])

    assert glass_part(off_glass) == pytest.approx(0.0, abs=1e-10)
    # Only image 0 has glass: the mean is over that image's 24 glass pixels, 0.3^2 each.
    assert glass_part(on_glass) == pytest.approx(0.09, rel=1e-5)
    assert glass_part(on_glass, transparent_class=1) == 0.0  # no pixel of class 1
    _, parts = egsa_total_loss(
        on_glass.view(1, 1, b, 1, H, W), seg_all, target, labels, valid, None, depth_loss=depth_mse
    )
    assert "glassdepth" not in parts  # off by default: not computed


def test_transparent_depth_term_respects_invalid_depth_and_has_gradient_on_glass_only():
    b, k = 1, 3
    depth, target, valid, noise = scene(b=b, hole_frac=0.3)
    labels = torch.zeros((b, H, W), dtype=torch.long)
    labels[0, 2:14, 3:17] = 2
    pred = (depth + 0.1 * noise).view(1, 1, b, 1, H, W).requires_grad_()
    seg_all = torch.zeros(1, 1, b, k, H, W)
    module = MultiScaleLoss(depth_weight=0.0, seg_weight=0.0, depth_loss=depth_mse, transparent_depth_weight=1.0)
    total, _ = module(pred, seg_all, target, labels, valid)
    assert math.isfinite(val(total)) and val(total) > 0
    total.backward()
    touched = pred.grad[0, 0, 0, 0] != 0
    used = (labels[0] == 2) & valid[0, 0]
    assert torch.equal(touched, used)


def test_segmentation_ce_pixel_weights_by_hand():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 4, 5, generator=g, requires_grad=True)
    labels = torch.randint(0, 3, (2, 4, 5), generator=g)
    labels[0, 0, :2] = 255
    w = torch.tensor([1.0, 1.0, 2.0])
    ones = torch.ones(2, 4, 5)
    for cw in (None, w):  # unit pixel weights change nothing
        assert val(segmentation_ce(logits, labels, class_weights=cw, pixel_weights=ones)) == pytest.approx(
            val(segmentation_ce(logits, labels, class_weights=cw)), rel=1e-6
        )
    pixel = ones.clone()
    pixel[1, 2:, :] = 4.0  # e.g. opaque look-alikes weighted up
    each = torch.nn.functional.cross_entropy(logits, labels, weight=w, ignore_index=255, reduction="none")
    keep = labels != 255
    class_w = w[torch.where(keep, labels, 0)] * keep
    expected = (each * pixel).sum() / (class_w * pixel).sum()
    loss = segmentation_ce(logits, labels, class_weights=w, pixel_weights=pixel)
    assert val(loss) == pytest.approx(val(expected), rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="pixel_weights"):
        segmentation_ce(logits, labels, pixel_weights=torch.ones(2, 4, 4))
    none = torch.full((2, 4, 5), 255, dtype=torch.long)
    assert val(segmentation_ce(logits, none, pixel_weights=pixel)) == 0.0
