"""Image messages -> RGB arrays, and frames from folders and bags (INT8 calibration, benchmarks)."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

from egsa_ros.data.frame_sources import iter_frames
from egsa_ros.data.image_encodings import ImageDecodeError, image_to_rgb

RGB = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


@pytest.mark.parametrize(
    "encoding, pixels",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("rgba8", np.concatenate([RGB, np.full((4, 5, 1), 255, np.uint8)], 2)),
        ("bgra8", np.concatenate([RGB[:, :, ::-1], np.zeros((4, 5, 1), np.uint8)], 2)),
    ],
)
def test_colour_encodings_with_and_without_row_padding(encoding, pixels):
    for pad in (0, 3):
        rows = np.concatenate([pixels.reshape(4, -1), np.zeros((4, pad), np.uint8)], 1)
        out = image_to_rgb(encoding, 4, 5, rows.shape[1], array.array("B", rows.tobytes()))
        np.testing.assert_array_equal(out, RGB)
        assert out.flags.c_contiguous


def test_mono8_becomes_grey_rgb():
    grey = RGB[:, :, 0].copy()
    out = image_to_rgb("mono8", 4, 5, 5, grey.tobytes())
    assert out.shape == (4, 5, 3) and (out == grey[:, :, None]).all()


@pytest.mark.parametrize(
    "args, message",
    [
        (("16UC1", 4, 5, 10, b"\0" * 40), "unsupported encoding '16UC1'"),
        (("rgb8", 4, 5, 12, b"\0" * 60), "step 12 < width 5 x 3"),
        (("rgb8", 4, 5, 15, b"\0" * 50), "truncated image: 50 bytes, need step 15 x height 4 = 60"),
        (("rgb8", 0, 5, 15, b""), "empty image"),
    ],
)
def test_bad_images_raise_clear_errors(args, message):
    with pytest.raises(ImageDecodeError, match=message):
        image_to_rgb(*args)


def test_frames_from_a_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), np.full((6, 8, 3), (10 * i, 20, 30), np.uint8))  # BGR
    frames = list(iter_frames(tmp_path, limit=2))
    assert len(frames) == 2 and frames[1][0, 0].tolist() == [30, 20, 10]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        list(iter_frames(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="frame source not found"):
        list(iter_frames(tmp_path / "missing"))


@pytest.mark.parametrize("storage", ["MCAP", "SQLITE3"])
def test_frames_from_a_bag_of_either_storage(tmp_path, storage):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    Image, Header, Time = (
        store.types[n] for n in ("sensor_msgs/msg/Image", "std_msgs/msg/Header", "builtin_interfaces/msg/Time")
    )
    with Writer(tmp_path / "bag", version=9, storage_plugin=getattr(StoragePlugin, storage)) as writer:
        color = writer.add_connection("/camera/color/image_raw", Image.__msgtype__, typestore=store)
        other = writer.add_connection("/gt/mask", Image.__msgtype__, typestore=store)
        for i in range(3):
            header = Header(stamp=Time(sec=i, nanosec=0), frame_id="cam")
            msg = Image(
                header=header,
                height=4,
                width=5,
                encoding="bgr8",
                is_bigendian=0,
                step=15,
                data=np.ascontiguousarray(RGB[:, :, ::-1] + i).reshape(-1),
            )
            writer.write(color, i * 10**9, store.serialize_cdr(msg, Image.__msgtype__))
            mask = Image(
                header=header, height=4, width=5, encoding="mono8", is_bigendian=0, step=5, data=np.zeros(20, np.uint8)
            )
            writer.write(other, i * 10**9, store.serialize_cdr(mask, Image.__msgtype__))
    frames = list(iter_frames(tmp_path / "bag"))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[2], RGB + 2)
    with pytest.raises(ValueError, match="no sensor_msgs/msg/Image topic /nope"):
        list(iter_frames(tmp_path / "bag", topic="/nope"))
