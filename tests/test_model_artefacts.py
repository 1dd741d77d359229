"""Checkpoints and shipped graphs: old formats load, graphs are current, stale ones are refused."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from egsa_ros import load_pipeline
from egsa_ros.data.generated import tabletop_frame
from egsa_ros.model.checkpoint import load_checkpoint
from egsa_ros.model.checkpoint_info import (
    CHECKPOINT_FORMAT,
    MODEL_FILE,
    inference_options_from_info,
    model_config_from_info,
    read_info,
    sha256_file,
)
from egsa_ros.model.graph_metadata import graph_configs, read_frame_metadata
from egsa_ros.model.inference_options import InferenceOptions
from egsa_ros.model.model_source import bundled_model_dir
from egsa_ros.runtime.shipped_graphs import shipped_graphs

FORMAT1 = Path(__file__).parent / "fixtures" / "default_small_checkpoint_format1.json"


def test_the_bundled_checkpoint_is_format_2_and_its_old_format_1_file_still_loads(tmp_path):
    bundled = bundled_model_dir()
    info = read_info(bundled)
    assert info["format"] == CHECKPOINT_FORMAT == 2
    old = json.loads(FORMAT1.read_text())
    assert old.get("format", 1) == 1 and "transparent_logit_bias" in old["model_config"]
    # The same weights with the format-1 checkpoint.json as committed before format 2.
    ckpt = tmp_path / "old"
    ckpt.mkdir()
    shutil.copyfile(bundled / MODEL_FILE, ckpt / MODEL_FILE)
    shutil.copyfile(FORMAT1, ckpt / "checkpoint.json")
    network, _ = load_checkpoint(ckpt)
    assert model_config_from_info(old) == model_config_from_info(info)
    assert network.config == model_config_from_info(info)
    assert "pretrained" in old["model_config"] and not hasattr(network.config, "pretrained")
    # format 1 kept the decision bias in the model config; the bundled model (V2ah) is camera-aware
    assert inference_options_from_info(old) == InferenceOptions(transparent_logit_bias=-0.5)
    assert inference_options_from_info(info) == InferenceOptions(
        transparent_logit_bias=-0.25,
        canonical_focal=0.785,
        canonical_view_focal=(0.5, 1.3737),
        canonical_view_inset=0.5,
    )
    pipe = load_pipeline(ckpt, backend="torch", frame_size=None)
    assert pipe.options.transparent_logit_bias == -0.5 and not pipe.camera_aware


def test_the_bundled_model_ships_current_graphs_and_the_pipeline_uses_them():
    bundled = bundled_model_dir()
    options = inference_options_from_info(read_info(bundled))
    graphs, skipped = shipped_graphs(bundled, options)
    assert skipped == [], f"stale shipped graphs: {skipped}; run python -m egsa_ros.export.ship_graphs {bundled}"
    assert set(graphs) == {(480, 640), None}
    digest = sha256_file(bundled / MODEL_FILE)
    for path in graphs.values():
        meta = read_frame_metadata(path)
        assert meta["egsa.weights_sha256"] == digest
        config, built_in = graph_configs(meta)
        assert built_in == options
        assert config == model_config_from_info(read_info(bundled))
    pipe = load_pipeline(backend="onnxruntime", frame_size=None)
    assert pipe.backend.graphs == graphs and pipe.backend.export is None


def test_graphs_of_other_weights_or_options_are_not_used(tmp_path, caplog):
    ckpt = tmp_path / "retrained"
    shutil.copytree(bundled_model_dir(), ckpt)
    # Other test-time options than the graphs were exported with: they are skipped.
    graphs, skipped = shipped_graphs(ckpt, InferenceOptions(flip_average=True, transparent_logit_bias=-0.5))
    assert graphs == {} and all("other test-time options" in reason for reason in skipped) and len(skipped) == 2
    # Changed weights (a retrained model): skipped, and the pipeline exports fresh graphs with torch.
    weights = (ckpt / MODEL_FILE).read_bytes()
    (ckpt / MODEL_FILE).write_bytes(weights[:-4] + bytes(4))
    graphs, skipped = shipped_graphs(ckpt, inference_options_from_info(read_info(ckpt)))
    assert graphs == {} and all("other weights" in reason for reason in skipped)
    with caplog.at_level(logging.INFO, logger="egsa_ros.pipeline"):
        pipe = load_pipeline(ckpt, backend="onnxruntime", frame_size=None)
    assert pipe.backend.graphs == {} and pipe.backend.export is not None
    assert "not using shipped graph" in caplog.text
    assert pipe(tabletop_frame(1, 48, 64)).depth.shape == (48, 64)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "checkpoint.json").write_text('{"format": 2, "model_config": '), "not valid JSON"),
        (lambda d: (d / MODEL_FILE).write_bytes((d / MODEL_FILE).read_bytes()[:1000]), "not a readable safetensors"),
        (lambda d: (d / MODEL_FILE).write_bytes(b"garbage" * 10), "not a readable safetensors"),
        (lambda d: (d / "checkpoint.json").write_text('{"format": 7, "model_config": {}}'), "checkpoint format 7"),
    ],
)
def test_corrupt_checkpoints_name_the_file_and_the_problem(tmp_path, damage, message):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(bundled_model_dir(), ckpt, ignore=shutil.ignore_patterns("graphs"))
    damage(ckpt)
    with pytest.raises(ValueError, match=message) as info:
        load_pipeline(ckpt, backend="torch", frame_size=None)
    assert str(ckpt) in str(info.value)


def test_an_unusable_engine_is_refused_or_replaced_only_when_asked(tmp_path, caplog):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises(RuntimeError, match="TensorRT backend cannot run here"):
        load_pipeline(engine=engine, frame_size=None)
    with caplog.at_level(logging.WARNING, logger="egsa_ros.pipeline"):
        pipe = load_pipeline(engine=engine, engine_fallback=True, frame_size=None)
    assert pipe.fallback_reason and str(engine) in pipe.fallback_reason
    assert pipe.backend_name.startswith("onnxruntime") and "engine_fallback" in caplog.text
    assert np.isfinite(pipe(tabletop_frame(3, 48, 64)).depth).all()
