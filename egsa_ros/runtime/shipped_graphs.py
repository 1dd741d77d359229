"""Camera-frame graphs shipped inside a checkpoint directory (``graphs/*.onnx``).

A graph is used only when it was exported from exactly these weights (``egsa.weights_sha256``
equals the SHA-256 of ``model.safetensors``) with the requested test-time options; anything
else is skipped with the reason, so a retrained or recalibrated model never runs a stale graph.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..model.checkpoint_info import GRAPHS_DIR, MODEL_FILE, sha256_file
from ..model.graph_metadata import graph_configs, graph_frame_size, read_frame_metadata
from ..model.inference_options import InferenceOptions

LOG = logging.getLogger("egsa_ros.pipeline")


def shipped_graphs(directory: str | Path, options: InferenceOptions) -> tuple[dict, list[str]]:
    """(``{(H, W) or None: path}``, reasons for skipped files) of a checkpoint directory's graphs.

    Args:
        directory: a checkpoint directory.
        options: the test-time options the caller will run with.
    """
    folder = Path(directory) / GRAPHS_DIR
    if not folder.is_dir():
        return {}, []
    weights = Path(directory) / MODEL_FILE
    digest = sha256_file(weights) if weights.is_file() else ""
    graphs: dict = {}
    skipped: list[str] = []
    for path in sorted(folder.glob("*.onnx")):
        try:
            meta = read_frame_metadata(path)
            _, built_in = graph_configs(meta)
        except (ValueError, KeyError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        if meta.get("egsa.weights_sha256") != digest:
            skipped.append(f"{path.name}: exported from other weights than {MODEL_FILE}")
        elif built_in != options:
            skipped.append(f"{path.name}: built with other test-time options ({built_in})")
        else:
            graphs[graph_frame_size(meta)] = path
    return graphs, skipped
