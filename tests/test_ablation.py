"""The ablation runner: real egsa-train processes (tiny preset, 2 steps) on a fixture dataset."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from egsa_ros.train import ablation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_fixture import write_synthetic_fixture  # noqa: E402

TINY = ["model.preset=tiny", "channels_last=false", "num_threads=1", "data.num_workers=0", "optim.batch_size=2"]


def test_plan_names_runs_and_rejects_unknown_variants():
    runs = ablation.plan_runs(["modest", "egsa_rgb"], [0, 1], ["flask", "bowl"])
    assert [r.name for r in runs] == [
        "modest",
        "egsa_rgb",
        "modest_seed1",
        "egsa_rgb_seed1",
        "heldout_egsa_progressive",
    ]
    assert runs[-1].exclude_shapes == ("flask", "bowl")
    repeated = ablation.plan_runs(["modest", "sa", "egsa_rgb"], [0, 3], repeat_variants=["sa"])
    assert [r.name for r in repeated] == ["modest", "sa", "egsa_rgb", "sa_seed3"] and repeated[-1].seed == 3
    with pytest.raises(ValueError, match="unknown variant"):
        ablation.plan_runs(["cbam"], [0])


def test_overrides_set_one_budget_and_the_variant(tmp_path):
    budget = ablation.Budget(epochs=6, steps_per_epoch=10, switch_epoch=3, input_size=(96, 128))
    ov = ablation.RunSpec("egsa_depth", "egsa_depth", seed=2).overrides(tmp_path, tmp_path / "o", budget, ["x=1"])
    for expected in (
        "optim.epochs=6",
        "max_steps_per_epoch=10",
        "progressive.switch_epoch=3",
        "seed=2",
        "model.overrides.fusion=egsa",
        "model.overrides.edge_source=depth",
        "model.overrides.input_size=[96,128]",
        f"out_dir={tmp_path / 'o' / 'egsa_depth'}",
    ):
        assert expected in ov
    assert ov[-1] == "x=1"
    # fusions without an edge gate get no edge source: they would be the same network
    assert not any("edge_source" in o for o in ablation.RunSpec("sa", "sa").overrides(tmp_path, tmp_path, budget))


def test_run_state_reads_the_last_checkpoint_epoch(tmp_path):
    assert ablation.run_state(tmp_path, 4) == "new"
    (tmp_path / "last").mkdir()
    (tmp_path / "last" / "checkpoint.json").write_text(json.dumps({"epoch": 1}))
    assert ablation.run_state(tmp_path, 4) == "partial"
    assert ablation.run_state(tmp_path, 2) == "done"


def test_ablation_trains_evaluates_and_reports(tmp_path, capsys):
    root = write_synthetic_fixture(tmp_path / "data", {"train": 4, "test": 2})
    out = tmp_path / "abl"
    argv = [
        "--root",
        str(root),
        "--out",
        str(out),
        "--variants",
        "modest",
        "egsa_progressive",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "1",
        "--switch-epoch",
        "1",
        "--heldout-shapes",
        "flask",
        "--eval-splits",
        "test",
        "missing_split",
        "--set",
        *TINY,
    ]
    assert ablation.main(argv) == 0
    result = json.loads((out / "ablation.json").read_text())
    assert set(result["runs"]) == {"modest", "egsa_progressive", "heldout_egsa_progressive"}
    prog = result["runs"]["egsa_progressive"]
    assert [c["edge_phase"] for c in prog["curve"]] == ["rgb", "depth"]  # the progressive switch happened
    assert prog["steps"] == 2 and prog["eval"]["test"]["frames"] == 2
    assert "missing_split" not in prog["eval"]
    assert 0.0 <= prog["eval"]["test"]["transparent_iou"] <= 1.0
    assert result["runs"]["heldout_egsa_progressive"]["exclude_shapes"] == ["flask"]
    report = (out / "ablation.md").read_text()
    assert "| modest | 1 |" in report and "| egsa_progressive | 1 |" in report
    assert "Held-out shapes" in report and "| without flask | test |" in report
    assert (out / "ablation.png").stat().st_size > 10_000
    # the evaluation is cached where the report reads it
    cached = json.loads((out / "egsa_progressive" / "eval" / "test.json").read_text())
    assert cached["transparent_iou"] == pytest.approx(prog["eval"]["test"]["transparent_iou"])

    capsys.readouterr()
    assert ablation.main(argv) == 0  # everything is reused, nothing retrained
    assert capsys.readouterr().out.count("finished earlier, reused") == 3
    assert ablation.main(argv + ["--report-only"]) == 0


def test_cli_rejects_a_switch_outside_the_budget(tmp_path):
    with pytest.raises(SystemExit):
        ablation.main(["--root", str(tmp_path), "--out", str(tmp_path / "o"), "--epochs", "4", "--switch-epoch", "4"])
