"""Parity and behaviour tests for egsa_ros.edges (Canny as tensor ops) against OpenCV."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch

from egsa_ros.bench.canny_images import test_images as canny_test_images
from egsa_ros.edges import (
    DepthCanny,
    RGBCanny,
    _gradient_sectors,
    hysteresis,
    rgb_to_grey_opencv,
    sobel_3x3,
)

# Longest weak chain in the test images needs 276 rounds (rocket, blur=True); this is
# checked below by comparing with CONVERGED_ROUNDS + 64 rounds.
CONVERGED_ROUNDS = 320


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """list of HxWx3 uint8 -> (B,3,H,W) float32 0..255."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()


def _opencv_canny(rgb: np.ndarray, blur: bool, low: float = 50, high: float = 150) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if blur:
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
    return cv2.Canny(grey, low, high) > 0


def _edges(module: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = module(x)
    assert out.dtype == torch.float32 and out.shape[1] == 1
    return out[:, 0].numpy() > 0.5


@pytest.fixture(scope="module")
def images() -> list[tuple[str, np.ndarray]]:
    imgs = canny_test_images()
    assert len(imgs) >= 8, [name for name, _ in imgs]
    return imgs


@pytest.fixture(scope="module")
def batch(images) -> torch.Tensor:
    return _to_tensor([im for _, im in images])


# ---------------------------------------------------------------------------------------
# Building blocks


def test_grey_bit_exact_all_colours():
    """Every one of the 2**24 RGB colours gives OpenCV's grey value."""
    v = np.arange(256, dtype=np.uint8)
    r, g, b = np.meshgrid(v, v, v, indexing="ij")
    img = np.stack([r, g, b], axis=-1).reshape(4096, 4096, 3)
    expected = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    got = rgb_to_grey_opencv(_to_tensor([img]))
    assert got.shape == (1, 1, 4096, 4096) and got.dtype == torch.float32
    mismatches = int((got[0, 0].numpy() != expected).sum())
    assert mismatches == 0


def test_grey_bit_exact_random_images():
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (37, 53, 3), dtype=np.uint8) for _ in range(4)]
    got = rgb_to_grey_opencv(_to_tensor(imgs))[:, 0].numpy()
    for img, g in zip(imgs, got):
        np.testing.assert_array_equal(g, cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))


def test_sobel_matches_opencv():
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (31, 45), dtype=np.uint8)
    dx, dy = sobel_3x3(torch.from_numpy(grey.astype(np.float32))[None, None])
    np.testing.assert_array_equal(
        dx[0, 0].numpy(), cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    )
    np.testing.assert_array_equal(
        dy[0, 0].numpy(), cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    )


def test_direction_test_exact_in_fp32():
    """The fp32 sector test equals OpenCV's int32 test for all |dx|, |dy| in 0..1020."""
    a = torch.arange(1021, dtype=torch.int64)
    ax, ay = torch.meshgrid(a, a, indexing="ij")
    horizontal, vertical = _gradient_sectors(ax.float(), ay.float())
    ref_h = (ay << 15) < ax * 13573
    ref_v = (ay << 15) > ax * 13573 + (ax << 16)
    assert torch.equal(horizontal, ref_h)
    assert torch.equal(vertical, ref_v)
    assert not (horizontal & vertical).any()


# ---------------------------------------------------------------------------------------
# RGB Canny vs cv2.Canny


@pytest.mark.parametrize("blur", [True, False])
def test_rgb_canny_matches_opencv(images, batch, blur):
    ours = _edges(RGBCanny(hysteresis_rounds=CONVERGED_ROUNDS, blur=blur), batch)
    refs = [_opencv_canny(im, blur) for _, im in images]
    ious = {name: _iou(e, r) for (name, _), e, r in zip(images, ours, refs)}
    report = ", ".join(f"{k}={v:.4f}" for k, v in ious.items())
    assert min(ious.values()) >= 0.99, f"IoU vs cv2.Canny (blur={blur}): {report}"
    # Stronger than required: the algorithm is OpenCV's, so the maps are identical.
    exact = [name for (name, _), e, r in zip(images, ours, refs) if np.array_equal(e, r)]
    assert len(exact) == len(images), f"bit-exact only on {exact}; IoU {report}"
    # The number of rounds is what controls convergence: more rounds change nothing.
    more = _edges(RGBCanny(hysteresis_rounds=CONVERGED_ROUNDS + 64, blur=blur), batch)
    assert np.array_equal(ours, more), "hysteresis not converged at CONVERGED_ROUNDS"


def test_rgb_canny_rounds_matter_and_grow_monotonically(images, batch):
    rounds = [0, 8, 64, CONVERGED_ROUNDS]
    edges = {n: _edges(RGBCanny(hysteresis_rounds=n), batch) for n in rounds}
    refs = [_opencv_canny(im, blur=True) for _, im in images]
    for small, large in zip(rounds[:-1], rounds[1:]):
        extra = np.logical_and(edges[small], ~edges[large]).sum()
        assert extra == 0, f"edges({small}) not a subset of edges({large}): {extra} px"
    iou0 = [_iou(e, r) for e, r in zip(edges[0], refs)]
    iou_conv = [_iou(e, r) for e, r in zip(edges[CONVERGED_ROUNDS], refs)]
    report = ", ".join(f"{name}: {a:.3f}->{b:.3f}" for (name, _), a, b in zip(images, iou0, iou_conv))
    assert any(a < b - 0.05 for a, b in zip(iou0, iou_conv)), report


def test_threshold_handling_like_opencv(images):
    """Fractional thresholds are floored and swapped like cv2.Canny."""
    name, img = images[0]
    x = _to_tensor([img])
    ours = _edges(RGBCanny(low=120.7, high=40.2, hysteresis_rounds=CONVERGED_ROUNDS), x)[0]
    ref = _opencv_canny(img, blur=True, low=120.7, high=40.2)
    assert np.array_equal(ours, ref), f"{name}: IoU {_iou(ours, ref):.4f}"


def test_batch_equals_singles(images):
    x = _to_tensor([images[0][1], images[-1][1]])
    module = RGBCanny(hysteresis_rounds=32)
    both = _edges(module, x)
    np.testing.assert_array_equal(both[0], _edges(module, x[:1])[0])
    np.testing.assert_array_equal(both[1], _edges(module, x[1:])[0])


def test_half_and_unrounded_input(images):
    x = _to_tensor([images[1][1]])
    module = RGBCanny(hysteresis_rounds=32)
    ref = _edges(module, x)
    np.testing.assert_array_equal(_edges(module, x.half()), ref)  # computed in fp32
    np.testing.assert_array_equal(_edges(module.half(), x), ref)  # no weights to convert
    jitter = (torch.rand_like(x) - 0.5) * 0.9  # rounds back to the same integers
    np.testing.assert_array_equal(_edges(module, x + jitter), ref)
    np.testing.assert_array_equal(_edges(module, x * 3.0 - 300.0), _edges(module, (x * 3.0 - 300.0).clamp(0, 255)))


def test_hysteresis_eager_cpu_equals_maxpool_form():
    rng = np.random.default_rng(3)
    weak = torch.from_numpy((rng.random((2, 1, 40, 50)) > 0.4).astype(np.float32))
    strong = weak * torch.from_numpy((rng.random((2, 1, 40, 50)) > 0.97).astype(np.float32))
    expected = strong
    for _ in range(7):
        expected = torch.nn.functional.max_pool2d(expected, 3, 1, 1) * weak
    assert torch.equal(hysteresis(strong, weak, 7), expected)
    assert torch.equal(hysteresis(strong, weak, 0), strong)


# ---------------------------------------------------------------------------------------
# Depth Canny


def _depth(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(values.astype(np.float32))[None, None]


def test_depth_step_gives_one_line_and_smooth_ramp_none():
    h, w = 60, 100
    col = np.arange(w, dtype=np.float64)
    step = np.broadcast_to(np.where(col >= 50, 1.3, 1.0), (h, w))
    edges = _edges(DepthCanny(), _depth(step))[0]
    expected = np.zeros((h, w), bool)
    expected[:, 49] = True  # last pixel before the step (OpenCV's NMS tie rule)
    np.testing.assert_array_equal(edges, expected)

    ramp = np.broadcast_to(1.0 + 0.005 * col, (h, w))  # 0.005 m/px < low
    assert not _edges(DepthCanny(), _depth(ramp)).any()

    both = np.broadcast_to(1.0 + 0.005 * col + np.where(col >= 50, 0.3, 0.0), (h, w))
    edges = _edges(DepthCanny(), _depth(both))[0]
    # One pixel per row at the step (column 49 or 50: with the ramp the two magnitudes
    # are equal in exact arithmetic, fp32 rounding decides the tie).
    assert (edges.sum(axis=1) == 1).all()
    assert edges[:, 49:51].any(axis=1).all()


def test_depth_thresholds_are_metres_per_pixel():
    """Plateau, ramp of slope s from column 30 to 70, plateau.

    Gradient: 0 on plateaus, s/2 at columns 30 and 70, s inside. NMS keeps only column 31
    (first pixel with the full slope, ``m > m[left]`` and ``m >= m[right]``); inside the
    ramp ``m > m[left]`` fails. So column 31 is an edge iff s > high (strong) and s > low.
    """
    h, w, a, b = 40, 100, 30, 70

    def depth(slope: float) -> torch.Tensor:
        col = np.arange(w, dtype=np.float64)
        return _depth(np.broadcast_to(2.0 + slope * (np.clip(col, a, b) - a), (h, w)))

    line = np.zeros((h, w), bool)
    line[:, a + 1] = True
    # 0.03 m/px: above low=0.02 but below high=0.05 and no strong seed -> nothing.
    assert not _edges(DepthCanny(low=0.02, high=0.05), depth(0.03)).any()
    # Same ramp with high below the slope: edges, and only inside the ramp.
    edges = _edges(DepthCanny(low=0.02, high=0.025), depth(0.03))[0]
    assert edges[:, a + 1].all() and not edges[:, : a + 1].any() and not edges[:, b:].any()
    # low above the slope: nothing.
    assert not _edges(DepthCanny(low=0.035, high=0.05), depth(0.03)).any()
    # 0.0625 m/px (exact in fp32) exceeds high=0.05: exactly the column a+1.
    np.testing.assert_array_equal(_edges(DepthCanny(), depth(0.0625))[0], line)
    # The same scene in millimetres would be 1000x steeper: thresholds are absolute.
    assert not _edges(DepthCanny(low=20.0, high=50.0), depth(0.0625)).any()


def test_depth_invalid_values_are_zero():
    rng = np.random.default_rng(4)
    d = 1.0 + rng.random((50, 70)) * 0.01
    d[10:20, 10:20] = np.nan
    d[30:35, 40:60] = np.inf
    d[40:45, 5:15] = -np.inf
    d[0:5, 60:70] = -1.0
    module = DepthCanny()
    with torch.no_grad():
        out = module(_depth(d))
    assert torch.isfinite(out).all()
    assert set(np.unique(out.numpy())) <= {0.0, 1.0}
    zeroed = np.where(np.isfinite(d) & (d > 0), d, 0.0)
    np.testing.assert_array_equal(out[:, 0].numpy() > 0.5, _edges(module, _depth(zeroed)))
    assert out[0, 0, 8:22, 8:22].sum() > 0  # the hole boundary is a depth step
    np.testing.assert_array_equal(_edges(module, _depth(d).half()), _edges(module, _depth(d).half().float()))


# ---------------------------------------------------------------------------------------
# ONNX export


def _export_and_check(module: torch.nn.Module, x: torch.Tensor, path, rounds: int):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    module = module.eval()
    with warnings.catch_warnings():  # the legacy exporter is deprecated, but required here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, (x,), str(path), dynamo=False, opset_version=17, input_names=["input"], output_names=["edges"]
        )
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "Equal" not in ops and "GreaterOrEqual" not in ops and "LessOrEqual" not in ops
    assert "Loop" not in ops and "If" not in ops
    pools = [n for n in model.graph.node if n.op_type in ("MaxPool", "AveragePool")]
    assert len(pools) == rounds  # hysteresis unrolled, one pool per round
    for n in pools:
        for attr in n.attribute:
            if attr.name == "dilations":
                assert list(attr.ints) == [1, 1]
    out_type = model.graph.output[0].type.tensor_type
    assert [d.dim_value for d in out_type.shape.dim] == [x.shape[0], 1, x.shape[2], x.shape[3]]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = module(x).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)
    return ref


def test_onnx_export_rgb(images, tmp_path):
    img = cv2.resize(images[0][1], (160, 120), interpolation=cv2.INTER_AREA)
    ref = _export_and_check(RGBCanny(hysteresis_rounds=16), _to_tensor([img]), tmp_path / "rgb_canny.onnx", rounds=16)
    assert ref.sum() > 100


def test_onnx_export_depth(tmp_path):
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:120, 0:160]
    d = 1.0 + 0.002 * xx + 0.4 * ((xx - 80) ** 2 + (yy - 60) ** 2 < 900) + rng.normal(0, 0.002, (120, 160))
    d[5:15, 5:25] = np.nan
    ref = _export_and_check(DepthCanny(hysteresis_rounds=16), _depth(d), tmp_path / "depth_canny.onnx", rounds=16)
    assert ref.sum() > 50
