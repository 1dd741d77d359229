"""One set of image transforms for training and inference.

The runtime pipeline and the training loaders resize camera frames with the SAME function
(:func:`resize_rgb`), so a network never sees differently interpolated images in deployment.

Sample dicts (what the dataset readers return, what the transforms take):

- ``rgb``: (H, W, 3) uint8 RGB.
- ``depth``: (H, W) float32 metres; 0 or NaN where unknown.
- ``labels``: (H, W) int64 class ids, :data:`IGNORE_INDEX` (255) where unlabelled.
- ``K``: (3, 3) float64 pinhole intrinsics of THIS image, in pixels.
- optional: ``depth_sensor`` (like ``depth``), ``instance`` ((H, W) int64, 0 = none), and
  any non-array metadata (``uid``, ``frame``...), passed through untouched.

Geometry conventions:

- Pixel-centre convention: pixel (u, v) covers [u - 0.5, u + 0.5]; its centre is the
  integer coordinate. Resizing by sx = w'/w, sy = h'/h maps x' = (x + 0.5) * sx - 0.5, so
  ``fx' = fx * sx``, ``cx' = (cx + 0.5) * sx - 0.5`` (``fy``, ``cy`` with ``sy``). OpenCV's
  INTER_LINEAR / INTER_AREA follow it; the nearest-neighbour resizes here do too (they pick
  source pixel ``floor((x' + 0.5) / sx)``, like cv2.INTER_NEAREST_EXACT, not cv2.INTER_NEAREST).
- Cropping at (top, left): ``cx -= left``, ``cy -= top``.
- Horizontal flip of a W-wide image: x' = W - 1 - x, i.e. the camera sees the mirrored scene
  (X -> -X) with ``cx' = W - 1 - cx`` (fx unchanged).
- Rotation by ``a`` degrees about the principal point (cx, cy): the camera rolled about its
  optical axis; K is unchanged (exact for square pixels, fx == fy; otherwise approximate).

Every function here is pure: inputs are never modified (outputs may share unchanged arrays
with them; :func:`to_tensors` always copies). Randomness comes only from a
``numpy.random.Generator``: the one passed in, else :class:`TrainTransform`'s own seeded one.

torch is imported lazily (only :func:`to_tensors` and the transform classes need it), so
the runtime can use :func:`resize_rgb` / :func:`to_network_input` without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from .degradations import DegradationConfig, degrade
from .table_texture import random_table_texture

#: Label value that losses and metrics ignore (padding, unlabelled pixels).
IGNORE_INDEX = 255
#: Sample keys holding depth maps in metres (0/NaN invalid).
DEPTH_KEYS = ("depth", "depth_sensor")
#: Sample keys holding integer label maps, with the value used for padding.
LABEL_KEYS: Mapping[str, int] = {"labels": IGNORE_INDEX, "instance": 0, "opaque": 0}
#: How :func:`resize_depth` may resample depth.
DEPTH_RESIZE_MODES = ("nearest", "valid_mean")

Size = tuple[int, int]
Sample = dict[str, Any]


# ----------------------------------------------------------------------------- images


def resize_rgb(rgb: np.ndarray, size: Size) -> np.ndarray:
    """Resize an RGB frame to ``size`` = (h, w) exactly as the runtime pipeline does.

    cv2.INTER_AREA when both sides shrink, cv2.INTER_LINEAR when both grow, and when one
    shrinks and the other grows, INTER_AREA along the shrinking side then INTER_LINEAR;
    the input is returned as is (no copy) when it already has that size.

    Args:
        rgb: (H, W, 3) uint8.
        size: target (h, w) in pixels.
    Returns:
        (h, w, 3) uint8.
    """
    h, w = size
    height, width = rgb.shape[:2]
    if (height, width) == (h, w):
        return rgb
    if height >= h and width >= w:
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    if height <= h and width <= w:
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    # One axis shrinks, the other grows: area along the first, then linear along the second
    # (cv2's INTER_AREA would alias here). The exported graph does the same.
    shrunk = cv2.resize(rgb, (min(w, width), min(h, height)), interpolation=cv2.INTER_AREA)
    return cv2.resize(shrunk, (w, h), interpolation=cv2.INTER_LINEAR)


def to_network_input(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 with values 0..255 (no normalisation)."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)


def _nearest_indices(src: int, dst: int) -> np.ndarray:
    """Source index of each destination pixel under the pixel-centre convention."""
    idx = np.floor((np.arange(dst) + 0.5) * (src / dst)).astype(np.intp)
    return np.minimum(idx, src - 1)


def resize_nearest(image: np.ndarray, size: Size) -> np.ndarray:
    """Nearest-neighbour resize of any-dtype (H, W[, C]) array, pixel-centre aligned."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    rows = _nearest_indices(image.shape[0], h)
    cols = _nearest_indices(image.shape[1], w)
    return image[rows[:, None], cols[None, :]]


def depth_validity(depth: np.ndarray) -> np.ndarray:
    """(H, W) bool: finite and > 0 (the readers' notion of "has a depth value")."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth > 0)


def resize_depth(
    depth: np.ndarray, size: Size, *, mode: str = "nearest", min_valid_fraction: float = 0.5
) -> np.ndarray:
    """Resize a metric depth map without blending invalid pixels into valid ones.

    Args:
        depth: (H, W) float metres; 0, negative, NaN or inf mark invalid pixels.
        size: target (h, w).
        mode: ``nearest`` (pixel-centre nearest neighbour: no new depth values, so no
            "flying pixels" across glass/background edges) or ``valid_mean`` (average of the
            VALID source pixels under each target pixel: area weights when shrinking, bilinear
            when enlarging; a target pixel is valid when at least ``min_valid_fraction`` of
            its weight falls on valid pixels).
        min_valid_fraction: see ``valid_mean``.
    Returns:
        (h, w) float32 metres, 0 where invalid (NaN inputs come out as 0).
    """
    if mode not in DEPTH_RESIZE_MODES:
        raise ValueError(f"depth resize mode must be one of {DEPTH_RESIZE_MODES}, got {mode!r}")
    valid = depth_validity(depth)
    clean = np.where(valid, depth, 0.0).astype(np.float32)
    h, w = size
    if clean.shape == (h, w):
        return clean
    if mode == "nearest":
        return np.ascontiguousarray(resize_nearest(clean, size))
    shrinking = depth.shape[0] > h or depth.shape[1] > w
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    total = cv2.resize(clean, (w, h), interpolation=interp)
    weight = cv2.resize(valid.astype(np.float32), (w, h), interpolation=interp)
    ok = weight >= max(min_valid_fraction, 1e-6)
    out = np.zeros((h, w), np.float32)
    out[ok] = total[ok] / weight[ok]
    return out


def resize_labels(labels: np.ndarray, size: Size) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) label map (dtype kept), pixel-centre aligned."""
    return np.ascontiguousarray(resize_nearest(labels, size))


# ------------------------------------------------------------------------- intrinsics


def scale_intrinsics(K: np.ndarray, src_size: Size, dst_size: Size) -> np.ndarray:
    """Intrinsics after resizing an image from ``src_size`` (H, W) to ``dst_size`` (h, w).

    ``fx, skew, cx`` scale with sx = w / W, ``fy, cy`` with sy = h / H, using the pixel-centre
    convention ``c' = (c + 0.5) * s - 0.5``.
    """
    sy = dst_size[0] / src_size[0]
    sx = dst_size[1] / src_size[1]
    out = np.array(K, dtype=np.float64, copy=True)
    out[0, 0] *= sx
    out[0, 1] *= sx
    out[0, 2] = (out[0, 2] + 0.5) * sx - 0.5
    out[1, 1] *= sy
    out[1, 2] = (out[1, 2] + 0.5) * sy - 0.5
    return out


def crop_intrinsics(K: np.ndarray, top: int, left: int) -> np.ndarray:
    """Intrinsics of the crop whose top-left pixel was (left, top) in the original."""
    out = np.array(K, dtype=np.float64, copy=True)
    out[0, 2] -= left
    out[1, 2] -= top
    return out


def flip_intrinsics(K: np.ndarray, width: int) -> np.ndarray:
    """Intrinsics after a horizontal flip of a ``width``-pixel image (the scene mirrored in X)."""
    out = np.array(K, dtype=np.float64, copy=True)
    out[0, 2] = width - 1 - out[0, 2]
    out[0, 1] = -out[0, 1]
    return out


# ------------------------------------------------------------- whole-sample geometry


def _size_of(sample: Mapping[str, Any]) -> Size:
    return tuple(sample["rgb"].shape[:2])  # type: ignore[return-value]


def _scaled_size(size: Size, scale: float) -> Size:
    """(h, w) scaled by the same factor and rounded, at least 1 pixel each."""
    return max(1, int(round(size[0] * scale))), max(1, int(round(size[1] * scale)))


def resize_sample(sample: Mapping[str, Any], size: Size, *, depth_mode: str = "nearest") -> Sample:
    """Resize every image of a sample to ``size`` = (h, w) and scale ``K`` to match."""
    src = _size_of(sample)
    out = dict(sample)
    out["rgb"] = resize_rgb(sample["rgb"], size)
    for key in DEPTH_KEYS:
        if key in sample:
            out[key] = resize_depth(sample[key], size, mode=depth_mode)
    for key in LABEL_KEYS:
        if key in sample:
            out[key] = resize_labels(sample[key], size)
    if "K" in sample:
        out["K"] = scale_intrinsics(sample["K"], src, size)
    return out


def crop_sample(sample: Mapping[str, Any], top: int, left: int, height: int, width: int) -> Sample:
    """Crop every image to rows top..top+height, columns left..left+width; shift ``K``."""
    H, W = _size_of(sample)
    if not (0 <= top and 0 <= left and height > 0 and width > 0 and top + height <= H and left + width <= W):
        raise ValueError(f"crop ({top}, {left}, {height}, {width}) outside the {W}x{H} image")
    out = dict(sample)
    window = (slice(top, top + height), slice(left, left + width))
    for key in ("rgb",) + DEPTH_KEYS + tuple(LABEL_KEYS):
        if key in sample:
            out[key] = np.ascontiguousarray(sample[key][window])
    if "K" in sample:
        out["K"] = crop_intrinsics(sample["K"], top, left)
    return out


def zoom_out_sample(sample: Mapping[str, Any], scale: float, top: int, left: int) -> Sample:
    """Shrink every image by ``scale`` (0 < scale <= 1) and place it at (top, left) in a canvas
    of the original size: the view of a wider-angle camera at the same place (``fx' = fx * s``).

    The border is filled with the image mirrored (``cv2.BORDER_REFLECT_101``) so that it looks
    like scene rather than a frame a real camera never has; depth there is 0 (invalid) and labels
    :data:`IGNORE_INDEX` (``instance``: 0), so no loss or metric reads it.
    """
    H, W = _size_of(sample)
    if not 0 < scale <= 1:
        raise ValueError(f"zoom-out scale must be in (0, 1], got {scale}")
    h, w = _scaled_size((H, W), scale)
    if not (0 <= top <= H - h and 0 <= left <= W - w):
        raise ValueError(f"a {w}x{h} view at ({top}, {left}) does not fit the {W}x{H} image")
    small = resize_sample(sample, (h, w))
    pad = (top, H - h - top, left, W - w - left)
    out = dict(sample)
    out["rgb"] = cv2.copyMakeBorder(small["rgb"], *pad, borderType=cv2.BORDER_REFLECT_101)
    for key in DEPTH_KEYS:
        if key in sample:
            out[key] = cv2.copyMakeBorder(small[key], *pad, borderType=cv2.BORDER_CONSTANT, value=0.0)
    for key, fill in LABEL_KEYS.items():
        if key in sample:
            canvas = np.full((H, W), fill, dtype=sample[key].dtype)
            canvas[top : top + h, left : left + w] = small[key]
            out[key] = canvas
    if "K" in sample:
        out["K"] = crop_intrinsics(small["K"], -top, -left)
    return out


def hflip_sample(sample: Mapping[str, Any]) -> Sample:
    """Mirror every image left-right; ``cx' = W - 1 - cx``."""
    W = _size_of(sample)[1]
    out = dict(sample)
    for key in ("rgb",) + DEPTH_KEYS + tuple(LABEL_KEYS):
        if key in sample:
            out[key] = np.ascontiguousarray(sample[key][:, ::-1])
    if "K" in sample:
        out["K"] = flip_intrinsics(sample["K"], W)
    return out


def rotation_matrix_2d(K: np.ndarray, angle_deg: float) -> np.ndarray:
    """(2, 3) affine map of image points for a rotation by ``angle_deg`` about (cx, cy).

    Positive angles turn the image counter-clockwise as displayed (OpenCV convention).
    """
    return cv2.getRotationMatrix2D((float(K[0, 2]), float(K[1, 2])), float(angle_deg), 1.0)


def _warp_nearest(image: np.ndarray, inverse: np.ndarray, fill: float) -> np.ndarray:
    """Nearest-neighbour affine warp of any dtype; ``inverse`` maps output -> input pixels."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    xi = np.floor(sx + 0.5).astype(np.intp)
    yi = np.floor(sy + 0.5).astype(np.intp)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    out = np.full(image.shape, fill, dtype=image.dtype)
    out[inside] = image[yi[inside], xi[inside]]
    return out


def rotate_sample(sample: Mapping[str, Any], angle_deg: float) -> Sample:
    """Rotate every image by ``angle_deg`` about the principal point; ``K`` is unchanged.

    RGB is resampled bilinearly and padded black; depth nearest-neighbour, padded with 0
    (invalid); labels nearest-neighbour, padded with :data:`IGNORE_INDEX` (``instance``: 0).
    Requires ``K`` (the rotation centre).
    """
    H, W = _size_of(sample)
    forward = rotation_matrix_2d(sample["K"], angle_deg)
    inverse = cv2.invertAffineTransform(forward)
    out = dict(sample)
    out["rgb"] = cv2.warpAffine(
        sample["rgb"], forward, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )
    for key in DEPTH_KEYS:
        if key in sample:
            clean = np.where(depth_validity(sample[key]), sample[key], 0).astype(np.float32)
            out[key] = _warp_nearest(clean, inverse, 0.0)
    for key, fill in LABEL_KEYS.items():
        if key in sample:
            out[key] = _warp_nearest(sample[key], inverse, fill)
    out["K"] = np.array(sample["K"], dtype=np.float64, copy=True)
    return out


# ------------------------------------------------------------------------------ colour


def color_jitter(
    rgb: np.ndarray,
    brightness: float = 1.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    order: tuple[int, int, int] = (0, 1, 2),
) -> np.ndarray:
    """Scale brightness, contrast and saturation of an (H, W, 3) uint8 RGB image.

    Factors of 1 change nothing. Brightness multiplies; contrast blends with the mean grey
    level; saturation blends with the per-pixel grey (ITU-R 601 luma). ``order`` lists the
    three operations (0 brightness, 1 contrast, 2 saturation) in the order applied.
    """
    img = rgb.astype(np.float32)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    for op in order:
        if op == 0:
            img = img * brightness
        elif op == 1:
            mean = float((img @ luma).mean())
            img = (img - mean) * contrast + mean
        elif op == 2:
            grey = (img @ luma)[..., None]
            img = (img - grey) * saturation + grey
        else:
            raise ValueError(f"unknown colour operation {op}")
        img = np.clip(img, 0.0, 255.0)
    return np.rint(img).astype(np.uint8)


# ---------------------------------------------------------------- random augmentations


def random_crop_resize(
    sample: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    min_scale: float = 0.7,
    size: Size | None = None,
    depth_mode: str = "nearest",
) -> Sample:
    """Crop a random window (each side ``min_scale``..1 of the image, same fraction for
    both, so the aspect ratio is kept) and resize it to ``size`` (default: the input size)."""
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
    H, W = _size_of(sample)
    scale = rng.uniform(min_scale, 1.0)
    ch, cw = _scaled_size((H, W), scale)
    top = int(rng.integers(0, H - ch + 1))
    left = int(rng.integers(0, W - cw + 1))
    cropped = crop_sample(sample, top, left, ch, cw)
    return resize_sample(cropped, size or (H, W), depth_mode=depth_mode)


def random_zoom_out(sample: Mapping[str, Any], rng: np.random.Generator, *, min_scale: float = 0.6) -> Sample:
    """:func:`zoom_out_sample` at a random scale in [``min_scale``, 1] and a random place."""
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
    H, W = _size_of(sample)
    scale = rng.uniform(min_scale, 1.0)
    h, w = _scaled_size((H, W), scale)
    return zoom_out_sample(sample, scale, int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)))


def random_rotate(sample: Mapping[str, Any], rng: np.random.Generator, max_deg: float = 10.0) -> Sample:
    """Rotate by an angle drawn uniformly from [-max_deg, max_deg] (see :func:`rotate_sample`)."""
    return rotate_sample(sample, rng.uniform(-max_deg, max_deg))


def random_color_jitter(
    sample: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    brightness: float = 0.2,
    contrast: float = 0.2,
    saturation: float = 0.2,
) -> Sample:
    """Jitter the RGB image only: factors drawn from [1 - x, 1 + x], order shuffled."""
    factors = [rng.uniform(max(0.0, 1 - x), 1 + x) for x in (brightness, contrast, saturation)]
    order = tuple(int(i) for i in rng.permutation(3))
    out = dict(sample)
    out["rgb"] = color_jitter(sample["rgb"], *factors, order=order)  # type: ignore[arg-type]
    return out


# ------------------------------------------------------------------------------ tensors


def valid_depth_mask(depth: np.ndarray, d_min: float, d_max: float) -> np.ndarray:
    """(H, W) bool: depth finite, > 0 and within [d_min, d_max] metres."""
    with np.errstate(invalid="ignore"):
        return depth_validity(depth) & (depth >= d_min) & (depth <= d_max)


def to_tensors(sample: Mapping[str, Any], d_min: float, d_max: float) -> dict[str, Any]:
    """numpy sample -> torch tensors for training.

    Returns a dict with ``rgb`` (3, h, w) float32 0..255, ``depth`` (1, h, w) float32 metres
    (0 where not valid), ``valid`` (1, h, w) bool (see :func:`valid_depth_mask`),
    ``labels`` (h, w) int64, ``K`` (3, 3) float32; ``depth_sensor`` (1, h, w) and
    ``instance`` (h, w) int64 when present; other entries unchanged.
    """
    import torch  # noqa: PLC0415 - training only: inference imports this module without torch

    out: dict[str, Any] = dict(sample)
    out["rgb"] = torch.from_numpy(to_network_input(sample["rgb"])[0])
    if "depth" in sample:
        valid = valid_depth_mask(sample["depth"], d_min, d_max)
        depth = np.where(valid, sample["depth"], 0).astype(np.float32)
        out["depth"] = torch.from_numpy(depth[None])
        out["valid"] = torch.from_numpy(np.ascontiguousarray(valid[None]))
    if "depth_sensor" in sample:
        sensor = np.where(depth_validity(sample["depth_sensor"]), sample["depth_sensor"], 0)
        out["depth_sensor"] = torch.from_numpy(sensor.astype(np.float32)[None])
    for key in LABEL_KEYS:
        if key in sample:
            out[key] = torch.from_numpy(np.array(sample[key], dtype=np.int64, order="C", copy=True))
    if "K" in sample:
        out["K"] = torch.from_numpy(np.asarray(sample["K"], dtype=np.float32).copy())
    return out


class EvalTransform:
    """Evaluation: resize to the network size, then :func:`to_tensors`. Deterministic.

    Args:
        size: network input (h, w) in pixels.
        d_min, d_max: valid depth range in metres (Syn-TODD 0-3, ClearPose 0.3-3).
        depth_mode: see :func:`resize_depth`.
    """

    def __init__(self, size: Size, d_min: float, d_max: float, *, depth_mode: str = "nearest") -> None:
        if depth_mode not in DEPTH_RESIZE_MODES:
            raise ValueError(f"depth_mode must be one of {DEPTH_RESIZE_MODES}, got {depth_mode!r}")
        self.size = (int(size[0]), int(size[1]))
        self.d_min, self.d_max = float(d_min), float(d_max)
        self.depth_mode = depth_mode

    def __call__(self, sample: Mapping[str, Any], rng: np.random.Generator | None = None) -> dict[str, Any]:
        resized = resize_sample(sample, self.size, depth_mode=self.depth_mode)
        return to_tensors(resized, self.d_min, self.d_max)


class WorkerRng:
    """A numpy generator for the current DataLoader worker and epoch, made on first use.

    Seeded from ``seed`` (one or more ints) followed by ``torch.initial_seed()``, which differs
    per worker and epoch and follows ``torch.manual_seed``; a new worker or epoch gets a new
    stream. Call it for the generator.
    """

    def __init__(self, *seed: int) -> None:
        self.seed = tuple(int(v) for v in seed)
        self._rng: np.random.Generator | None = None
        self._key: int | None = None

    def __call__(self) -> np.random.Generator:
        import torch  # noqa: PLC0415 - training only: inference imports this module without torch

        key = int(torch.initial_seed())
        if self._rng is None or self._key != key:
            self._rng = np.random.default_rng(np.random.SeedSequence([*self.seed, key]))
            self._key = key
        return self._rng


class TrainTransform(EvalTransform):
    """Training augmentation: random crop (+ resize to the network size) or zoom-out, horizontal flip,
    small rotation, colour jitter, then :func:`to_tensors`.

    Each step fires with its probability. Randomness: the ``rng`` passed to ``__call__``;
    without one, a generator seeded from ``seed`` and ``torch.initial_seed()`` (which differs
    per DataLoader worker and epoch and follows ``torch.manual_seed``), created per process.

    Args:
        size, d_min, d_max, depth_mode: as :class:`EvalTransform`.
        p_crop, crop_min_scale: probability and smallest side fraction of the random crop.
        p_zoom_out, zoom_out_min_scale: probability (of the frames not cropped) and smallest
            scale of a zoom-out (:func:`random_zoom_out`: a wider-angle view, ``fx`` scaled
            down); 0 (default) keeps earlier runs' random streams.
        p_flip: probability of a horizontal flip.
        p_rotate, max_rotation_deg: probability and largest angle of a rotation about the
            principal point.
        p_color, brightness, contrast, saturation: probability and strengths of the jitter.
        seed: base seed of the fallback generator.
        degradations: camera degradations applied last (sensor noise, blur, JPEG, exposure,
            white balance, vignetting; :func:`egsa_ros.data.degradations.degrade`), or None.
        p_table_texture, table_photos: probability that the table is re-patterned with a crop
            of one of ``table_photos`` ((h, w, 3) uint8 RGB each; see
            :mod:`egsa_ros.data.table_texture`), after the geometric steps and before the
            jitter; 0 (default) keeps earlier runs' random streams.
    """

    def __init__(
        self,
        size: Size,
        d_min: float,
        d_max: float,
        *,
        depth_mode: str = "nearest",
        p_crop: float = 0.5,
        crop_min_scale: float = 0.7,
        p_zoom_out: float = 0.0,
        zoom_out_min_scale: float = 0.6,
        p_flip: float = 0.5,
        p_rotate: float = 0.3,
        max_rotation_deg: float = 10.0,
        p_color: float = 0.8,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
        seed: int = 0,
        degradations: DegradationConfig | None = None,
        p_table_texture: float = 0.0,
        table_photos: Sequence[np.ndarray] = (),
    ) -> None:
        super().__init__(size, d_min, d_max, depth_mode=depth_mode)
        probabilities = {
            "p_crop": p_crop,
            "p_zoom_out": p_zoom_out,
            "p_flip": p_flip,
            "p_rotate": p_rotate,
            "p_color": p_color,
            "p_table_texture": p_table_texture,
        }
        for name, p in probabilities.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability, got {p}")
        if not 0 < crop_min_scale <= 1:
            raise ValueError(f"crop_min_scale must be in (0, 1], got {crop_min_scale}")
        if not 0 < zoom_out_min_scale <= 1:
            raise ValueError(f"zoom_out_min_scale must be in (0, 1], got {zoom_out_min_scale}")
        self.p_crop, self.crop_min_scale = p_crop, crop_min_scale
        self.p_zoom_out, self.zoom_out_min_scale = p_zoom_out, zoom_out_min_scale
        self.p_flip = p_flip
        self.p_rotate, self.max_rotation_deg = p_rotate, max_rotation_deg
        self.p_color = p_color
        self.jitter = {"brightness": brightness, "contrast": contrast, "saturation": saturation}
        self.seed = int(seed)
        self.degradations = degradations
        if p_table_texture > 0 and not table_photos:
            raise ValueError("p_table_texture > 0 needs table_photos")
        self.p_table_texture, self.table_photos = p_table_texture, tuple(table_photos)
        self._fallback_rng = WorkerRng(self.seed)

    def __call__(self, sample: Mapping[str, Any], rng: np.random.Generator | None = None) -> dict[str, Any]:
        rng = rng if rng is not None else self._fallback_rng()
        if rng.random() < self.p_crop:
            out = random_crop_resize(
                sample, rng, min_scale=self.crop_min_scale, size=self.size, depth_mode=self.depth_mode
            )
        else:
            out = resize_sample(sample, self.size, depth_mode=self.depth_mode)
            # drawn only when on, so that runs without it keep their random streams
            if self.p_zoom_out > 0 and rng.random() < self.p_zoom_out:
                out = random_zoom_out(out, rng, min_scale=self.zoom_out_min_scale)
        if rng.random() < self.p_flip:
            out = hflip_sample(out)
        if rng.random() < self.p_rotate:
            out = random_rotate(out, rng, self.max_rotation_deg)
        if self.p_table_texture > 0 and rng.random() < self.p_table_texture:  # drawn only when on
            out = random_table_texture(out, rng, self.table_photos)
        if rng.random() < self.p_color:
            out = random_color_jitter(out, rng, **self.jitter)
        if self.degradations is not None:  # drawn only when on: the other random streams stay as they were
            out = dict(out, rgb=degrade(out["rgb"], int(rng.integers(2**31)), self.degradations))
        return to_tensors(out, self.d_min, self.d_max)
