"""The geometry's pixel thresholds are stated at 192x256 and scale with the frame, so the same
scene gives the same instances whether its mask is 192x256 or upsampled to a camera's 480x640."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from egsa_ros.geometry import GlassConfig, glass_geometry
from egsa_ros.geometry.frame_scale import frame_scale, scaled_area, scaled_length
from egsa_ros.geometry.instances import InstanceConfig, transparent_instances
from egsa_ros.geometry.objects import ObjectConfig


def test_the_scale_is_one_at_the_reference_size_and_follows_the_pixel_count():
    assert frame_scale((192, 256)) == 1.0
    assert frame_scale((480, 640, 3)) == pytest.approx(2.5)
    assert frame_scale((96, 128)) == pytest.approx(0.5)
    assert scaled_area(50, 2.5) == 312 and scaled_length(2, 2.5) == 5
    assert scaled_area(1, 0.1) == 1 and scaled_length(1, 0.1) == 1  # never below one pixel
    config = InstanceConfig()
    assert config.at_frame((192, 256)) == config and ObjectConfig().at_frame((192, 256)) == ObjectConfig()
    big = config.at_frame((480, 640))
    assert (big.min_area_px, big.min_piece_px, big.edge_margin_px) == (312, 312, 5)
    assert big.depth_jump_rel == config.depth_jump_rel and big.canny_high == config.canny_high
    assert ObjectConfig().at_frame((480, 640)).min_pixels == 188


def _intrinsics(shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    return np.array([[0.8 * width, 0, width / 2], [0, 0.8 * width, height / 2], [0, 0, 1]])


def test_a_speck_of_the_network_mask_stays_a_speck_on_an_upsampled_frame():
    """A glass (40x30 px) and a 6x6 speck at 192x256: one instance, the speck dropped. The same
    mask upsampled 2.5x (nearest, as the pipeline does): still one instance and one drop (the
    speck's 225 pixels were above the unscaled 50-pixel threshold)."""
    mask = np.zeros((192, 256), np.uint8)
    mask[100:140, 60:90] = 1
    mask[40:46, 200:206] = 1
    counts = {}
    for shape in ((192, 256), (480, 640)):
        frame_mask = cv2.resize(mask, shape[::-1], interpolation=cv2.INTER_NEAREST)
        result = glass_geometry(frame_mask, None, _intrinsics(shape), config=GlassConfig(plane_sources=()))
        counts[shape] = (result.counts["instances"], result.counts["instances_dropped_small"])
    assert counts[(192, 256)] == counts[(480, 640)] == (1, 1)
    unscaled = InstanceConfig()
    upsampled = cv2.resize(mask, (640, 480), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert len(transparent_instances(upsampled, None, None, unscaled).stats) == 2  # what it did before
