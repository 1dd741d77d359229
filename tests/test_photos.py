"""Packaged real photographs: a fixed, disjoint train/held-out split, loaded without network."""

from __future__ import annotations

import numpy as np
import pytest

from egsa_ros.data import photos
from egsa_ros.data.transforms import IGNORE_INDEX, TrainTransform


def test_split_is_fixed_disjoint_and_has_both_parts():
    train = {p.name for p in photos.photos_in("train")}
    held = {p.name for p in photos.photos_in("heldout")}
    assert train and held and not train & held
    assert train | held == {p.name for p in photos.PHOTOS}
    assert len({p.name for p in photos.PHOTOS}) == len(photos.PHOTOS)
    assert all(p.no_glass for p in photos.photos_in("heldout")), "held-out photos are glass-free negatives"
    assert all(p.package != "skimage" for p in photos.PHOTOS), "scikit-image's images are reserved for tests"
    assert [p.name for p in photos.photos_in("train")] == [p.name for p in photos.photos_in("train")]
    with pytest.raises(ValueError, match="photo split"):
        photos.photos_in("test")


def test_installed_photos_load_as_rgb():
    found = photos.available_photos("train") + photos.available_photos("heldout")
    if not found:
        pytest.skip("none of the photo packages is installed")
    for p in found:
        img = photos.load_photo(p)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 256
        assert img.std() > 20, p.name
    with pytest.raises(KeyError, match="unknown photo"):
        photos.load_photo("astronaut")


def test_negative_crops_are_deterministic_and_split_apart():
    if not photos.available_photos("heldout", negatives_only=True) or not photos.available_photos(
        "train", negatives_only=True
    ):
        pytest.skip("photo packages not installed")
    a = photos.negative_crops("heldout", (64, 48), 4, seed=1)
    b = photos.negative_crops("heldout", (64, 48), 4, seed=1)
    assert all(x.shape == (48, 64, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], photos.negative_crops("heldout", (64, 48), 1, seed=2)[0])
    train = photos.negative_crops("train", (64, 48), 4, seed=1)
    assert all(not np.array_equal(x, y) for x, y in zip(a, train))


def test_photo_texture_is_linear_float():
    if not photos.available_photos("train"):
        pytest.skip("photo packages not installed")
    tex = photos.linear_texture(photos.available_photos("train")[0], 32, np.random.default_rng(0))
    assert tex.shape == (32, 32, 3) and tex.dtype == np.float32 and 0.0 <= tex.min() and tex.max() <= 1.0


def test_photo_negatives_feed_the_training_transform():
    if not photos.available_photos("train", negatives_only=True):
        pytest.skip("photo packages not installed")
    data = photos.PhotoNegatives("train", (96, 72), 3, seed=0)
    sample = data[1]
    assert len(data) == 3 and sample["rgb"].shape == (72, 96, 3)
    assert (sample["labels"] == 0).all() and (sample["depth"] == 0).all()
    out = photos.PhotoNegatives("train", (96, 72), 3, seed=0, transform=TrainTransform((48, 64), 0.1, 10.0))[0]
    assert tuple(out["rgb"].shape) == (3, 48, 64)
    assert set(np.unique(out["labels"].numpy())) <= {0, IGNORE_INDEX}, "nothing is transparent"


def test_photo_sets_grow_without_changing_earlier_sets_or_the_v2_generators_draws():
    from egsa_ros.data.synth import scene_v2

    assert [p.name for p in photos.photos_in("train", photo_set=1)] == ["china", "grace_hopper", "luispedro"]
    assert [p.name for p in photos.photos_in("heldout", photo_set=1)] == ["flower"]
    assert scene_v2.TRAIN_PHOTOS == ("china", "grace_hopper", "luispedro")  # posters and tables: set 1 only
    assert scene_v2.SCENERY_PHOTOS == ("china",)
    for split in photos.SPLITS:
        first = set(photos.photos_in(split, photo_set=1))
        assert first < set(photos.photos_in(split, photo_set=2))
    files = {split: {(p.package, p.path) for p in photos.photos_in(split)} for split in photos.SPLITS}
    assert not files["train"] & files["heldout"], "a photo file is in both splits"
    assert len(photos.photos_in("heldout")) >= 15  # a real-photo test, not one picture
    with pytest.raises(ValueError, match="photo set"):
        photos.photos_in("train", photo_set=3)
