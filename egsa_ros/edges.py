"""Canny edge detection written as plain tensor operations.

The same code runs in training (torch, any device), in ONNX Runtime and inside a
TensorRT engine, so the edge maps the network sees are identical everywhere. It
reproduces OpenCV's ``cv2.Canny`` (aperture 3, ``L2gradient=False``) bit for bit on
8-bit images once hysteresis has converged:

* Sobel 3x3 derivatives with replicated borders, L1 magnitude ``|dx| + |dy|``.
* Non-maximum suppression with OpenCV's fixed-point direction test
  (``tan(22.5 deg) = 13573 / 2**15``); magnitudes outside the image count as 0.
* Hysteresis as ``rounds`` repetitions of ``strong = maxpool3x3(strong) * weak``: each
  round grows strong edges by one pixel (8-connected) along weak ones. With too few
  rounds long weak chains are cut short (a subset of OpenCV's edges); ``rounds=0`` keeps
  the strong edges only.

Graph constraints (kept on purpose, see the tests): fp32 only (fp16 changes edges, half
input is computed in fp32); no weights, so ``module.half()`` cannot change it; filters
are written as shifted slices with adds and multiplies instead of convolutions, so
TensorRT's TF32 convolutions cannot round the inputs; masks between stages are 0./1.
float tensors; only ``Greater``/``Less`` comparisons (no ``Equal``, no bool equality);
max pooling 3x3, stride 1, padding 1, dilation 1; no data-dependent control flow (the
hysteresis loop is unrolled at export); static shapes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "RGBCanny",
    "DepthCanny",
    "rgb_to_grey_opencv",
    "gaussian_blur_5x5",
    "sobel_3x3",
    "canny_non_max_suppression",
    "hysteresis",
    "canny_from_gradients",
]

# tan(22.5 deg) in OpenCV's Q15 fixed point (13573 / 2**15), exactly representable in
# fp32. For integer |dx| <= 1020 the product |dx| * _TG22 needs at most 24 significant
# bits, so it is exact and the comparisons below equal OpenCV's integer tests
# (|dy| << 15 < |dx| * 13573, which itself would overflow fp32's 24-bit mantissa).
_TG22 = 13573.0 / 32768.0


def _greater(a: Tensor, b: Tensor | float) -> Tensor:
    """Float mask (1. where a > b, else 0.), same shape as the broadcast of a and b."""
    return (a > b).to(torch.float32)


def _greater_equal(a: Tensor, b: Tensor) -> Tensor:
    """Float mask of a >= b, written as not(b > a) to avoid GreaterOrEqual/Equal nodes."""
    return 1.0 - (b > a).to(torch.float32)


def rgb_to_grey_opencv(rgb: Tensor) -> Tensor:
    """Grey value exactly as ``cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)`` on uint8.

    OpenCV 4.x's 8-bit path is fixed point with 15 fractional bits:
    ``Y = (9798 R + 19235 G + 3735 B + 16384) >> 15`` (the older 14-bit weights
    4899/9617/1868 differ from OpenCV 4.14 on ~0.3 % of random pixels). Every
    intermediate is an integer below 2**23, so fp32 computes it exactly. Written with
    elementwise multiplies (not a 1x1 convolution) so TF32 cannot round the weights.

    Args:
        rgb: (B,3,H,W) RGB values 0..255 that are integers stored as float (any float
            dtype; computed in fp32).

    Returns:
        (B,1,H,W) float32 grey values, integers 0..255.
    """
    x = rgb.to(torch.float32)
    acc = x[:, 0:1] * 9798.0 + x[:, 1:2] * 19235.0 + x[:, 2:3] * 3735.0 + 16384.0
    return torch.floor(acc * (1.0 / 32768.0))


def gaussian_blur_5x5(x: Tensor, round_to_uint8: bool) -> Tensor:
    """5x5 Gaussian blur as ``cv2.GaussianBlur(img, (5, 5), 0)``.

    The kernel is OpenCV's separable ``[1, 4, 6, 4, 1] / 16`` with reflect-101 borders
    (``BORDER_DEFAULT``). With ``round_to_uint8`` the result is OpenCV's bit-exact 8-bit
    result ``floor((S + 128) / 256)`` of the integer-weighted sum S (exact in fp32 since
    S <= 255 * 256); otherwise the plain float ``S / 256``.

    Args:
        x: (B,C,H,W) float32, H and W >= 3. For ``round_to_uint8`` integer values 0..255.
        round_to_uint8: round like OpenCV's uint8 path (grey images) or not (depth).

    Returns:
        (B,C,H,W) float32, same units as ``x``.
    """
    p = F.pad(x, (2, 2, 2, 2), mode="reflect")
    # Rows: 1 4 6 4 1 along W.
    r = (p[..., :, :-4] + p[..., :, 4:]) + 4.0 * (p[..., :, 1:-3] + p[..., :, 3:-1]) + 6.0 * p[..., :, 2:-2]
    # Columns: 1 4 6 4 1 along H.
    s = (r[..., :-4, :] + r[..., 4:, :]) + 4.0 * (r[..., 1:-3, :] + r[..., 3:-1, :]) + 6.0 * r[..., 2:-2, :]
    if round_to_uint8:
        return torch.floor((s + 128.0) * (1.0 / 256.0))
    return s * (1.0 / 256.0)


def sobel_3x3(x: Tensor) -> tuple[Tensor, Tensor]:
    """Unnormalised 3x3 Sobel derivatives with replicated borders (OpenCV's Canny).

    ``dx`` uses the kernel [[-1,0,1],[-2,0,2],[-1,0,1]] (positive when values grow to the
    right), ``dy`` its transpose (positive when values grow downwards). On a ramp of
    slope ``s`` per pixel the response is ``8 s``.

    Args:
        x: (B,C,H,W) float32.

    Returns:
        (dx, dy), each (B,C,H,W) float32 in units of ``x``.
    """
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    smooth_v = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]  # (H, W+2)
    dx = smooth_v[..., :, 2:] - smooth_v[..., :, :-2]
    smooth_h = p[..., :, :-2] + 2.0 * p[..., :, 1:-1] + p[..., :, 2:]  # (H+2, W)
    dy = smooth_h[..., 2:, :] - smooth_h[..., :-2, :]
    return dx, dy


def canny_non_max_suppression(dx: Tensor, dy: Tensor, low: float) -> tuple[Tensor, Tensor]:
    """OpenCV's Canny non-maximum suppression on given derivatives.

    A pixel is a candidate if its L1 magnitude ``m = |dx| + |dy|`` exceeds ``low`` and is
    a local maximum across the gradient direction, decided like OpenCV with
    ``t = |dx| * 13573 / 2**15`` (tan 22.5 deg):

    * ``|dy| < t`` (horizontal gradient): ``m > m[left]`` and ``m >= m[right]``;
    * ``|dy| - 2 |dx| > t`` (vertical): ``m > m[up]`` and ``m >= m[down]``;
    * else diagonal, ``s = -1`` if dx and dy have opposite signs else ``+1``:
      ``m > m[up, col - s]`` and ``m > m[down, col + s]``.

    Magnitudes outside the image count as 0.

    Args:
        dx, dy: (B,C,H,W) float32 derivatives (any unit; integers for the OpenCV path).
        low: lower threshold, same unit as the magnitude.

    Returns:
        (candidate, magnitude): (B,C,H,W) float32 0./1. mask and the L1 magnitude.
    """
    ax, ay = dx.abs(), dy.abs()
    mag = ax + ay
    mp = F.pad(mag, (1, 1, 1, 1))  # zeros outside the image
    left, right = mp[..., 1:-1, :-2], mp[..., 1:-1, 2:]
    up, down = mp[..., :-2, 1:-1], mp[..., 2:, 1:-1]
    up_left, up_right = mp[..., :-2, :-2], mp[..., :-2, 2:]
    down_left, down_right = mp[..., 2:, :-2], mp[..., 2:, 2:]

    tg22x = ax * _TG22
    horizontal = _greater(tg22x, ay)
    vertical = _greater(ay - 2.0 * ax, tg22x)
    diagonal = 1.0 - horizontal - vertical  # the two tests are exclusive

    max_h = _greater(mag, left) * _greater_equal(mag, right)
    max_v = _greater(mag, up) * _greater_equal(mag, down)
    opposite = (dx * dy) < 0.0  # s = -1: neighbours up-right and down-left
    diag_a = torch.where(opposite, up_right, up_left)
    diag_b = torch.where(opposite, down_left, down_right)
    max_d = _greater(mag, diag_a) * _greater(mag, diag_b)

    candidate = (horizontal * max_h + vertical * max_v + diagonal * max_d) * _greater(mag, low)
    return candidate, mag


def hysteresis(strong: Tensor, weak: Tensor, rounds: int) -> Tensor:
    """Grow ``strong`` along ``weak`` by ``rounds`` pixels (8-connectivity).

    Each round is ``strong = maxpool3x3(strong) * weak`` (stride 1, padding 1), unrolled
    in the exported graph. The result only grows with ``rounds`` and reaches OpenCV's
    hysteresis once ``rounds`` is at least the longest weak path from a strong seed.

    Args:
        strong: (B,C,H,W) float32 0./1., must be a subset of ``weak``.
        weak: (B,C,H,W) float32 0./1.
        rounds: number of growth steps, >= 0 (0 returns ``strong``).

    Returns:
        (B,C,H,W) float32 0./1. edges.
    """
    for _ in range(rounds):
        strong = F.max_pool2d(strong, kernel_size=3, stride=1, padding=1) * weak
    return strong


def canny_from_gradients(dx: Tensor, dy: Tensor, low: float, high: float, rounds: int) -> Tensor:
    """Canny from derivatives: NMS, double threshold and ``rounds`` of hysteresis.

    Shared by :class:`RGBCanny` and :class:`DepthCanny`. Strong pixels are NMS
    candidates with ``m > high``; weak pixels are all candidates (``m > low``).

    Args:
        dx, dy: (B,C,H,W) float32 derivatives.
        low, high: thresholds on the L1 magnitude ``|dx| + |dy|`` (same unit), low <= high.
        rounds: hysteresis rounds, >= 0.

    Returns:
        (B,C,H,W) float32 edges in {0., 1.}.
    """
    candidate, mag = canny_non_max_suppression(dx, dy, low)
    strong = candidate * _greater(mag, high)
    return hysteresis(strong, candidate, rounds)


def _check_rounds(rounds: int) -> int:
    rounds = int(rounds)
    if rounds < 0:
        raise ValueError(f"hysteresis_rounds must be >= 0, got {rounds}")
    return rounds


class RGBCanny(nn.Module):
    """Canny edges of an RGB image, equal to OpenCV's once hysteresis has converged.

    ``blur=True`` matches ``cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 0), low, high)`` and
    ``blur=False`` matches ``cv2.Canny(grey, low, high)``, with
    ``grey = cv2.cvtColor(rgb_uint8, cv2.COLOR_RGB2GRAY)``. As in OpenCV the thresholds
    are swapped if ``low > high`` and then floored to integers; they apply to the L1
    magnitude of the unnormalised Sobel response of 8-bit grey levels.

    Args:
        low: lower hysteresis threshold (grey levels x Sobel gain).
        high: upper hysteresis threshold.
        hysteresis_rounds: unrolled hysteresis steps; each extends edges by one pixel
            along weak pixels. Too few rounds drop parts of long weak chains.
        blur: apply OpenCV's 5x5 Gaussian blur (8-bit rounding) before Sobel.
    """

    def __init__(self, low: float = 50.0, high: float = 150.0, hysteresis_rounds: int = 64,
                 blur: bool = True) -> None:
        super().__init__()
        low, high = float(low), float(high)
        if low > high:
            low, high = high, low
        self.low = float(math.floor(low))
        self.high = float(math.floor(high))
        self.hysteresis_rounds = _check_rounds(hysteresis_rounds)
        self.blur = bool(blur)

    def extra_repr(self) -> str:
        return (f"low={self.low}, high={self.high}, hysteresis_rounds={self.hysteresis_rounds}, "
                f"blur={self.blur}")

    def forward(self, rgb: Tensor) -> Tensor:
        """Edges of an RGB camera image.

        Args:
            rgb: (B,3,H,W) RGB values 0..255 (any float or integer dtype; rounded to
                integers and clamped to 0..255, computed in fp32). H, W >= 3.

        Returns:
            (B,1,H,W) float32 edge map in {0., 1.}.
        """
        x = rgb.to(torch.float32).round().clamp(0.0, 255.0)
        grey = rgb_to_grey_opencv(x)
        if self.blur:
            grey = gaussian_blur_5x5(grey, round_to_uint8=True)
        dx, dy = sobel_3x3(grey)
        return canny_from_gradients(dx, dy, self.low, self.high, self.hysteresis_rounds)


class DepthCanny(nn.Module):
    """Canny edges of a metric depth map with thresholds in metres per pixel.

    The gradient is the Sobel response divided by 8, i.e. the depth change per pixel (a
    ramp of 1 cm per pixel gives 0.01 m/px); the magnitude is L1 (``|gx| + |gy|``) as in
    OpenCV's default. NMS and hysteresis are those of :class:`RGBCanny`; depth is not
    rounded. NaN, +-inf and non-positive depth (unknown in ROS depth images) are set to 0
    before filtering, so the border of an invalid region is a depth step and usually
    gives an edge. Thresholds are swapped if ``low > high``.

    Args:
        low: lower threshold in m/px.
        high: upper threshold in m/px.
        hysteresis_rounds: unrolled hysteresis steps (see :class:`RGBCanny`).
        blur: apply the 5x5 Gaussian ``[1,4,6,4,1]/16`` (reflect-101 borders, no rounding)
            before Sobel.
    """

    def __init__(self, low: float = 0.02, high: float = 0.05, hysteresis_rounds: int = 64,
                 blur: bool = False) -> None:
        super().__init__()
        low, high = float(low), float(high)
        if low > high:
            low, high = high, low
        self.low = low
        self.high = high
        self.hysteresis_rounds = _check_rounds(hysteresis_rounds)
        self.blur = bool(blur)

    def extra_repr(self) -> str:
        return (f"low={self.low}, high={self.high}, hysteresis_rounds={self.hysteresis_rounds}, "
                f"blur={self.blur}")

    def forward(self, depth: Tensor) -> Tensor:
        """Edges of a depth map.

        Args:
            depth: (B,1,H,W) depth in metres (any float dtype, computed in fp32). H, W >= 3.

        Returns:
            (B,1,H,W) float32 edge map in {0., 1.}.
        """
        d = depth.to(torch.float32)
        zero = torch.zeros((), dtype=torch.float32, device=d.device)
        d = torch.where(d > 0.0, d, zero)  # NaN, -inf and <= 0 -> 0
        d = torch.where(d < float("inf"), d, zero)  # +inf -> 0
        if self.blur:
            d = gaussian_blur_5x5(d, round_to_uint8=False)
        dx, dy = sobel_3x3(d)
        return canny_from_gradients(dx * 0.125, dy * 0.125, self.low, self.high,
                                    self.hysteresis_rounds)
