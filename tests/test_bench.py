"""Benchmark helpers and plots (the numbers themselves live in docs/benchmarks.md)."""

from __future__ import annotations

import cv2
import pytest

from egsa_ros.bench.model_bench import valid_size

pytest.importorskip("matplotlib")
from egsa_ros.bench import plots  # noqa: E402


def test_valid_size_rounds_to_the_divisor():
    assert valid_size((240, 320), 32) == (256, 320)
    assert valid_size((480, 640), 28) == (476, 644)
    assert valid_size((10, 10), 32) == (32, 32)


def _check_png(path, min_w=400):
    img = cv2.imread(str(path))
    assert img is not None and img.shape[1] >= min_w and img.std() > 5, path


def test_plots_render_from_benchmark_json(tmp_path):
    canny = {
        "image_size": [480, 640],
        "threads": 2,
        "rows": [
            {
                "rounds": n,
                "iou_mean": 0.6 + n / 400,
                "iou_min": 0.3 + n / 300,
                "ort_ms": 10 + n / 3,
                "torch_ms": 9 + n / 8,
            }
            for n in (0, 16, 32, 64, 128)
        ],
    }
    pipeline = {
        "threads": 2,
        "pipeline": [
            {
                "candidate": c,
                "preprocess_p50_ms": 1.8,
                "inference_p50_ms": t,
                "postprocess_p50_ms": 1.0,
                "total_p90_ms": t + 6,
            }
            for c, t in (("a", 25.0), ("b", 40.0))
        ],
    }
    presets = {
        "threads": 2,
        "presets": [
            {"preset": p, "requested": list(s), "forward_ms_median": m}
            for p, m in (("tiny", 3.0), ("paper_vitb", 3000.0))
            for s in ((240, 320), (480, 640))
        ],
    }
    _check_png(plots.plot_canny(canny, tmp_path / "c.png"))
    _check_png(plots.plot_pipeline(pipeline, tmp_path / "p.png"))
    _check_png(plots.plot_presets(presets, tmp_path / "m.png"))


def test_plots_cli_reports_an_empty_folder(tmp_path, capsys):
    assert plots.main([str(tmp_path)]) == 1
    assert "no benchmark JSON" in capsys.readouterr().err


def test_egsa_bench_reports_stages_percentiles_ratios_and_a_plot(tmp_path, capsys):
    """A smoke run of the real benchmark (tiny model, a MODEST-fusion tiny peer, few frames)."""
    import json

    from egsa_ros.bench.latency import main

    out = tmp_path / "latency.json"
    assert (
        main(
            [
                "--model",
                "tiny",
                "--frames",
                "3",
                "--peer-frames",
                "2",
                "--peer-preset",
                "tiny",
                "--canny-repeats",
                "3",
                "--sizes",
                "120x160",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    names = [r["candidate"] for r in data["rows"]]
    assert names[:3] == ["fused/onnxruntime", "cv2-canny/onnxruntime", "fused/torch-cpu"]
    assert any(n.startswith("modest-peer") for n in names)
    for row in data["rows"]:
        assert row["frame_size"] == [120, 160]
        assert 0 < row["total"]["p50"] <= row["total"]["p90"] <= row["total"]["p99"]
        assert row["inference"]["p50"] > 0 and row["fps_p50"] > 0
    assert set(data["ratios"]) == {"fused_ort_over_cv2canny_120x160", "modest_peer_over_default"}
    assert {r["what"].split(" (")[0].split(",")[0] for r in data["canny_step"]} >= {"cv2.Canny", "in-graph Canny"}
    assert data["environment"]["command"].startswith("egsa-bench")
    _check_png(out.with_suffix(".png"))
    assert "ratios (same run)" in capsys.readouterr().out


def test_egsa_bench_says_when_there_is_nothing_to_measure(tmp_path, capsys):
    import torch

    from egsa_ros.bench.latency import main

    if torch.cuda.is_available():
        pytest.skip("checks the CPU-only machine's refusal")
    assert main(["--model", "tiny", "--backends", "cuda", "--out", str(tmp_path / "x.json")]) == 2
    assert "nothing to measure" in capsys.readouterr().err


def test_egsa_bench_measures_larger_network_inputs_and_refuses_a_bad_one(tmp_path, capsys):
    """``--net-sizes``: one more fused ONNX Runtime row per network input, in the same group."""
    import json

    from egsa_ros.bench.latency import main

    out = tmp_path / "latency.json"
    common = ["--model", "tiny", "--frames", "2", "--peer-frames", "0", "--canny-repeats", "1"]
    common += ["--sizes", "120x160", "--backends", "onnxruntime"]
    assert main(common + ["--net-sizes", "128x160", "--out", str(out)]) == 0
    rows = {r["candidate"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["fused/onnxruntime", "cv2-canny/onnxruntime", "fused/onnxruntime net 128x160"]
    assert rows["fused/onnxruntime net 128x160"]["frame_size"] == [120, 160]
    assert rows["fused/onnxruntime net 128x160"]["inference"]["p50"] > 0
    capsys.readouterr()
    assert main(common + ["--net-sizes", "100x160", "--out", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "100x160 is not a multiple of" in err and err.count("\n") == 1
