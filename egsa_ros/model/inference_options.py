"""Test-time options: how a trained network is run, as opposed to what it is.

:class:`InferenceOptions` is stored beside the architecture (:class:`~egsa_ros.model.config.ModelConfig`)
in checkpoints (``checkpoint.json``: ``inference_options``) and in the metadata of exported
camera-frame graphs (``egsa.inference_options``). Changing an option never changes the weights.
Plain data only: importing this module needs no torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: The ModelConfig fields that were test-time options before checkpoint format 2.
LEGACY_FIELDS = ("transparent_logit_bias", "flip_average", "mask_input_size")


@dataclass(frozen=True)
class InferenceOptions:
    """How the network is run at test time.

    Attributes:
        transparent_logit_bias: added to the transparent class's logit before the argmax (a
            decision threshold chosen after training on a validation split,
            ``python -m egsa_ros.train.calibrate``); 0 leaves the logits as trained.
        flip_average: also run the horizontally mirrored image and average the two depths and
            logits (the network runs on a batch twice as large: about twice the network time,
            1.5x a 480x640 frame on 2 CPU threads).
        mask_input_size: (H, W) pixels or None. When set, the camera-frame graph
            (:class:`~egsa_ros.model.frame_graph.CameraFrameModel`) runs the network a second time
            on the frame resized to this size and takes the mask from that pass (finer outlines
            from a large camera frame); depth still comes from the network's ``input_size``. A
            multiple of the encoder stride.
        canonical_focal: None, or the focal length (fx / image width, unitless) of the camera
            whose depth the network was trained to predict (camera-aware metric depth, the
            canonical-camera idea of Metric3D). The network sees only pixels, and the same
            picture at twice the focal length means twice the distance; so training scales the
            network's depth by :meth:`depth_scale` of each frame's own fx before the loss, and
            inference does the same with the frame's fx from camera_info. Set by training
            (``egsa-train inference.canonical_focal=...``), part of what the weights mean: do not
            change it on a trained model. 0.785 is a 65 deg horizontal field of view.
        focal_exponent: the power of that factor, ``((fx / width) / canonical_focal) **
            focal_exponent``; 1 (the default) is the canonical-camera formula. Below 1 it trusts
            the network's own sense of scale a little (it regresses toward the depths it was
            trained on, which shows as a trend of its frame scale with fx on validation frames).
        canonical_view_focal: None, or (lo, hi) fx / width of the cameras the network was trained
            on. A frame whose fx / width is outside it is seen a second time as a camera at the
            nearest end would see it, and the first view's depth takes that view's global scale
            (:mod:`egsa_ros.runtime.canonical_view`; up to twice the network time on such frames,
            none on the others). Applied by the runtime pipeline after the graph.
        canonical_view_inset: 0 <= inset < 1: the second view's lens moves from the nearest end
            of ``canonical_view_focal`` this share of the way toward ``canonical_focal`` (in
            log fx / width); 0 is the end itself.
    """

    transparent_logit_bias: float = 0.0
    flip_average: bool = False
    mask_input_size: tuple[int, int] | None = None
    canonical_focal: float | None = None
    focal_exponent: float = 1.0
    canonical_view_focal: tuple[float, float] | None = None
    canonical_view_inset: float = 0.0

    def __post_init__(self) -> None:
        if self.mask_input_size is not None:
            object.__setattr__(self, "mask_input_size", tuple(int(v) for v in self.mask_input_size))
        object.__setattr__(self, "flip_average", bool(self.flip_average))
        object.__setattr__(self, "transparent_logit_bias", float(self.transparent_logit_bias))
        if self.mask_input_size is not None and (len(self.mask_input_size) != 2 or min(self.mask_input_size) <= 0):
            raise ValueError(f"mask_input_size must be (H, W) > 0 or None, got {self.mask_input_size}")
        if not math.isfinite(self.transparent_logit_bias):
            raise ValueError(f"transparent_logit_bias must be finite, got {self.transparent_logit_bias}")
        if self.canonical_focal is not None:
            object.__setattr__(self, "canonical_focal", float(self.canonical_focal))
            if not (math.isfinite(self.canonical_focal) and 0.05 <= self.canonical_focal <= 20.0):
                raise ValueError(
                    f"canonical_focal is fx / image width and must be in [0.05, 20] or None, got {self.canonical_focal}"
                )
        object.__setattr__(self, "focal_exponent", float(self.focal_exponent))
        if not (math.isfinite(self.focal_exponent) and 0.0 < self.focal_exponent <= 2.0):
            raise ValueError(f"focal_exponent must be in (0, 2], got {self.focal_exponent}")
        if self.canonical_view_focal is not None:
            span = tuple(float(v) for v in self.canonical_view_focal)
            if len(span) != 2 or not all(math.isfinite(v) for v in span) or not 0.05 <= span[0] < span[1] <= 20.0:
                raise ValueError(
                    f"canonical_view_focal must be (lo, hi) fx / width with 0.05 <= lo < hi <= 20, got {span}"
                )
            object.__setattr__(self, "canonical_view_focal", span)
        object.__setattr__(self, "canonical_view_inset", float(self.canonical_view_inset))
        if not (math.isfinite(self.canonical_view_inset) and 0.0 <= self.canonical_view_inset < 1.0):
            raise ValueError(f"canonical_view_inset must be in [0, 1), got {self.canonical_view_inset}")

    def depth_scale(self, fx: float | None, width: int) -> float:
        """Factor from the network's depth to metres for a frame of ``width`` pixels whose focal
        length is ``fx`` pixels: ``((fx / width) / canonical_focal) ** focal_exponent``; 1.0 when
        the model is not camera-aware or ``fx`` is None (the depth then assumes the canonical camera)."""
        if self.canonical_focal is None or fx is None:
            return 1.0
        fx = float(fx)
        if not (math.isfinite(fx) and fx > 0 and width > 0):
            raise ValueError(f"need a finite fx > 0 and width > 0 for camera-aware depth, got fx={fx}, width={width}")
        return ((fx / float(width)) / self.canonical_focal) ** self.focal_exponent

    def replace(self, **changes: Any) -> InferenceOptions:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InferenceOptions:
        """Inverse of :meth:`to_dict` (None: the defaults); unknown keys raise ``ValueError``."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown inference option keys {unknown} (model from another egsa_ros version?)")
        return cls(**data)

    def differences(
        self, *, flip_average: bool | None = None, mask_input_size: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """The requested options that differ from these (None: keep), as :meth:`replace` arguments."""
        changes: dict[str, Any] = {}
        if flip_average is not None and bool(flip_average) != self.flip_average:
            changes["flip_average"] = bool(flip_average)
        if mask_input_size is not None:
            size = tuple(int(v) for v in mask_input_size)
            if size != self.mask_input_size:
                changes["mask_input_size"] = size
        return changes

    def describe(self) -> str:
        """``", flip-averaged, mask at 384x512"`` (empty for the plain network), for model names."""
        parts = []
        if self.flip_average:
            parts.append("flip-averaged")
        if self.mask_input_size:
            parts.append("mask at {}x{}".format(*self.mask_input_size))
        if self.canonical_focal is not None:
            parts.append(f"camera-aware depth (canonical fx/W {self.canonical_focal:.3f})")
            if self.focal_exponent != 1.0:
                parts.append(f"focal exponent {self.focal_exponent:g}")
            if self.canonical_view_focal is not None:
                parts.append(view_note(self.canonical_view_focal, self.canonical_view_inset))
        return "".join(", " + p for p in parts)


def view_note(span: tuple[float, float], inset: float) -> str:
    """How model names describe the canonical-view pass: ``"second view outside fx/W 0.5-1.37"``."""
    note = "second view outside fx/W {:g}-{:g}".format(*span)
    return note + (f" (lens inset {inset:g})" if inset else "")


def split_legacy_config(model_config: dict[str, Any]) -> tuple[dict[str, Any], InferenceOptions]:
    """A format-1 ``model_config`` dict (test-time options inside) -> (architecture dict, options)."""
    arch = {k: v for k, v in model_config.items() if k not in LEGACY_FIELDS}
    legacy = {k: model_config[k] for k in LEGACY_FIELDS if k in model_config}
    return arch, InferenceOptions.from_dict(legacy)
