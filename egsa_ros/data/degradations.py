"""Training-time camera degradations of an RGB image: what real sensors and pipelines add.

:func:`degrade` applies, each with its own probability and a value drawn from a documented
range, in the order a camera would: uneven scene light (light pools, off by default), exposure,
white balance, vignetting, blur, sensor noise, JPEG, after an optional flattening or filtering of
the renderer's own noise (off by default). It works on (H, W, 3) uint8 RGB and returns
the same shape and dtype; the same seed gives the same result. Geometry is never changed, so depth
and mask labels stay valid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DegradationConfig:
    """Probabilities (0-1) and ranges of each degradation.

    exposure_stops: gain 2**s on linear intensities, s uniform in the range (stops).
    white_balance: per-channel linear gains for R and B, each uniform in the range (G fixed at 1).
    vignetting: relative darkening at the image corners, uniform in the range (0 = none).
    blur_sigma_px: Gaussian blur sigma, pixels (defocus); motion blur is a line kernel of
        ``motion_length_px`` pixels at a random angle, used for a ``motion_share`` of the blurs.
    noise: shot noise with std ``shot * sqrt(I)`` plus read noise of std ``read`` (I and both in
        0-1 linear units), each drawn uniformly from its range.
    jpeg_quality: JPEG quality, uniform integer in the range.
    light_pools: uneven scene light, as under a few spot lights: the linear image times
        ``ambient + (1 - ambient) * max_k exp(-d_k**2 / (2 sigma_k**2))``, ``count`` pools (uniform
        integer in the range) at uniform centres, ``sigma_k`` uniform in ``light_pool_sigma`` (a
        fraction of the image width), ``ambient`` uniform in its range. A 2-D approximation (the
        shading does not follow the geometry); off by default (``p_light_pools`` 0).
    render_noise: flattening of a path tracer's Monte Carlo noise, applied first (to the render):
        at a few samples per pixel a path tracer leaves glass and dim regions noisier than the
        rest, and a network trained on such frames takes noise for glass (the bundled model marks
        less glass on the same scenes rendered at 256 samples per pixel, and false glass on noisy
        dim backgrounds). The local noise std is estimated from the image itself (no label: the
        median absolute Laplacian residual over ``render_noise_window_px`` windows, Immerkaer's
        kernel) and Gaussian noise, the same on the three channels, is added so that every pixel
        reaches the frame's ``render_noise_quantile`` quantile of it; already noisier pixels are
        left alone. Off by default (``p_render_noise`` 0).
    render_denoise: the opposite remedy, also applied first and instead of ``render_noise`` when
        both are drawn: an edge-preserving bilateral filter (``render_denoise_diameter_px``,
        colour sigma ``render_denoise_sigma_colour`` in 0-255 units, space sigma
        ``render_denoise_sigma_space_px``) that brings a 32-sample render close to a clean one, so
        that training also shows glass without the path tracer's noise (of the filters tried on
        v2 val, the closest to the 256-sample renders of the same scenes: PSNR 29.1 -> 32.7 dB).
        Off by default (``p_render_denoise`` 0).
    """

    p_exposure: float = 0.5
    exposure_stops: tuple = (-1.0, 1.0)
    p_white_balance: float = 0.5
    white_balance: tuple = (0.8, 1.25)
    p_vignetting: float = 0.3
    vignetting: tuple = (0.1, 0.5)
    p_blur: float = 0.3
    blur_sigma_px: tuple = (0.4, 1.5)
    motion_share: float = 0.3
    motion_length_px: tuple = (3, 9)
    p_noise: float = 0.5
    shot: tuple = (0.0, 0.03)
    read: tuple = (0.0, 0.01)
    p_jpeg: float = 0.4
    jpeg_quality: tuple = (40, 95)
    p_light_pools: float = 0.0
    light_pool_count: tuple = (1, 3)
    light_pool_sigma: tuple = (0.1, 0.35)
    light_pool_ambient: tuple = (0.1, 0.5)
    p_render_noise: float = 0.0
    render_noise_window_px: int = 9
    render_noise_quantile: float = 0.95
    p_render_denoise: float = 0.0
    render_denoise_diameter_px: int = 7
    render_denoise_sigma_colour: float = 50.0
    render_denoise_sigma_space_px: float = 5.0

    def to_dict(self) -> dict:
        return asdict(self)


OFF = DegradationConfig(
    p_exposure=0.0, p_white_balance=0.0, p_vignetting=0.0, p_blur=0.0, p_noise=0.0, p_jpeg=0.0, p_light_pools=0.0
)
"""Every degradation switched off (:func:`degrade` returns the input unchanged)."""


def _to_linear(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb8(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0)
    s = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(s * 255.0).astype(np.uint8)


def _vignette(h: int, w: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
    return (1.0 - strength * np.clip(r2 / 2.0, 0.0, 1.0))[..., None]


def _light_pools(h: int, w: int, pools: dict) -> np.ndarray:
    """(H, W, 1) float32 light factor in [ambient, 1]: the brightest of the pools at each pixel."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.zeros((h, w), np.float32)
    for (cx, cy), sigma in zip(pools["centres"], pools["sigmas"]):
        d2 = (xx - cx * w) ** 2 + (yy - cy * h) ** 2
        light = np.maximum(light, np.exp(-d2 / (2.0 * (sigma * w) ** 2)))
    ambient = pools["ambient"]
    return (ambient + (1.0 - ambient) * light)[..., None]


_LAPLACIAN_RESIDUAL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
"""Immerkaer's kernel: zero on planes and linear ramps; on white noise of std s its output has std 6 s."""


def local_noise_std(image: np.ndarray, window_px: int = 9) -> np.ndarray:
    """(H, W) float32 local noise std of an (H, W, 3) uint8 image, in 0-1 sRGB units.

    The median of the absolute Laplacian residual of the grey image over a ``window_px`` square
    (odd, >= 3), divided by 6 * 0.6745 (the residual's std per unit noise std times the median
    absolute value of a unit Gaussian): robust to the few edge pixels in a window, but texture
    and edges that fill a window read as noise.
    """
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    residual = np.abs(cv2.filter2D(grey, -1, _LAPLACIAN_RESIDUAL, borderType=cv2.BORDER_REFLECT))
    scale = 512.0  # residual in 1/512 steps (std up to ~0.12), so a uint8 median filter (any window size) can take it
    steps = np.clip(np.round(residual * scale), 0, 255).astype(np.uint8)
    return cv2.medianBlur(steps, int(window_px)).astype(np.float32) / (scale * 6.0 * 0.6745)


def _flatten_render_noise(img: np.ndarray, window_px: int, quantile: float, seed: int) -> tuple[np.ndarray, float]:
    """``img`` with Gaussian noise added up to the ``quantile`` of its local noise std; returns the target std."""
    local = local_noise_std(img, window_px)
    target = float(np.quantile(local, quantile))
    extra = np.sqrt(np.clip(target**2 - local**2, 0.0, None))[..., None]
    # One value for the three channels: the estimate reads the grey image, and a path tracer's noise
    # is mostly shared by the channels (one path carries all three).
    noise = np.random.default_rng(seed).standard_normal((*img.shape[:2], 1)).astype(np.float32)
    out = img.astype(np.float32) + 255.0 * extra * noise
    return np.clip(np.round(out), 0, 255).astype(np.uint8), target


def _motion_kernel(length: int, angle_rad: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c + t * np.sin(angle_rad))), int(round(c + t * np.cos(angle_rad)))] = 1.0
    return k / k.sum()


def degrade(
    image: np.ndarray, seed: int, config: DegradationConfig = DegradationConfig(), record: dict | None = None
) -> np.ndarray:
    """Degraded copy of ``image`` ((H, W, 3) uint8 RGB), deterministic for ``seed``.

    ``record``, when given, receives the applied degradations and their drawn values.

    Raises:
        ValueError: the image is not (H, W, 3) uint8.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"degrade expects an (H, W, 3) uint8 image, got {img.dtype} {img.shape}")
    rng = np.random.default_rng([int(seed), 31])
    c = config
    applied: dict = {}
    # Draw every decision up front so one switched-off stage never shifts another's draws.
    draws = {name: rng.random() for name in ("exposure", "white_balance", "vignetting", "blur", "noise", "jpeg")}
    values = {
        "exposure": float(rng.uniform(*c.exposure_stops)),
        "white_balance": [float(rng.uniform(*c.white_balance)), 1.0, float(rng.uniform(*c.white_balance))],
        "vignetting": float(rng.uniform(*c.vignetting)),
        "blur_sigma": float(rng.uniform(*c.blur_sigma_px)),
        "motion": bool(rng.random() < c.motion_share),
        "motion_length": int(rng.integers(c.motion_length_px[0], c.motion_length_px[1] + 1)),
        "motion_angle": float(rng.uniform(0, np.pi)),
        "shot": float(rng.uniform(*c.shot)),
        "read": float(rng.uniform(*c.read)),
        "noise_seed": int(rng.integers(2**31)),
        "jpeg_quality": int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)),
    }
    # Drawn after every earlier value, so configs without light pools degrade exactly as before.
    draws["light_pools"] = rng.random()
    count = int(rng.integers(c.light_pool_count[0], c.light_pool_count[1] + 1))
    values["light_pools"] = {
        "centres": [[float(rng.uniform(0, 1)), float(rng.uniform(0, 1))] for _ in range(count)],
        "sigmas": [float(rng.uniform(*c.light_pool_sigma)) for _ in range(count)],
        "ambient": float(rng.uniform(*c.light_pool_ambient)),
    }
    # Drawn after the light pools' values for the same reason.
    draws["render_noise"] = rng.random()
    render_noise_seed = int(rng.integers(2**31))
    draws["render_denoise"] = rng.random()  # drawn last, for the same reason
    out = img
    if draws["render_denoise"] < c.p_render_denoise:
        out = cv2.bilateralFilter(
            np.ascontiguousarray(out),
            int(c.render_denoise_diameter_px),
            float(c.render_denoise_sigma_colour),
            float(c.render_denoise_sigma_space_px),
        )
        applied["render_denoise"] = True
    elif draws["render_noise"] < c.p_render_noise:
        out, target = _flatten_render_noise(out, c.render_noise_window_px, c.render_noise_quantile, render_noise_seed)
        applied["render_noise_std"] = target
    photometric = {
        k
        for k, p in (
            ("exposure", c.p_exposure),
            ("white_balance", c.p_white_balance),
            ("vignetting", c.p_vignetting),
            ("noise", c.p_noise),
            ("light_pools", c.p_light_pools),
        )
        if draws[k] < p
    }
    if photometric or draws["blur"] < c.p_blur:
        lin = _to_linear(out)
        if "light_pools" in photometric:
            lin = lin * _light_pools(*lin.shape[:2], values["light_pools"])
            applied["light_pools"] = values["light_pools"]
        if "exposure" in photometric:
            lin = lin * 2.0 ** values["exposure"]
            applied["exposure_stops"] = values["exposure"]
        if "white_balance" in photometric:
            lin = lin * np.asarray(values["white_balance"], np.float32)
            applied["white_balance"] = values["white_balance"]
        if "vignetting" in photometric:
            lin = lin * _vignette(*lin.shape[:2], values["vignetting"])
            applied["vignetting"] = values["vignetting"]
        if draws["blur"] < c.p_blur:
            if values["motion"]:
                lin = cv2.filter2D(
                    lin.astype(np.float32), -1, _motion_kernel(values["motion_length"], values["motion_angle"])
                )
                applied["motion_blur"] = {"length_px": values["motion_length"], "angle_rad": values["motion_angle"]}
            else:
                lin = cv2.GaussianBlur(lin.astype(np.float32), (0, 0), values["blur_sigma"])
                applied["blur_sigma_px"] = values["blur_sigma"]
        if "noise" in photometric:
            nrng = np.random.default_rng(values["noise_seed"])
            std = np.sqrt(values["shot"] ** 2 * np.clip(lin, 0, None) + values["read"] ** 2)
            lin = lin + std * nrng.standard_normal(lin.shape).astype(np.float32)
            applied["noise"] = {"shot": values["shot"], "read": values["read"]}
        out = _to_srgb8(lin)
    if draws["jpeg"] < c.p_jpeg:
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, values["jpeg_quality"]]
        )
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            applied["jpeg_quality"] = values["jpeg_quality"]
    if record is not None:
        record.update(applied)
    return out if out is not img else img.copy()
