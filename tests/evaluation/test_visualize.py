"""Tests of alphafree_matting/evaluation/visualize.py: error colours, grid layout."""

import cv2
import numpy as np
import pytest

from alphafree_matting.conventions import alpha_to_uint8
from alphafree_matting.evaluation.visualize import (
    ERROR_COLORMAP,
    SEPARATOR_WIDTH,
    TITLE_HEIGHT,
    error_colormap,
    make_grid,
)


def colormap_rgb(value: int) -> np.ndarray:
    pixel = cv2.applyColorMap(np.array([[value]], np.uint8), ERROR_COLORMAP)
    return cv2.cvtColor(pixel, cv2.COLOR_BGR2RGB)[0, 0]


def sample(height=40, width=30, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    gt = np.clip(np.linspace(-0.5, 1.5, width)[None, :].repeat(height, 0), 0, 1)
    trimap = np.full((height, width), 128, np.uint8)
    trimap[gt == 0], trimap[gt == 1] = 0, 255
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1)
    return image, trimap, pred, gt


def test_error_colormap_uses_a_fixed_zero_to_one_scale():
    gt = np.zeros((2, 3))
    colours = error_colormap(np.array([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]]), gt)
    assert colours.shape == (2, 3, 3) and colours.dtype == np.uint8
    np.testing.assert_array_equal(colours[0, 0], colormap_rgb(0))
    np.testing.assert_array_equal(colours[0, 1], colormap_rgb(255))
    np.testing.assert_array_equal(colours[0, 2], colormap_rgb(128))


def test_grid_with_gt_has_five_titled_panels_of_the_image_size():
    image, trimap, pred, gt = sample()
    grid = make_grid(image, trimap, pred, gt)
    assert grid.dtype == np.uint8
    assert grid.shape == (TITLE_HEIGHT + 40, 5 * 30 + 4 * SEPARATOR_WIDTH, 3)
    step = 30 + SEPARATOR_WIDTH
    panels = [grid[TITLE_HEIGHT:, k * step : k * step + 30] for k in range(5)]
    np.testing.assert_array_equal(panels[0], image)
    np.testing.assert_array_equal(panels[1][..., 0], trimap)
    np.testing.assert_array_equal(panels[2][..., 1], alpha_to_uint8(pred))
    np.testing.assert_array_equal(panels[3][..., 2], alpha_to_uint8(gt))
    np.testing.assert_array_equal(panels[4], error_colormap(pred, gt))
    assert np.all(grid[:, 30:step] == 255)  # white separator
    assert np.any(grid[:TITLE_HEIGHT] < 128)  # the title text is drawn


def test_grid_without_gt_or_trimap_keeps_placeholders_and_drops_the_error_panel():
    image, _, pred, _ = sample()
    grid = make_grid(image, None, pred, None)
    assert grid.shape == (TITLE_HEIGHT + 40, 4 * 30 + 3 * SEPARATOR_WIDTH, 3)


def test_grid_scales_tall_images_down_to_max_height():
    image, trimap, pred, gt = sample(height=100, width=50)
    grid = make_grid(image, trimap, pred, gt, max_height=50)
    assert grid.shape == (TITLE_HEIGHT + 50, 5 * 25 + 4 * SEPARATOR_WIDTH, 3)
    # the trimap is resized with nearest neighbours: still only 0 / 128 / 255
    trimap_panel = grid[TITLE_HEIGHT:, 25 + SEPARATOR_WIDTH : 50 + SEPARATOR_WIDTH, 0]
    assert set(np.unique(trimap_panel)) <= {0, 128, 255}


def test_grid_rejects_a_prediction_of_another_size():
    image, trimap, pred, gt = sample()
    with pytest.raises(ValueError, match="pred has size"):
        make_grid(image, trimap, pred[:-1], gt)
