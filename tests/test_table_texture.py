"""The table re-patterning augmentation: only table pixels change, shading kept, off by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egsa_ros.data import table_texture as TT
from egsa_ros.data import transforms as T


def _scene(h=48, w=64):
    """A grey frame: table (class 1) in the lower half with a shading ramp, a glass disc (2) on it,
    background (0) above."""
    labels = np.zeros((h, w), np.int64)
    labels[h // 2 :] = 1
    ys, xs = np.mgrid[0:h, 0:w]
    labels[(ys - 34) ** 2 + (xs - 30) ** 2 < 36] = 2
    rgb = np.full((h, w, 3), 90, np.uint8)
    rgb[h // 2 :] = (60 + 2 * np.arange(h - h // 2))[:, None, None].astype(np.uint8)  # shading ramp
    return rgb, labels


def _checker(h=48, w=64, cell=4):
    ys, xs = np.mgrid[0:h, 0:w]
    on = ((ys // cell + xs // cell) % 2).astype(bool)
    return np.where(on[..., None], np.array([200, 180, 160], np.uint8), np.array([40, 60, 80], np.uint8))


def test_only_table_pixels_change_and_keep_their_shading():
    rgb, labels = _scene()
    out = TT.retexture_table(rgb, labels, _checker(), strength=1.0)
    table = labels == 1
    assert np.array_equal(out[~table], rgb[~table])  # background and glass bit for bit
    assert out[table].std() > 20  # the checker pattern is on the table
    # the pattern's mean over the table is 1: each row's mean brightness follows the shading ramp
    rows = np.arange(24, 48)
    row_means = [out[r][table[r]].mean() for r in rows]
    ramp = [rgb[r][table[r]].mean() for r in rows]
    assert np.corrcoef(row_means, ramp)[0, 1] > 0.8
    assert abs(np.mean(out[table]) - np.mean(rgb[table])) < 0.1 * np.mean(rgb[table])


def test_strength_zero_and_tiny_tables_leave_the_frame_alone():
    rgb, labels = _scene()
    assert np.array_equal(TT.retexture_table(rgb, labels, _checker(), strength=0.0), rgb)
    few = np.zeros_like(labels)
    few[0, : TT.MIN_TABLE_PIXELS - 1] = 1
    assert np.array_equal(TT.retexture_table(rgb, few, _checker(), strength=1.0), rgb)


def test_bad_arguments_are_refused():
    rgb, labels = _scene()
    with pytest.raises(ValueError, match="must match"):
        TT.retexture_table(rgb, labels, _checker(h=40), strength=1.0)
    with pytest.raises(ValueError, match="strength"):
        TT.retexture_table(rgb, labels, _checker(), strength=1.5)
    with pytest.raises(ValueError, match="no photos"):
        TT.random_table_texture({"rgb": rgb, "labels": labels}, np.random.default_rng(0), [])
    with pytest.raises(ValueError, match="needs table_photos"):
        T.TrainTransform((8, 8), 0.0, 3.0, p_table_texture=0.5)
    with pytest.raises(ValueError, match="p_table_texture"):
        T.TrainTransform((8, 8), 0.0, 3.0, p_table_texture=1.5, table_photos=[_checker()])


def _sample():
    rgb, labels = _scene()
    depth = np.full(labels.shape, 0.8, np.float32)
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    return {"rgb": rgb, "labels": labels, "depth": depth, "K": K}


def test_train_transform_patterns_the_table_only_when_asked():
    photos = [_checker(96, 128, cell=7)]
    still = {"p_crop": 0.0, "p_flip": 0.0, "p_rotate": 0.0, "p_color": 0.0}
    plain = T.TrainTransform((48, 64), 0.0, 3.0)
    off = T.TrainTransform((48, 64), 0.0, 3.0, p_table_texture=0.0, table_photos=photos)
    a, b = plain(_sample(), np.random.default_rng(3)), off(_sample(), np.random.default_rng(3))
    for key in ("rgb", "depth", "labels", "K"):  # off: the random streams are those of earlier runs
        assert torch.equal(a[key], b[key]), key
    base = T.TrainTransform((48, 64), 0.0, 3.0, **still)(_sample(), np.random.default_rng(5))
    on = T.TrainTransform((48, 64), 0.0, 3.0, p_table_texture=1.0, table_photos=photos, **still)
    c = on(_sample(), np.random.default_rng(5))
    for key in ("depth", "labels", "K", "valid"):
        assert torch.equal(base[key], c[key]), key
    changed = (base["rgb"] != c["rgb"]).any(dim=0)
    table = c["labels"] == 1
    assert changed.any() and not changed[~table].any()


def test_table_photos_are_train_photos_at_a_bounded_size():
    try:
        images = TT.table_photos(2)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    assert images and all(im.dtype == np.uint8 and im.ndim == 3 for im in images)
    assert max(max(im.shape[:2]) for im in images) <= TT.MAX_SIDE_PX
