"""Tests of alphafree_matting/conventions.py: trimap values <-> targets, alpha as uint8."""

import numpy as np

from alphafree_matting.conventions import alpha_to_uint8, target_to_trimap, trimap_to_target


def test_alpha_to_uint8_rounds_instead_of_flooring_and_clips():
    alpha = np.array([0.0, 0.4 / 255, 0.6 / 255, 254.6 / 255, 1.0, 1.2, -0.1])
    np.testing.assert_array_equal(alpha_to_uint8(alpha), [0, 0, 1, 255, 255, 255, 0])


def test_trimap_values_map_to_targets_by_threshold_and_back():
    trimap = np.array([0, 84, 85, 128, 169, 170, 255], np.uint8)
    target = trimap_to_target(trimap)
    np.testing.assert_array_equal(target, [0, 0, 0.5, 0.5, 0.5, 1, 1])
    np.testing.assert_array_equal(target_to_trimap(target), [0, 0, 128, 128, 128, 255, 255])
