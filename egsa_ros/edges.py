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
TensorRT's TF32 convolutions cannot round the inputs; every integer intermediate of the
8-bit path stays below 2**24 and is therefore exact in fp32; masks passed between stages
are 0./1. float tensors (bool only inside NMS, combined with And/Or/Not and used as
``Where`` conditions); comparisons are ``Greater``/``Less`` only (no ``Equal``, no
``GreaterOrEqual``); max pooling 3x3, stride 1, padding 1, dilation 1; no data-dependent
control flow (the hysteresis loop is unrolled at export); static shapes.
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


def _pad_replicate_1(x: Tensor) -> Tensor:
    """(..., H, W) -> (..., H+2, W+2), border pixels repeated (BORDER_REPLICATE).

    Padding is written as slices + Concat instead of ``F.pad`` because the legacy ONNX
    exporter emits ``Pad`` with a computed (non-initializer) ``pads`` subgraph.
    """
    x = torch.cat([x[..., :, :1], x, x[..., :, -1:]], dim=-1)
    return torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=-2)


def _pad_reflect101_2(x: Tensor) -> Tensor:
    """(..., H, W) -> (..., H+4, W+4), mirrored without the edge (BORDER_REFLECT_101)."""
    x = torch.cat([x[..., :, 2:3], x[..., :, 1:2], x, x[..., :, -2:-1], x[..., :, -3:-2]], dim=-1)
    return torch.cat([x[..., 2:3, :], x[..., 1:2, :], x, x[..., -2:-1, :], x[..., -3:-2, :]], dim=-2)


def _pad_zeros_1(x: Tensor) -> Tensor:
    """(..., H, W) -> (..., H+2, W+2) with a border of zeros (constant in the graph)."""
    col = torch.zeros_like(x[..., :, :1])
    x = torch.cat([col, x, col], dim=-1)
    row = torch.zeros_like(x[..., :1, :])
    return torch.cat([row, x, row], dim=-2)


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
    p = _pad_reflect101_2(x)
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
    p = _pad_replicate_1(x)
    smooth_v = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]  # (H, W+2)
    dx = smooth_v[..., :, 2:] - smooth_v[..., :, :-2]
    smooth_h = p[..., :, :-2] + 2.0 * p[..., :, 1:-1] + p[..., :, 2:]  # (H+2, W)
    dy = smooth_h[..., 2:, :] - smooth_h[..., :-2, :]
    return dx, dy


def _gradient_sectors(ax: Tensor, ay: Tensor) -> tuple[Tensor, Tensor]:
    """OpenCV's Canny direction test on ``ax = |dx|``, ``ay = |dy|`` (both >= 0).

    OpenCV computes in int32: horizontal iff ``ay << 15 < ax * 13573`` and vertical iff
    ``ay << 15 > ax * 13573 + (ax << 16)``. Here: ``ay < ax * t`` and
    ``ay - 2 ax > ax * t`` with ``t = 13573 / 2**15``; for integer magnitudes up to 1020
    (8-bit Sobel) every term is exact in fp32, so the result is identical (tested
    exhaustively). Pixels that are neither are diagonal.

    Returns:
        (horizontal, vertical) bool tensors, mutually exclusive.
    """
    tg22x = ax * _TG22
    return tg22x > ay, (ay - 2.0 * ax) > tg22x


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
    mp = _pad_zeros_1(mag)  # magnitude 0 outside the image

    horizontal, vertical = _gradient_sectors(ax, ay)
    opposite = (dx * dy) < 0.0  # diagonal with s = -1: up-right and down-left
    # Neighbours before (n1) and after (n2) the pixel across the gradient direction.
    n1 = torch.where(
        horizontal,
        mp[..., 1:-1, :-2],
        torch.where(vertical, mp[..., :-2, 1:-1], torch.where(opposite, mp[..., :-2, 2:], mp[..., :-2, :-2])),
    )
    n2 = torch.where(
        horizontal,
        mp[..., 1:-1, 2:],
        torch.where(vertical, mp[..., 2:, 1:-1], torch.where(opposite, mp[..., 2:, :-2], mp[..., 2:, 2:])),
    )
    # m > n1 always; m >= n2 for horizontal/vertical, m > n2 for diagonal directions.
    # (m >= n2 is written as not(n2 > m): no Equal/GreaterOrEqual nodes, no bool Where.)
    after_ok = (mag > n2) | ((horizontal | vertical) & ~(n2 > mag))
    candidate = ((mag > n1) & after_ok & (mag > low)).to(torch.float32)
    return candidate, mag


def _in_graph_capture() -> bool:
    """True while the module is being traced/exported (ONNX, jit, torch.compile/export)."""
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.compiler.is_compiling()


def _hysteresis_cpu_eager(strong: Tensor, weak: Tensor, rounds: int) -> Tensor:
    """:func:`hysteresis` for eager CPU tensors, same result, ~50-100x faster.

    ``F.max_pool2d`` is very slow on CPU for one channel; a 3x3 max of 0/1 masks equals
    a separable OR of shifted uint8 slices, computed in place in a zero-bordered buffer.
    """
    b, c, h, w = strong.shape
    buf = torch.zeros((b, c, h + 2, w + 2), dtype=torch.uint8, device=strong.device)
    rows = torch.empty((b, c, h + 2, w), dtype=torch.uint8, device=strong.device)
    inner = buf[..., 1:-1, 1:-1]
    inner.copy_(strong > 0.5)
    keep = (weak > 0.5).to(torch.uint8)
    for _ in range(rounds):
        torch.bitwise_or(buf[..., :, :-2], buf[..., :, 1:-1], out=rows)
        rows |= buf[..., :, 2:]
        torch.bitwise_or(rows[..., :-2, :], rows[..., 1:-1, :], out=inner)
        inner |= rows[..., 2:, :]
        inner &= keep
    return inner.to(torch.float32)


def hysteresis(strong: Tensor, weak: Tensor, rounds: int) -> Tensor:
    """Grow ``strong`` along ``weak`` by ``rounds`` pixels (8-connectivity).

    Each round is ``strong = maxpool3x3(strong) * weak`` (stride 1, padding 1), unrolled
    in the exported graph (one ``MaxPool`` and one ``Mul`` per round). The result only
    grows with ``rounds`` and reaches OpenCV's hysteresis once ``rounds`` is at least the
    longest weak path from a strong seed. Eager CPU calls use an equivalent faster
    formulation (see :func:`_hysteresis_cpu_eager`); the result is identical.

    Args:
        strong: (B,C,H,W) float32 0./1., must be a subset of ``weak``.
        weak: (B,C,H,W) float32 0./1.
        rounds: number of growth steps, >= 0 (0 returns ``strong``).

    Returns:
        (B,C,H,W) float32 0./1. edges.
    """
    if rounds > 0 and strong.device.type == "cpu" and not _in_graph_capture():
        return _hysteresis_cpu_eager(strong, weak, rounds)
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
    strong = candidate * (mag > high).to(torch.float32)
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
            along weak pixels. Too few rounds drop parts of long weak chains (the edges
            are then a subset of OpenCV's). On 480x640 photos exact parity needed up to
            276 rounds (blur=True, 50/150); the default 64 gives IoU 0.93-1.0 there.
        blur: apply OpenCV's 5x5 Gaussian blur (8-bit rounding) before Sobel.
    """

    def __init__(self, low: float = 50.0, high: float = 150.0, hysteresis_rounds: int = 64, blur: bool = True) -> None:
        super().__init__()
        low, high = float(low), float(high)
        if low > high:
            low, high = high, low
        self.low = float(math.floor(low))
        self.high = float(math.floor(high))
        self.hysteresis_rounds = _check_rounds(hysteresis_rounds)
        self.blur = bool(blur)

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}, hysteresis_rounds={self.hysteresis_rounds}, blur={self.blur}"

    def forward(self, rgb: Tensor) -> Tensor:
        """Edges of an RGB camera image.

        Args:
            rgb: (B,3,H,W) RGB values 0..255 (any float or integer dtype; rounded to
                integers and clamped to 0..255, computed in fp32). H, W >= 3.

        Returns:
            (B,1,H,W) float32 edge map in {0., 1.}.
        """
        # fp32 even inside an fp16 autocast region: fp16 changes the edge map.
        with _fp32_region(rgb):
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

    def __init__(self, low: float = 0.02, high: float = 0.05, hysteresis_rounds: int = 64, blur: bool = False) -> None:
        super().__init__()
        low, high = float(low), float(high)
        if low > high:
            low, high = high, low
        self.low = low
        self.high = high
        self.hysteresis_rounds = _check_rounds(hysteresis_rounds)
        self.blur = bool(blur)

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}, hysteresis_rounds={self.hysteresis_rounds}, blur={self.blur}"

    def forward(self, depth: Tensor) -> Tensor:
        """Edges of a depth map.

        Args:
            depth: (B,1,H,W) depth in metres (any float dtype, computed in fp32). H, W >= 3.

        Returns:
            (B,1,H,W) float32 edge map in {0., 1.}.
        """
        with _fp32_region(depth):
            d = depth.to(torch.float32)
            zero = torch.zeros((), dtype=torch.float32, device=d.device)
            d = torch.where(d > 0.0, d, zero)  # NaN, -inf and <= 0 -> 0
            d = torch.where(d < float("inf"), d, zero)  # +inf -> 0
            if self.blur:
                d = gaussian_blur_5x5(d, round_to_uint8=False)
            dx, dy = sobel_3x3(d)
            return canny_from_gradients(dx * 0.125, dy * 0.125, self.low, self.high, self.hysteresis_rounds)


def _fp32_region(x: Tensor):
    """A context that switches autocast off on ``x``'s device (Canny must run in fp32)."""
    return torch.autocast(device_type=x.device.type, enabled=False)
