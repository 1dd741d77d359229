"""Training-time camera degradations: shape and dtype kept, deterministic per seed, each one acts."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from egsa_ros.data.degradations import OFF, DegradationConfig, degrade, local_noise_std


@pytest.fixture(scope="module")
def image():
    yy, xx = np.mgrid[0:96, 0:128]
    rng = np.random.default_rng(0)
    img = np.stack([xx * 2 % 256, yy * 2 % 256, (xx + yy) % 256], axis=2).astype(np.uint8)
    img[30:60, 40:90] = rng.integers(0, 256, (30, 50, 3))
    return img


def test_shape_dtype_and_determinism(image):
    for seed in range(5):
        out = degrade(image, seed)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out, degrade(image, seed))
    outs = [degrade(image, s, DegradationConfig(p_exposure=1.0)) for s in (1, 2)]
    assert not np.array_equal(*outs)


def test_identity_when_all_off(image):
    out = degrade(image, 3, OFF)
    assert np.array_equal(out, image) and out is not image


@pytest.mark.parametrize(
    "switch, key",
    [
        ({"p_exposure": 1.0}, "exposure_stops"),
        ({"p_white_balance": 1.0}, "white_balance"),
        ({"p_vignetting": 1.0}, "vignetting"),
        ({"p_blur": 1.0, "motion_share": 0.0}, "blur_sigma_px"),
        ({"p_blur": 1.0, "motion_share": 1.0}, "motion_blur"),
        ({"p_noise": 1.0, "shot": (0.02, 0.03)}, "noise"),
        ({"p_jpeg": 1.0, "jpeg_quality": (30, 40)}, "jpeg_quality"),
        ({"p_light_pools": 1.0}, "light_pools"),
        ({"p_render_noise": 1.0}, "render_noise_std"),
        ({"p_render_denoise": 1.0}, "render_denoise"),
    ],
)
def test_each_degradation_changes_the_image(image, switch, key):
    record: dict = {}
    out = degrade(image, 4, replace(OFF, **switch), record=record)
    assert list(record) == [key]
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 0.3, key


def test_vignetting_darkens_corners_more_than_centre(image):
    flat = np.full((64, 64, 3), 180, np.uint8)
    out = degrade(flat, 0, replace(OFF, p_vignetting=1.0, vignetting=(0.5, 0.5))).astype(int)
    assert out[0, 0].mean() < out[32, 32].mean() - 20


def test_default_degradations_are_those_of_earlier_versions(image):
    """Adding a degradation (light pools, render noise: each drawn last and off by default) must not change what the
    default config gives a seed: earlier runs' training frames stay reproducible (digest of the
    version before light pools)."""
    digest = hashlib.sha256(b"".join(degrade(image, s).tobytes() for s in range(8))).hexdigest()[:16]
    assert digest == "138904cf2a04828d"


def test_light_pools_light_their_centres_and_leave_the_rest_at_the_ambient():
    flat = np.full((96, 128, 3), 200, np.uint8)
    record: dict = {}
    config = replace(OFF, p_light_pools=1.0, light_pool_count=(1, 1), light_pool_sigma=(0.1, 0.1))
    out = degrade(flat, 7, replace(config, light_pool_ambient=(0.2, 0.2)), record=record).astype(int)
    ((cx, cy),) = record["light_pools"]["centres"]
    centre = out[min(int(cy * 96), 95), min(int(cx * 128), 127)]
    far = out[0 if cy > 0.5 else 95, 0 if cx > 0.5 else 127]
    assert np.all(np.abs(centre - 200) <= 3), "the pool's centre keeps its light"
    linear_ratio = ((far[0] / 255 + 0.055) / 1.055) ** 2.4 / ((200 / 255 + 0.055) / 1.055) ** 2.4
    assert abs(linear_ratio - 0.2) < 0.03, "far from the pool the light is the ambient share"


def test_rejects_other_inputs(image):
    with pytest.raises(ValueError, match="uint8"):
        degrade(image.astype(np.float32), 0)
    with pytest.raises(ValueError, match="uint8"):
        degrade(image[..., 0], 0)


def test_local_noise_std_reads_the_std_of_added_noise():
    """On a flat grey image with Gaussian noise of std s (0-1 units) the estimate is s within 15 %."""
    rng = np.random.default_rng(5)
    for s in (0.01, 0.03):
        noisy = np.clip(128 + 255 * s * rng.standard_normal((120, 160, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
        estimate = float(np.median(local_noise_std(noisy)))
        assert abs(estimate - s) < 0.15 * s, (s, estimate)


def test_render_noise_flattening_raises_quiet_regions_to_the_noisy_ones():
    """A frame with one noisy patch (a path tracer's glass) on a quiet background: after flattening
    the background's noise is that of the patch (within 25 %), and the patch is left nearly as it was."""
    rng = np.random.default_rng(6)
    img = np.full((120, 160, 3), 120.0)
    img[40:80, 60:100] += 255 * 0.04 * rng.standard_normal((40, 40, 3))
    img[:, :] += 255 * 0.005 * rng.standard_normal(img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    config = replace(OFF, p_render_noise=1.0)  # the patch is 8 % of the frame: above the 0.95 quantile
    out = degrade(img, 0, config).astype(int)
    patch = (slice(45, 75), slice(65, 95))
    quiet = (slice(5, 35), slice(5, 50))
    before = local_noise_std(img)
    after = local_noise_std(out.astype(np.uint8))
    assert np.median(before[quiet]) < 0.3 * np.median(before[patch])
    assert abs(np.median(after[quiet]) / np.median(after[patch]) - 1.0) < 0.25
    changed = np.abs(out - img.astype(int))
    assert changed[patch].mean() < 0.25 * changed[quiet].mean()


def test_render_denoising_removes_noise_and_keeps_a_strong_edge_and_wins_over_flattening():
    """Noise of std 0.03 on two flat halves with a step of 120 levels between them: the bilateral
    filter cuts the noise by more than half and the step stays within 5 %; when both remedies
    are drawn, only the filter applies."""
    rng = np.random.default_rng(7)
    img = np.zeros((80, 120, 3))
    img[:, 60:] = 120.0
    img = np.clip(img + 70 + 255 * 0.03 * rng.standard_normal(img.shape), 0, 255).astype(np.uint8)
    record: dict = {}
    out = degrade(img, 0, replace(OFF, p_render_denoise=1.0, p_render_noise=1.0), record=record)
    assert list(record) == ["render_denoise"]
    for half in ((slice(10, 70), slice(5, 50)), (slice(10, 70), slice(70, 115))):
        assert out[half].astype(float).std() < 0.5 * img[half].astype(float).std()
    step = out[:, 62:66].astype(float).mean() - out[:, 54:58].astype(float).mean()
    assert abs(step - 120.0) < 6.0
