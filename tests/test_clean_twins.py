"""Clean twins: a training frame is read from the clean render of its scene with the configured
probability, through links too; twins of another scene and missing folders are one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egsa_ros.data.clean_twins import CleanTwins
from egsa_ros.data.synthetic import SyntheticDataset, read_frame
from egsa_ros.train.config import load_train_config


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """The same 3 v2 scenes at 2 and at 16 samples per pixel, and 2 more scenes of another seed."""
    pytest.importorskip("mitsuba", reason="mitsuba not installed (requirements-train.txt installs it)")
    from egsa_ros.data.synth.cli import main as synth  # noqa: PLC0415 - needs mitsuba, checked above

    root = tmp_path_factory.mktemp("twins")
    common = ["--out", str(root), "--width", "64", "--height", "48", "--variant", "scalar_rgb", "--generator", "v2"]
    for split, spp, seed, frames in (("noisy", 2, 5, 3), ("clean", 16, 5, 3), ("other", 16, 6, 2)):
        args = [*common, "--split", split, "--spp", str(spp), "--seed", str(seed), "--frames", str(frames)]
        assert synth([*args, "--no-progress"]) == 0
    return root


def _rgb_sources(dataset: CleanTwins, noisy: SyntheticDataset, draws: int) -> list[str]:
    """For ``draws`` reads of frame 0: 'clean' or 'noisy' by which render's pixels came back."""
    clean_rgb = read_frame(dataset.twin_of[0])["rgb"]
    noisy_rgb = noisy.read_sample(0)["rgb"]
    assert not np.array_equal(clean_rgb, noisy_rgb)
    out = []
    for _ in range(draws):
        rgb = dataset[0]["rgb"]
        assert np.array_equal(rgb, clean_rgb) or np.array_equal(rgb, noisy_rgb)
        out.append("clean" if np.array_equal(rgb, clean_rgb) else "noisy")
    return out


def test_every_frame_finds_its_twin_and_the_share_sets_how_often_it_is_read(renders):
    noisy = SyntheticDataset(renders, "noisy")
    twins = {str(renders / "noisy"): str(renders / "clean")}
    always = CleanTwins(noisy, twins, share=1.0)
    assert sorted(always.twin_of) == [0, 1, 2] and len(always) == 3
    assert set(_rgb_sources(always, noisy, 5)) == {"clean"}
    assert set(_rgb_sources(CleanTwins(noisy, twins, share=0.0), noisy, 5)) == {"noisy"}
    half = _rgb_sources(CleanTwins(noisy, twins, share=0.5, seed=3), noisy, 200)
    assert 70 <= half.count("clean") <= 130


def test_twins_are_found_through_renamed_links_and_frames_without_one_stay_as_they_are(renders, tmp_path):
    links = tmp_path / "links" / "train"
    links.mkdir(parents=True)
    for i in range(3):
        (links / f"noisy_{i:06d}").symlink_to(renders / "noisy" / f"{i:06d}", target_is_directory=True)
    (links / "other_000000").symlink_to(renders / "other" / "000000", target_is_directory=True)
    base = SyntheticDataset(tmp_path / "links", "train")
    dataset = CleanTwins(base, {str(renders / "noisy"): str(renders / "clean")}, share=1.0)
    with_twin = {base.frames[i].name for i in dataset.twin_of}
    assert with_twin == {"noisy_000000", "noisy_000001", "noisy_000002"}
    other = next(i for i, f in enumerate(base.frames) if f.name == "other_000000")
    assert np.array_equal(dataset[other]["rgb"], base.read_sample(other)["rgb"])


def test_a_twin_of_another_scene_or_a_missing_folder_is_one_clear_error(renders, tmp_path):
    noisy = SyntheticDataset(renders, "noisy")
    with pytest.raises(ValueError, match="another scene"):
        CleanTwins(noisy, {str(renders / "noisy"): str(renders / "other")}, share=0.5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CleanTwins(noisy, {str(renders / "noisy"): str(tmp_path / "missing")}, share=0.5)
    meta = json.loads((renders / "clean" / "000000" / "meta.json").read_text())
    assert meta["spp"] == 16 and meta["seed"] == 5


def test_config_pairs_folders_and_refuses_bad_values():
    cfg = load_train_config(
        "default_small", ['data.clean_twins={"d/train": "d/train_spp256"}', "data.clean_twin_share=0.5"]
    )
    assert cfg.data.clean_twins == {"d/train": "d/train_spp256"} and cfg.data.clean_twin_share == 0.5
    assert load_train_config("default_small", []).data.clean_twin_share == 0.0
    for bad, match in (
        (["data.clean_twin_share=0.5"], "needs data.clean_twins"),
        (['data.clean_twins={"d/train": "d/c"}', "data.clean_twin_share=1.5"], "clean_twin_share"),
        (["data.clean_twins=[1, 2]"], "clean_twins"),
    ):
        with pytest.raises(ValueError, match=match):
            load_train_config("default_small", bad)


def test_the_trainer_reads_the_train_split_through_its_twins(renders, capsys):
    from egsa_ros.model.config import get_preset  # noqa: PLC0415
    from egsa_ros.train.trainer import build_dataset  # noqa: PLC0415

    overrides = [f"data.root={renders}", "data.train_split=noisy", "data.augment=false"]
    overrides += [f'data.clean_twins={{"{renders / "noisy"}": "{renders / "clean"}"}}', "data.clean_twin_share=1.0"]
    cfg = load_train_config("default_small", overrides)
    dataset = build_dataset(cfg, get_preset("default_small"), "noisy", train=True)
    assert isinstance(dataset, CleanTwins) and len(dataset.twin_of) == 3
    assert f"clean twins: 3 of 3 {renders}/noisy frames" in capsys.readouterr().out


def test_the_extra_train_folders_are_read_through_their_twins_too(renders, capsys):
    """Pairing is by folder: frames added by data.extra_train (e.g. the v1 generator's) find their
    clean twins as the train split's do."""
    from torch.utils.data import ConcatDataset  # noqa: PLC0415

    from egsa_ros.model.config import get_preset  # noqa: PLC0415
    from egsa_ros.train.trainer import build_dataset  # noqa: PLC0415

    overrides = [f"data.root={renders}", "data.train_split=other", "data.augment=false"]
    overrides += [f"data.extra_train=[{renders / 'noisy'}]", "data.clean_twin_share=1.0"]
    overrides += [f'data.clean_twins={{"{renders / "noisy"}": "{renders / "clean"}"}}']
    cfg = load_train_config("default_small", overrides)
    dataset = build_dataset(cfg, get_preset("default_small"), "other", train=True)
    assert isinstance(dataset, ConcatDataset) and len(dataset) == 2 + 3
    own, extra = dataset.datasets
    assert isinstance(extra, CleanTwins) and sorted(extra.twin_of) == [0, 1, 2] and own.twin_of == {}
    out = capsys.readouterr().out
    assert f"clean twins: 3 of 3 {renders}/noisy frames" in out and f"0 of 2 {renders}/other" in out
    clean = extra.base.transform(read_frame(renders / "clean" / "000001"))["rgb"]
    noisy = extra.base.transform(extra.base.read_sample(1))["rgb"]
    assert not np.array_equal(np.asarray(clean), np.asarray(noisy))
    assert np.array_equal(np.asarray(dataset[2 + 1]["rgb"]), np.asarray(clean))
