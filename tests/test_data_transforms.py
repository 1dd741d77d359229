"""The shared transforms: pipeline parity, depth/label resizing, K under resize/crop/flip/rotation,
augmentations that touch only what they should, tensors and validity masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from egsa_ros.data import transforms as T
from egsa_ros.model import build_model, get_preset
from egsa_ros.model.frame_graph import CameraFrameModel

# ------------------------------------------------------------------------------ helpers


def project(K, point):
    """3D point (camera frame, metres) -> pixel (u, v)."""
    p = np.asarray(K, float) @ np.asarray(point, float)
    return p[:2] / p[2]


def blob_image(h, w, u, v, sigma=2.5):
    """(h, w, 3) uint8: a grey-level Gaussian spot centred at pixel (u, v)."""
    ys, xs = np.mgrid[0:h, 0:w]
    spot = 250.0 * np.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * sigma**2))
    return np.repeat(np.rint(spot).astype(np.uint8)[..., None], 3, axis=2)


def centroid(rgb):
    weight = rgb[..., 0].astype(np.float64)
    weight[weight < 20] = 0  # ignore interpolation dust
    ys, xs = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


def marker_sample(K, point, h=60, w=80):
    """A sample whose image shows ``point``; labels mark the spot's pixel, depth is its z."""
    u, v = project(K, point)
    labels = np.zeros((h, w), np.int64)
    depth = np.full((h, w), 1.0, np.float32)
    iu, iv = int(round(u)), int(round(v))
    labels[iv - 1 : iv + 2, iu - 1 : iu + 2] = 2
    depth[iv - 1 : iv + 2, iu - 1 : iu + 2] = point[2]
    return {"rgb": blob_image(h, w, u, v), "depth": depth, "labels": labels, "K": np.array(K, float)}


K0 = np.array([[70.0, 0.0, 41.3], [0.0, 70.0, 28.6], [0.0, 0.0, 1.0]])
POINT = np.array([0.12, -0.05, 1.1])


# ---------------------------------------------------------------------- pipeline parity


@pytest.mark.parametrize("shape", [(480, 640), (64, 96), (50, 200), (30, 40), (100, 60)])
def test_resize_rgb_is_the_pipeline_resize(shape):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    h, w = 64, 96
    if shape == (h, w):
        expected = rgb
    else:
        if shape[0] >= h and shape[1] >= w:
            expected = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        elif shape[0] <= h and shape[1] <= w:
            expected = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        else:  # mixed: area on the shrinking side first
            shrunk = cv2.resize(rgb, (min(w, shape[1]), min(h, shape[0])), interpolation=cv2.INTER_AREA)
            expected = cv2.resize(shrunk, (w, h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(T.resize_rgb(rgb, (h, w)), expected)

    direct = np.ascontiguousarray(expected.transpose(2, 0, 1)[None], dtype=np.float32)
    np.testing.assert_array_equal(T.to_network_input(T.resize_rgb(rgb, (h, w))), direct)

    # The deployed graph resizes in-graph: cv2's INTER_AREA weights when shrinking (what
    # training saw; float summation order flips a rare .5 tie by one grey level), and when
    # enlarging, bilinear in float differs from cv2's fixed point by <= 1.
    cfg = get_preset("tiny", input_size=(h, w))
    for dynamic in (False, True):
        frame_model = CameraFrameModel(build_model(cfg), shape, dynamic=dynamic)
        with torch.no_grad():
            out = frame_model.to_network_size(torch.from_numpy(rgb)).numpy()
        assert out.shape == (1, 3, h, w)
        if shape[0] >= h and shape[1] >= w:
            assert np.abs(out - direct).max() <= 1.0 and (out != direct).mean() < 5e-3
        elif not dynamic:
            assert np.abs(out - direct).max() <= 1.0


# ------------------------------------------------------------------------ depth, labels


def test_nearest_depth_resize_creates_no_new_values_and_zeroes_invalid():
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.5, 2.5, (40, 60)).astype(np.float32)
    depth[5:15, 5:25] = np.nan
    depth[20:30, 30:50] = 0.0
    depth[0, :] = np.inf
    out = T.resize_depth(depth, (17, 23))
    assert out.shape == (17, 23) and out.dtype == np.float32 and np.isfinite(out).all()
    source_values = set(depth[np.isfinite(depth) & (depth > 0)].tolist()) | {0.0}
    assert set(out.ravel().tolist()) <= source_values
    # enlarging by 2 repeats each pixel exactly (pixel-centre nearest)
    big = T.resize_depth(np.nan_to_num(depth[1:], posinf=0), (78, 120))
    np.testing.assert_array_equal(big[::2, ::2], np.nan_to_num(depth[1:], nan=0.0))


def test_valid_mean_depth_resize_never_blends_invalid_pixels():
    depth = np.full((40, 40), 2.0, np.float32)
    depth[::2, ::2] = 0.0  # a quarter invalid, spread everywhere
    depth[:, 30:] = np.nan  # a fully invalid band
    out = T.resize_depth(depth, (10, 10), mode="valid_mean")
    assert set(np.unique(out).tolist()) <= {0.0, 2.0}
    assert (out[:, :7] == 2.0).all() and (out[:, 8:] == 0.0).all()
    up = T.resize_depth(depth, (80, 80), mode="valid_mean")
    assert np.allclose(up[up > 0], 2.0)
    with pytest.raises(ValueError, match="mode"):
        T.resize_depth(depth, (10, 10), mode="cubic")


def test_label_resize_keeps_values_and_dtype():
    labels = np.random.default_rng(2).choice(np.array([0, 1, 2, 255]), (33, 47)).astype(np.int64)
    for size in ((10, 14), (66, 94), (33, 47)):
        out = T.resize_labels(labels, size)
        assert out.shape == size and out.dtype == np.int64
        assert set(np.unique(out)) <= {0, 1, 2, 255}


# ---------------------------------------------------------------- K follows the image


@pytest.mark.parametrize("size", [(30, 40), (45, 100), (120, 160)])
def test_resize_moves_the_projected_point_with_the_image(size):
    sample = marker_sample(K0, POINT)
    out = T.resize_sample(sample, size)
    assert out["rgb"].shape[:2] == size and out["depth"].shape == size and out["labels"].shape == size
    np.testing.assert_allclose(centroid(out["rgb"]), project(out["K"], POINT), atol=0.15)
    # the label marker (nearest) lands on the projected pixel too
    u, v = project(out["K"], POINT)
    assert out["labels"][int(round(v)), int(round(u))] == 2


def test_crop_and_random_crop_resize_move_the_point_with_the_image():
    sample = marker_sample(K0, POINT)
    cropped = T.crop_sample(sample, 7, 11, 40, 55)
    assert cropped["rgb"].shape[:2] == (40, 55)
    np.testing.assert_allclose(centroid(cropped["rgb"]), project(cropped["K"], POINT), atol=0.05)
    with pytest.raises(ValueError, match="outside"):
        T.crop_sample(sample, 30, 0, 40, 55)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        out = T.random_crop_resize(sample, rng, min_scale=0.75, size=(48, 64))
        assert out["rgb"].shape[:2] == (48, 64)
        np.testing.assert_allclose(centroid(out["rgb"]), project(out["K"], POINT), atol=0.2)
    # seeded: same generator state, same crop
    a = T.random_crop_resize(sample, np.random.default_rng(5), min_scale=0.7)
    b = T.random_crop_resize(sample, np.random.default_rng(5), min_scale=0.7)
    np.testing.assert_array_equal(a["K"], b["K"])
    assert a["rgb"].shape == sample["rgb"].shape


def test_zoom_out_is_a_wider_camera_at_the_same_place_with_an_unlabelled_border():
    sample = marker_sample(K0, POINT)  # 80x60
    out = T.zoom_out_sample(sample, 0.6, 5, 20)  # the view shrinks to 48x36 at row 5, column 20
    assert out["rgb"].shape == sample["rgb"].shape and out["labels"].shape == (60, 80)
    assert out["K"][0, 0] == pytest.approx(K0[0, 0] * 0.6) and out["K"][1, 1] == pytest.approx(K0[1, 1] * 0.6)
    window = (slice(5, 41), slice(20, 68))
    inside = np.zeros((60, 80), bool)
    inside[window] = True
    # the spot (inside the view) is where the new K projects the point; its depth is unchanged
    spot = np.where(inside[..., None], out["rgb"], 0)
    np.testing.assert_allclose(centroid(spot), project(out["K"], POINT), atol=0.2)
    u, v = np.rint(project(out["K"], POINT)).astype(int)
    assert out["labels"][v, u] == 2 and out["depth"][v, u] == pytest.approx(POINT[2])
    # the border is mirrored scene for the eye, but no loss or metric reads it
    assert (out["labels"][~inside] == T.IGNORE_INDEX).all() and (out["depth"][~inside] == 0).all()
    assert out["rgb"][~inside].any(), "the border should be filled with mirrored scene, not black"
    for bad in ((0.0, 0, 0), (1.2, 0, 0), (0.6, 30, 0)):
        with pytest.raises(ValueError):
            T.zoom_out_sample(sample, *bad)
    for seed in range(3):
        rnd = T.random_zoom_out(sample, np.random.default_rng(seed), min_scale=0.5)
        scale = rnd["K"][0, 0] / K0[0, 0]
        assert 0.5 - 0.02 <= scale <= 1.0 and (rnd["labels"] == T.IGNORE_INDEX).any() == (scale < 0.99)


def test_flip_mirrors_the_scene_and_cx():
    sample = marker_sample(K0, POINT)
    out = T.hflip_sample(sample)
    W = sample["rgb"].shape[1]
    assert out["K"][0, 2] == pytest.approx(W - 1 - K0[0, 2])
    mirrored = POINT * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(centroid(out["rgb"]), project(out["K"], mirrored), atol=0.05)
    np.testing.assert_array_equal(out["labels"], sample["labels"][:, ::-1])
    np.testing.assert_array_equal(T.hflip_sample(out)["K"], K0)


@pytest.mark.parametrize("angle", [-9.0, 4.0])
def test_rotation_about_the_principal_point_is_a_camera_roll(angle):
    sample = marker_sample(K0, POINT)
    out = T.rotate_sample(sample, angle)
    np.testing.assert_array_equal(out["K"], K0)
    M = T.rotation_matrix_2d(K0, angle)
    roll = np.eye(3)
    roll[:2, :2] = M[:, :2]  # fx == fy: the 2D rotation of pixel offsets is a 3D roll
    np.testing.assert_allclose(centroid(out["rgb"]), project(K0, roll @ POINT), atol=0.2)
    u, v = project(K0, roll @ POINT)
    assert out["labels"][int(round(v)), int(round(u))] == 2
    assert out["depth"][int(round(v)), int(round(u))] == pytest.approx(POINT[2])


def test_rotation_pads_labels_with_ignore_and_depth_with_invalid():
    sample = marker_sample(K0, POINT)
    out = T.rotate_sample(sample, 10.0)
    assert out["labels"][0, 0] == T.IGNORE_INDEX and out["labels"][-1, -1] == T.IGNORE_INDEX
    assert out["depth"][0, 0] == 0.0 and out["depth"][-1, -1] == 0.0
    assert set(np.unique(out["labels"])) <= {0, 2, T.IGNORE_INDEX}
    assert (out["labels"] == 0).any()


# ----------------------------------------------------------------------------- colour


def test_color_jitter_changes_only_rgb():
    sample = marker_sample(K0, POINT)
    sample["rgb"] = np.random.default_rng(3).integers(0, 256, sample["rgb"].shape, dtype=np.uint8)
    np.testing.assert_array_equal(T.color_jitter(sample["rgb"]), sample["rgb"])
    out = T.random_color_jitter(sample, np.random.default_rng(4), brightness=0.4, contrast=0.4, saturation=0.4)
    assert out["rgb"].dtype == np.uint8 and not np.array_equal(out["rgb"], sample["rgb"])
    for key in ("depth", "labels", "K"):
        assert out[key] is sample[key]
    grey = T.color_jitter(sample["rgb"], saturation=0.0)
    assert np.abs(grey.astype(int) - grey[..., :1].astype(int)).max() <= 1
    darker = T.color_jitter(sample["rgb"], brightness=0.5)
    assert darker.mean() == pytest.approx(sample["rgb"].mean() * 0.5, abs=0.6)


# ------------------------------------------------------------------- composed transforms


def _full_sample():
    s = marker_sample(K0, POINT)
    s["depth"][0, :5] = np.nan
    s["depth"][1, :5] = 0.0
    s["depth"][2, :5] = 3.5  # beyond d_max
    s["depth"][3, :5] = 0.2  # below d_min
    s["uid"] = "abc"
    return s


def test_eval_transform_outputs_tensors_and_validity():
    sample = _full_sample()
    out = T.EvalTransform((60, 80), d_min=0.3, d_max=3.0)(sample)
    assert out["rgb"].shape == (3, 60, 80) and out["rgb"].dtype == torch.float32
    assert float(out["rgb"].max()) <= 255.0 and float(out["rgb"].max()) > 200.0
    assert out["depth"].shape == (1, 60, 80) and out["depth"].dtype == torch.float32
    assert out["valid"].shape == (1, 60, 80) and out["valid"].dtype == torch.bool
    assert out["labels"].shape == (60, 80) and out["labels"].dtype == torch.int64
    assert out["K"].shape == (3, 3) and out["K"].dtype == torch.float32
    assert out["uid"] == "abc"
    valid = out["valid"][0]
    assert not valid[:4, :5].any() and valid[4:, :].all()
    assert (out["depth"][0][~valid] == 0).all() and torch.isfinite(out["depth"]).all()
    # at another size, K is scaled the same way as resize_sample
    small = T.EvalTransform((30, 40), 0.0, 3.0)(sample)
    np.testing.assert_allclose(small["K"].numpy(), T.scale_intrinsics(K0, (60, 80), (30, 40)), rtol=1e-6)


def test_train_transform_is_seeded_pure_and_consistent():
    sample = _full_sample()
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.items()}
    tf = T.TrainTransform((48, 64), 0.0, 3.0, p_crop=1.0, p_flip=1.0, p_rotate=1.0, p_color=1.0)
    a = tf(sample, np.random.default_rng(7))
    b = tf(sample, np.random.default_rng(7))
    c = tf(sample, np.random.default_rng(8))
    for key in ("rgb", "depth", "valid", "labels", "K"):
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a["K"], c["K"])
    for key, value in before.items():  # the input sample is untouched
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(sample[key], value)
    assert a["rgb"].shape == (3, 48, 64) and a["labels"].shape == (48, 64)
    assert set(torch.unique(a["labels"]).tolist()) <= {0, 2, T.IGNORE_INDEX}
    # without an rng: the fallback generator follows torch.manual_seed
    torch.manual_seed(3)
    d = T.TrainTransform((48, 64), 0.0, 3.0, seed=1)(sample)
    torch.manual_seed(3)
    e = T.TrainTransform((48, 64), 0.0, 3.0, seed=1)(sample)
    assert torch.equal(d["rgb"], e["rgb"]) and torch.equal(d["K"], e["K"])


def test_train_transform_geometry_stays_consistent():
    """After crop + flip (no rotation), the image spot is where K' projects the mirrored point."""
    tf = T.TrainTransform((48, 64), 0.0, 3.0, p_crop=1.0, p_flip=1.0, p_rotate=0.0, p_color=0.0, crop_min_scale=0.8)
    out = tf(marker_sample(K0, POINT), np.random.default_rng(11))
    rgb = out["rgb"].permute(1, 2, 0).numpy().astype(np.uint8)
    mirrored = POINT * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(centroid(rgb), project(out["K"].double().numpy(), mirrored), atol=0.2)


def test_zoom_out_in_the_train_transform_only_when_asked_and_streams_kept_without_it():
    sample = _full_sample()
    plain = T.TrainTransform((48, 64), 0.0, 3.0, p_crop=0.0)
    off = T.TrainTransform((48, 64), 0.0, 3.0, p_crop=0.0, p_zoom_out=0.0, zoom_out_min_scale=0.5)
    on = T.TrainTransform((48, 64), 0.0, 3.0, p_crop=0.0, p_zoom_out=1.0, zoom_out_min_scale=0.5)
    a, b = plain(sample, np.random.default_rng(4)), off(sample, np.random.default_rng(4))
    for key in ("rgb", "depth", "labels", "K"):
        assert torch.equal(a[key], b[key]), key
    c = on(sample, np.random.default_rng(4))
    fx_scale = float(c["K"][0, 0] / a["K"][0, 0])
    border = c["labels"] == T.IGNORE_INDEX
    assert 0.48 <= fx_scale < 1.0 and border.any() and not c["valid"][0][border].any()


def test_transform_arguments_are_checked():
    with pytest.raises(ValueError, match="p_flip"):
        T.TrainTransform((8, 8), 0.0, 3.0, p_flip=1.5)
    with pytest.raises(ValueError, match="p_zoom_out"):
        T.TrainTransform((8, 8), 0.0, 3.0, p_zoom_out=-0.1)
    with pytest.raises(ValueError, match="zoom_out_min_scale"):
        T.TrainTransform((8, 8), 0.0, 3.0, zoom_out_min_scale=0.0)
    with pytest.raises(ValueError, match="depth_mode"):
        T.EvalTransform((8, 8), 0.0, 3.0, depth_mode="linear")
