"""Test-time fixes for the depth scale of cameras outside the trained focal range: the focal
exponent and the canonical-view pass (egsa_ros.runtime.canonical_view)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from egsa_ros.model import build_model, get_preset
from egsa_ros.model.inference_options import InferenceOptions
from egsa_ros.model.test_time import camera_depth_scale
from egsa_ros.runtime.backends import make_backend
from egsa_ros.runtime.canonical_view import canonical_view, second_lens, view_scale
from egsa_ros.runtime.pipeline import Pipeline

SPAN = (0.5, 1.375)  # fx / width of 90 and 40 deg lenses


def _frame(height=96, width=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_focal_exponent_is_the_power_of_the_focal_ratio_in_numpy_and_torch():
    options = InferenceOptions(canonical_focal=0.5, focal_exponent=0.8)
    assert options.depth_scale(640.0, 640) == pytest.approx(2.0**0.8)
    assert options.depth_scale(160.0, 640) == pytest.approx(0.5**0.8)
    assert options.depth_scale(None, 640) == 1.0
    K = torch.tensor([[[640.0, 0, 319.5], [0, 640.0, 239.5], [0, 0, 1]]])
    assert float(camera_depth_scale(K, 640, options)) == pytest.approx(2.0**0.8, rel=1e-6)
    assert InferenceOptions.from_dict(options.to_dict()) == options
    assert "focal exponent 0.8" in options.describe()
    for bad in (0.0, -0.5, 2.5, float("nan")):
        with pytest.raises(ValueError, match="focal_exponent"):
            InferenceOptions(focal_exponent=bad)


def test_canonical_view_range_is_validated_and_round_trips():
    options = InferenceOptions(canonical_focal=0.785, canonical_view_focal=[0.5, 1.375])
    assert options.canonical_view_focal == SPAN
    assert InferenceOptions.from_dict(options.to_dict()) == options
    assert "second view outside fx/W 0.5-1.375" in options.describe()
    for bad in ((1.0, 0.5), (0.0, 1.0), (0.5, float("inf")), (0.5,)):
        with pytest.raises(ValueError, match="canonical_view_focal"):
            InferenceOptions(canonical_view_focal=bad)


def test_no_view_inside_the_trained_range():
    rgb = _frame()
    for focal in (0.5, 0.9, 1.375):
        assert canonical_view(rgb, focal * rgb.shape[1], SPAN) is None


def test_a_narrow_lens_is_shrunk_into_a_mirrored_border_at_the_long_end_of_the_range():
    rgb = _frame()
    fx = 2.75 * 128  # twice the longest trained focal length
    view = canonical_view(rgb, fx, SPAN)
    assert view.rgb.shape == rgb.shape and view.rgb.dtype == np.uint8
    assert view.zoom == pytest.approx(0.5)
    assert view.fx / 128 == pytest.approx(1.375)  # the view is a 40 deg camera
    y0, x0, y1, x1 = view.box
    assert (y0, x0, y1, x1) == (24, 32, 72, 96)
    np.testing.assert_array_equal(view.rgb[y0:y1, x0:x1], cv2.resize(rgb, (64, 48), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(view.rgb[y0 - 1], view.rgb[y0 + 1])  # mirrored, not black
    np.testing.assert_array_equal(view.rgb[:, x0 - 1], view.rgb[:, x0 + 1])


def test_a_wide_lens_sees_its_centre_enlarged_at_the_short_end_of_the_range():
    rgb = _frame()
    fx = 0.25 * 128  # half the shortest trained focal length
    view = canonical_view(rgb, fx, SPAN)
    assert view.zoom == pytest.approx(2.0)
    assert view.fx / 128 == pytest.approx(0.5)
    y0, x0, y1, x1 = view.box
    assert (y0, x0, y1, x1) == (24, 32, 72, 96)
    np.testing.assert_array_equal(view.rgb, cv2.resize(rgb[24:72, 32:96], (128, 96), interpolation=cv2.INTER_LINEAR))


def test_an_inset_moves_the_second_lens_toward_the_canonical_one_in_log_focal():
    assert second_lens(2.75, SPAN) == 1.375 and second_lens(0.25, SPAN) == 0.5
    assert second_lens(2.75, SPAN, toward=0.785, inset=0.5) == pytest.approx((1.375 * 0.785) ** 0.5)
    assert second_lens(0.25, SPAN, toward=0.785, inset=0.5) == pytest.approx((0.5 * 0.785) ** 0.5)
    assert second_lens(2.75, SPAN, toward=0.785, inset=0.0) == 1.375
    rgb = _frame()
    narrow = canonical_view(rgb, 2.75 * 128, SPAN, toward=0.785, inset=0.5)
    assert narrow.fx / 128 == pytest.approx((1.375 * 0.785) ** 0.5, rel=0.02)  # rounded to whole pixels
    assert narrow.zoom < canonical_view(rgb, 2.75 * 128, SPAN).zoom  # shrunk further
    wide = canonical_view(rgb, 0.25 * 128, SPAN, toward=0.785, inset=0.5)
    assert wide.fx / 128 == pytest.approx((0.5 * 0.785) ** 0.5, rel=0.02)
    assert canonical_view(rgb, 0.9 * 128, SPAN, toward=0.785, inset=0.5) is None  # the trigger range is unchanged


def test_the_inset_option_is_validated_named_and_round_trips():
    options = InferenceOptions(canonical_focal=0.785, canonical_view_focal=SPAN, canonical_view_inset=0.5)
    assert InferenceOptions.from_dict(options.to_dict()) == options
    assert "second view outside fx/W 0.5-1.375 (lens inset 0.5)" in options.describe()
    assert "inset" not in options.replace(canonical_view_inset=0).describe()
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="canonical_view_inset"):
            InferenceOptions(canonical_view_inset=bad)


def _smooth_depth(height=96, width=128):
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return 0.6 + 0.4 * yy / height + 0.1 * np.sin(xx / 9.0)


@pytest.mark.parametrize("focal, factor", [(2.75, 1.3), (0.25, 0.7)])
def test_view_scale_recovers_the_factor_between_consistent_views(focal, factor):
    depth = _smooth_depth()
    view = canonical_view(_frame(), focal * 128, SPAN)
    y0, x0, y1, x1 = view.box
    if view.zoom < 1:  # the view holds the frame shrunk into its box, the border unknown
        view_depth = np.full_like(depth, np.nan)
        view_depth[y0:y1, x0:x1] = cv2.resize(depth, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA) * factor
    else:  # the view is the centre enlarged
        view_depth = cv2.resize(depth[y0:y1, x0:x1], (128, 96), interpolation=cv2.INTER_LINEAR) * factor
    assert view_scale(depth, view_depth, view) == pytest.approx(factor, rel=0.01)
    assert np.isnan(view_scale(depth, np.full_like(depth, np.nan), view))  # nothing comparable


@pytest.fixture(scope="module")
def tiny_pipelines():
    torch.manual_seed(0)
    network = build_model(get_preset("tiny")).eval()
    backend = make_backend("torch", network=network)
    plain = Pipeline(backend, network.config, "tiny", options=InferenceOptions(canonical_focal=0.785))
    viewed = Pipeline(
        backend, network.config, "tiny", options=InferenceOptions(canonical_focal=0.785, canonical_view_focal=SPAN)
    )
    return backend, plain, viewed


def test_pipeline_leaves_frames_in_range_alone_and_rescales_the_others_by_their_view(tiny_pipelines):
    backend, plain, viewed = tiny_pipelines
    rgb = _frame(48, 80, seed=3)
    inside = 0.9 * 80
    np.testing.assert_array_equal(viewed(rgb, fx=inside).depth, plain(rgb, fx=inside).depth)
    assert "canonical_view" not in viewed(rgb, fx=inside).timings
    assert "canonical_view" not in viewed(rgb).timings  # no fx: no camera to correct
    for focal in (2.2, 0.3):
        fx = focal * 80
        first = plain(rgb, fx=fx)
        got = viewed(rgb, fx=fx)
        view = canonical_view(rgb, fx, SPAN)
        view_depth = backend.infer(view.rgb).depth * np.float32(plain.options.depth_scale(view.fx, 80))
        k = view_scale(first.depth, view_depth, view)
        assert np.isfinite(k) and k > 0
        np.testing.assert_allclose(got.depth, first.depth * k, rtol=1e-5)
        np.testing.assert_array_equal(got.mask, first.mask)  # the mask is the first view's
        assert got.timings["canonical_view"] > 0
        assert got.timings["total"] >= got.timings["canonical_view"]


def test_pipeline_takes_the_scale_of_the_inset_lens_and_names_it(tiny_pipelines):
    backend, plain, _ = tiny_pipelines
    options = InferenceOptions(canonical_focal=0.785, canonical_view_focal=SPAN, canonical_view_inset=0.5)
    pipe = Pipeline(backend, plain.config, "tiny", options=options)
    rgb, fx = _frame(48, 80, seed=6), 2.2 * 80
    view = canonical_view(rgb, fx, SPAN, toward=0.785, inset=0.5)
    view_depth = backend.infer(view.rgb).depth * np.float32(plain.options.depth_scale(view.fx, 80))
    first = plain(rgb, fx=fx)
    k = view_scale(first.depth, view_depth, view)
    np.testing.assert_allclose(pipe(rgb, fx=fx).depth, first.depth * k, rtol=1e-5)
    assert pipe.last_view_scale == pytest.approx(k)
    pipe.set_canonical_view(False)
    assert "second view" not in pipe.model_name
    pipe.set_canonical_view(True)
    assert pipe.model_name.count("second view outside fx/W 0.5-1.375 (lens inset 0.5)") == 1


def test_period_reuses_the_measured_scale_for_the_same_camera_and_the_switch_turns_it_off(tiny_pipelines):
    backend, plain, _ = tiny_pipelines
    pipe = Pipeline(
        backend, plain.config, "tiny", options=InferenceOptions(canonical_focal=0.785, canonical_view_focal=SPAN)
    )
    assert pipe.has_canonical_view
    pipe.set_canonical_view(True, period=3)
    a, b = _frame(48, 80, seed=4), _frame(48, 80, seed=5)
    fx = 2.2 * 80
    first = pipe(a, fx=fx)
    k_a = pipe.last_view_scale
    assert "canonical_view" in first.timings
    reused = pipe(b, fx=fx)  # frame 2 of 3: a's scale, no second pass
    assert "canonical_view" not in reused.timings
    np.testing.assert_allclose(reused.depth, plain(b, fx=fx).depth * k_a, rtol=1e-5)
    pipe(b, fx=fx)
    assert "canonical_view" in pipe(b, fx=fx).timings  # frame 4: measured again
    assert pipe.last_view_scale != k_a
    assert "canonical_view" in pipe(b, fx=0.3 * 80).timings  # another camera: measured at once
    assert "second view" not in plain.model_name
    assert pipe.model_name.count("second view outside fx/W") == 1
    pipe.set_canonical_view(False)
    assert "second view" not in pipe.model_name  # the ready line and diagnostics say it is off
    off = pipe(b, fx=fx)
    np.testing.assert_array_equal(off.depth, plain(b, fx=fx).depth)
    assert pipe.last_view_scale is None and "canonical_view" not in off.timings
    pipe.set_canonical_view(True)
    assert pipe.model_name.count("second view outside fx/W") == 1
    with pytest.raises(ValueError, match="period"):
        pipe.set_canonical_view(True, period=0)
    with pytest.raises(ValueError, match="no trained focal range"):
        plain.set_canonical_view(True)
