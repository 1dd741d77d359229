"""A frame rendered by egsa-synth reads back through SyntheticDataset with consistent units."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements.txt installs it)")

from egsa_ros.data.synth.cli import main as synth_main  # noqa: E402
from egsa_ros.data.synthetic import SyntheticDataset  # noqa: E402


def test_rendered_frame_loads_with_matching_depth_labels_and_intrinsics(tmp_path):
    rc = synth_main(
        [
            "--out",
            str(tmp_path),
            "--split",
            "val",
            "--frames",
            "1",
            "--seed",
            "3",
            "--width",
            "64",
            "--height",
            "48",
            "--spp",
            "4",
            "--variant",
            "scalar_rgb",
            "--no-progress",
        ]
    )
    assert rc == 0
    meta = json.loads((tmp_path / "val" / "000000" / "meta.json").read_text())
    dataset = SyntheticDataset(tmp_path, "val")
    assert len(dataset) == 1
    sample = dataset.read_sample(0)
    assert sample["rgb"].shape == (48, 64, 3) and sample["rgb"].dtype == np.uint8
    np.testing.assert_allclose(sample["K"], np.asarray(meta["K"]), rtol=1e-6)
    glass = sample["labels"] == 2
    assert glass.any(), "the scene sampler always places glass in view"
    # Metres, glass surfaces included, and nearer than what the depth camera sees behind them.
    assert 0.1 < float(np.median(sample["depth"][glass])) < 3.0
    seen = glass & (sample["depth_sensor"] > 0)
    assert (sample["depth"][seen] < sample["depth_sensor"][seen]).mean() > 0.95
