"""Metadata of exported camera-frame ONNX graphs (``egsa.*`` keys), read without torch.

A graph written by :func:`egsa_ros.model.frame_onnx.export_frame_onnx` carries its format
version, the package version, the architecture (``egsa.model_config``), the test-time options
built into it (``egsa.inference_options``), the frame and network sizes and, for graphs shipped
beside a checkpoint, the SHA-256 of the weights it was exported from (``egsa.weights_sha256``).
Format 1 graphs (test-time options inside the model config) are still read.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import ModelConfig
from .inference_options import InferenceOptions, split_legacy_config

FRAME_FORMAT = "egsa_ros.camera_frame"
FRAME_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)


def read_frame_metadata(path: str | Path) -> dict[str, str]:
    """``egsa.*`` metadata of a camera-frame ONNX graph; one clear error for foreign or old files.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not ONNX, not an egsa_ros camera-frame graph, or a format this version cannot read.
    """
    import onnx  # noqa: PLC0415 - ~1 s to import; only needed when a graph file is opened

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError / google.protobuf errors
        raise ValueError(f"{path} is not a readable ONNX file ({type(exc).__name__})") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("egsa.format") != FRAME_FORMAT:
        raise ValueError(
            f"{path} is not an egsa_ros camera-frame graph (no egsa.format metadata); export one with `egsa-export`"
        )
    version = int(meta.get("egsa.format_version", "0"))
    if version not in READABLE_FORMAT_VERSIONS:
        raise ValueError(
            f"{path} has camera-frame format version {version}, this egsa_ros reads "
            f"versions {READABLE_FORMAT_VERSIONS}: re-export it with this version's `egsa-export`"
        )
    return meta


def graph_configs(meta: dict[str, str]) -> tuple[ModelConfig, InferenceOptions]:
    """(architecture, test-time options built in) of a graph's metadata (any readable format)."""
    model_config = json.loads(meta["egsa.model_config"])
    if int(meta.get("egsa.format_version", "1")) == 1:
        arch, options = split_legacy_config(model_config)
        return ModelConfig.from_dict(arch), options
    return ModelConfig.from_dict(model_config), InferenceOptions.from_dict(json.loads(meta["egsa.inference_options"]))


def graph_frame_size(meta: dict[str, str]) -> tuple[int, int] | None:
    """(H, W) of a static graph, None for a dynamic one."""
    if meta["egsa.frame_size"] == "dynamic":
        return None
    height, width = (int(v) for v in meta["egsa.frame_size"].split("x"))
    return height, width
