"""``egsa-synth --jobs N``: worker processes cover the shard exactly and render the same bytes."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from egsa_ros.data.synth import parallel
from egsa_ros.data.synth.cli import main, shard_indices
from egsa_ros.data.synth.parallel import sub_shards, worker_argv

FRAME_FILES = ("rgb.png", "depth_gt.png", "depth_sensor.png", "semantic.png", "instance.png")


@pytest.mark.parametrize("shard", [(1, 1), (2, 3), (4, 4)])
@pytest.mark.parametrize("jobs", [1, 2, 3, 5])
def test_sub_shards_cover_the_shard_exactly_once(shard, jobs):
    got = sorted(i for s in sub_shards(shard, jobs) for i in shard_indices(41, s))
    assert got == shard_indices(41, shard)


def test_sub_shards_reject_zero_jobs():
    with pytest.raises(ValueError, match="jobs"):
        sub_shards((1, 1), 0)


def test_worker_argv_carries_every_scene_setting(tmp_path):
    args = SimpleNamespace(
        out=tmp_path,
        split="general",
        frames=48,
        seed=4000,
        width=256,
        height=192,
        spp=32,
        shard=(1, 1),
        jobs=2,
        glass_shapes=("flask", "bowl"),
        ior=(1.65, 1.8),
        glass_count=(5, 7),
    )
    argv = worker_argv(args, "llvm_ad_rgb", (2, 2))
    pairs = {opt: argv[argv.index(opt) + 1] for opt in argv if opt.startswith("--") and opt != "--no-progress"}
    assert argv[:3] == [sys.executable, "-m", "egsa_ros.data.synth.cli"]
    assert pairs["--shard"] == "2/2" and pairs["--variant"] == "llvm_ad_rgb"
    assert pairs["--glass-shapes"] == "flask,bowl" and pairs["--ior"] == "1.65,1.8"
    assert pairs["--glass-count"] == "5,7" and pairs["--seed"] == "4000" and pairs["--split"] == "general"
    assert "--no-progress" in argv and "--bag" not in argv and "--jobs" not in argv


def _argv(out, frames):
    return [
        "--out",
        str(out),
        "--split",
        "val",
        "--frames",
        str(frames),
        "--seed",
        "7",
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


def test_jobs_render_the_same_bytes_as_one_process(tmp_path, capsys):
    pytest.importorskip("mitsuba")
    assert main(_argv(tmp_path / "one", 3)) == 0
    capsys.readouterr()
    assert main(_argv(tmp_path / "two", 3) + ["--jobs", "2"]) == 0
    assert "3 rendered, 0 skipped" in capsys.readouterr().out
    for index in ("000000", "000001", "000002"):
        for name in FRAME_FILES:
            a = (tmp_path / "one" / "val" / index / name).read_bytes()
            assert a == (tmp_path / "two" / "val" / index / name).read_bytes(), (index, name)
    # resuming with jobs skips what is there
    assert main(_argv(tmp_path / "two", 3) + ["--jobs", "2"]) == 0
    assert "0 rendered, 3 skipped" in capsys.readouterr().out


def test_failing_worker_is_reported_and_stops_the_others(tmp_path, monkeypatch, capsys):
    def fake_argv(args, variant, shard):
        if shard[0] == 1:  # this worker fails at once, the other would run for a minute
            return [sys.executable, "-c", "import sys; sys.exit(3)"]
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    monkeypatch.setattr(parallel, "worker_argv", fake_argv)
    args = SimpleNamespace(shard=(1, 1), jobs=2, split="val")
    assert parallel.render_with_workers(args, "scalar_rgb", tmp_path, [0, 1], progress=False, poll_s=0.05) == 1
    assert "worker failed with exit code 3" in capsys.readouterr().err
