"""The camera-frame model: uint8 HxWx3 frame in, metric depth and transparent mask out.

:class:`CameraFrameModel` wraps an :class:`~egsa_ros.model.net.EGSANet` with everything the
deployed graph needs, as tensor ops that export to one ONNX graph (and a TensorRT engine):

1. ``frame`` (H, W, 3) uint8 RGB -> (1, 3, H, W) float32;
2. resize to the network size (h, w) as :func:`egsa_ros.data.transforms.resize_rgb` does in
   training: ``cv2.INTER_AREA`` weights along shrinking axes, rounded to integers as OpenCV's
   uint8 output is (bit-exact for 480x640 -> 192x256), bilinear along growing axes;
3. the network (normalisation, Canny, encoder, iterative decoder);
4. depth upsampled bilinearly to (H, W) in metres; mask = argmax class == transparent class
   at (h, w), upsampled nearest (``cv2.INTER_NEAREST``'s floor rule) to (H, W), as uint8 0/1
   (with the options' ``mask_input_size``, from a second pass of the network at that size).

Static shapes by default. ``dynamic=True`` accepts any frame size at run time: the area
resize then builds its matrices from the frame's shape inside the graph (two MatMuls;
slower on a CPU than the static block filters, free on a GPU).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .inference_options import InferenceOptions
from .test_time import predict


def area_weights(src: int, dst: int) -> np.ndarray:
    """(dst, src) float64 matrix of ``cv2.INTER_AREA`` weights for shrinking ``src`` -> ``dst`` px.

    Output pixel j averages the input interval [j*s, (j+1)*s), s = src/dst, weighting each
    input pixel by its overlap with that interval. Rows sum to 1.
    """
    if not 0 < dst <= src:
        raise ValueError(f"area weights shrink: need 0 < dst <= src, got src={src}, dst={dst}")
    scale = src / dst
    j = np.arange(dst, dtype=np.float64)[:, None]
    i = np.arange(src, dtype=np.float64)[None, :]
    overlap = np.minimum((j + 1) * scale, i + 1) - np.maximum(j * scale, i)
    return np.clip(overlap, 0.0, None) / scale


class BlockAreaResize(nn.Module):
    """Exact area shrink of the LAST axis of a tensor with a small block matrix (static sizes).

    For src/dst = p/q in lowest terms, every p input pixels map to q output pixels with the
    same weights, so the shrink is ``x.reshape(..., src/p, p) @ B`` with B the (p, q) block of
    :func:`area_weights`: O(src * q) work, no dense (src, dst) matrix and no layout change
    (in ONNX Runtime this is about 30 % faster than an equivalent strided convolution).

    Args:
        src: input length of the last axis, pixels.
        dst: output length, pixels (<= src).
    """

    def __init__(self, src: int, dst: int) -> None:
        super().__init__()
        ratio = Fraction(src, dst)
        self.p, self.q, self.dst = ratio.numerator, ratio.denominator, dst
        block = torch.tensor(area_weights(self.p, self.q).T.copy(), dtype=torch.float32)  # (p, q)
        self.register_buffer("block", block, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., src) float32 -> (..., dst)."""
        lead = x.shape[:-1]
        blocks = x.reshape(*lead, x.shape[-1] // self.p, self.p)
        return torch.matmul(blocks, self.block).reshape(*lead, self.dst)


def traced_area_weights(src: Tensor, dst: int) -> Tensor:
    """:func:`area_weights` from a 0-dim int64 length that may be traced: (dst, src) float32.

    Exported as Shape/Range/Min/Max ops, so the weights follow the frame size at run time.
    """
    scale = src.to(torch.float32) / dst
    j = torch.arange(dst, dtype=torch.float32, device=src.device).unsqueeze(1)
    i = torch.arange(src, device=src.device).to(torch.float32).unsqueeze(0)
    overlap = torch.minimum((j + 1.0) * scale, i + 1.0) - torch.maximum(j * scale, i)
    return torch.clamp(overlap, min=0.0) / scale


class FrameResize(nn.Module):
    """(H, W, 3) uint8 camera frame -> (1, 3, h, w) float32 integer values 0..255, as
    :func:`egsa_ros.data.transforms.resize_rgb` does it (``cv2.INTER_AREA`` along shrinking axes,
    rounded as OpenCV's uint8 output is; bilinear along growing axes).

    Args:
        frame_size: (H, W) of the frames (the traced size when ``dynamic``).
        net_size: (h, w) output size.
        dynamic: build the area matrices from the frame's shape at run time.
    """

    def __init__(self, frame_size: tuple[int, int], net_size: tuple[int, int], dynamic: bool = False) -> None:
        super().__init__()
        (height, width), (h, w) = frame_size, net_size
        self.net_size = (int(h), int(w))
        self.dynamic = bool(dynamic)
        # Static graphs shrink each shrinking axis by exact area blocks (then, if the other
        # axis grows, bilinear along it, as resize_rgb does); dynamic graphs use dense
        # area matrices built from the frame's shape.
        self.resize_w = BlockAreaResize(width, w) if not dynamic and width > w else None
        self.resize_h = BlockAreaResize(height, h) if not dynamic and height > h else None

    def forward(self, frame: Tensor) -> Tensor:
        h, w = self.net_size
        if self.resize_w is not None or self.resize_h is not None:
            # Contract each axis as the last one: (H, 3, W) -> (H, 3, w) -> (3, w, H) -> (3, w, h).
            x = frame.to(torch.float32).permute(0, 2, 1)
            if self.resize_w is not None:
                x = self.resize_w(x)
            x = x.permute(1, 2, 0)
            if self.resize_h is not None:
                x = self.resize_h(x)
            x = torch.round(x.permute(0, 2, 1).unsqueeze(0))  # (1, 3, h', w'), uint8 values as cv2's
            if tuple(x.shape[-2:]) == (h, w):
                return x
            # The other axis grows (a camera narrower or shorter than the network input).
            return torch.round(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)).clamp(0, 255)
        x = frame.to(torch.float32).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)
        if self.dynamic:
            shape = torch._shape_as_tensor(frame)  # exported as Shape: follows the input
            rows = traced_area_weights(shape[0], h)  # (h, H)
            cols = traced_area_weights(shape[1], w)  # (w, W)
            x = torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))
            return torch.round(x)
        if tuple(x.shape[-2:]) == (h, w):
            return x
        # Enlarging: OpenCV uses INTER_LINEAR (half-pixel centres), as resize_rgb does.
        return torch.round(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)).clamp(0, 255)


class CameraFrameModel(nn.Module):
    """Camera frame -> (depth, mask), the graph that is exported and deployed.

    Args:
        network: a trained :class:`EGSANet`; used in eval mode.
        frame_size: (H, W) camera frame size in pixels (the static input shape; with
            ``dynamic=True`` only the size traced for export).
        edge_phase: ``rgb`` | ``depth`` | None (the network config's inference edge phase).
        dynamic: accept any frame size at run time (see the module docstring). Frames should
            be at least the network size: smaller ones are box-resampled, not bilinear.
        net_size: (h, w) the network runs at; default the config's ``input_size`` (what it
            was trained at). Must be a multiple of the encoder stride.
        options: test-time options built into the graph (mirrored averaging, the decision
            bias, the mask pass); default none.

    With ``options.mask_input_size`` set, the network runs a second time on the
    frame resized to that size and the mask comes from that pass (depth from the first).

    ``forward(frame)``: frame (H, W, 3) uint8 RGB -> ``depth`` (H, W) float32 metres and
    ``mask`` (H, W) uint8, 1 on transparent pixels.
    """

    def __init__(
        self,
        network: nn.Module,
        frame_size: tuple[int, int],
        *,
        edge_phase: str | None = None,
        dynamic: bool = False,
        net_size: tuple[int, int] | None = None,
        options: InferenceOptions | None = None,
    ) -> None:
        super().__init__()
        self.network = network.eval()
        self.options = options or InferenceOptions()
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.net_size = tuple(int(v) for v in (net_size or network.config.input_size))
        mask_size = self.options.mask_input_size
        self.mask_net_size = tuple(int(v) for v in mask_size) if mask_size else None
        divisor = network.backbone.size_divisor
        for what, size in (("network size", self.net_size), ("mask_input_size", self.mask_net_size)):
            if size is not None and (size[0] % divisor or size[1] % divisor):
                raise ValueError(
                    f"{what} {size[0]}x{size[1]} is not a multiple of "
                    f"the encoder stride {divisor} ({network.config.backbone})"
                )
        self.edge_phase = edge_phase
        self.dynamic = bool(dynamic)
        self.transparent_class = int(network.config.transparent_class)
        (height, width), (h, w) = self.frame_size, self.net_size
        if min(height, width) < 3:
            raise ValueError(f"frame {width}x{height} is too small (at least 3x3)")
        self.shrinks = height >= h and width >= w
        self.resize = FrameResize(self.frame_size, self.net_size, dynamic)
        self.mask_resize = FrameResize(self.frame_size, self.mask_net_size, dynamic) if self.mask_net_size else None

    def to_network_size(self, frame: Tensor) -> Tensor:
        """(H, W, 3) uint8 -> (1, 3, h, w) float32 integer values 0..255 (cv2 INTER_AREA)."""
        return self.resize(frame)

    def forward(self, frame: Tensor) -> tuple[Tensor, Tensor]:
        size = (frame.shape[0], frame.shape[1])
        depth, logits = predict(self.network, self.to_network_size(frame), self.options, edge_phase=self.edge_phase)
        if self.mask_resize is not None:
            _, logits = predict(self.network, self.mask_resize(frame), self.options, edge_phase=self.edge_phase)
        depth = F.interpolate(depth, size=size, mode="bilinear", align_corners=False)
        classes = torch.argmax(logits, dim=1, keepdim=True).to(torch.int32)
        mask = (classes == self.transparent_class).to(torch.float32)
        mask = F.interpolate(mask, size=size, mode="nearest")
        # reshape, not [0, 0]: indexing exports as Gather copies of the full frame.
        return depth.reshape(size), mask.reshape(size).to(torch.uint8)
