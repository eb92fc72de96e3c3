"""Neighbour selection: hand-computed strip, agreement with the unfold + topk formulation,
tie order, border modes, padding (valid) == cropping, tiling, input checks."""

import math

import pytest
import torch
import torch.nn.functional as F

import alphafree_matting.criterion.neighbours as neighbours_module
from alphafree_matting.criterion import NO_NEIGHBOUR, pad_neighbours, select_neighbours
from tests.helpers.criterion_batches import random_batch


def unfold_topk(image, window, k, border):
    """Straightforward selection: all K*K distances by unfolding, then topk."""
    batch, _, height, width = image.shape
    unfolded = F.unfold(image, window, padding=window // 2).view(batch, 3, -1, height, width)
    distance = (image.unsqueeze(2) - unfolded).pow(2).sum(1).sqrt()
    if border == "exclude":
        inside = F.unfold(torch.ones(batch, 1, height, width), window, padding=window // 2)
        distance = distance.masked_fill(inside.view_as(distance) == 0, math.inf)
    return torch.topk(distance, k, dim=1, largest=False)


def test_strip_zeros_border_selects_black_outside_pixels_by_offset_order(strip):
    image, _ = strip
    index, distance = select_neighbours(image, window=3)
    # Pixel 0: itself, then two black outside pixels (d = 0.2) with the lowest offsets 0, 1.
    # Pixel 1: itself, right (d = 0.1), left (d = 0.3). Pixel 2: itself, left, black (d = 0.6).
    assert index[0, :, 0].T.tolist() == [[4, 0, 1], [4, 5, 3], [4, 3, 0]]
    expected = torch.tensor([[0.0, 0.2, 0.2], [0.0, 0.1, 0.3], [0.0, 0.1, 0.6]])
    torch.testing.assert_close(distance[0, :, 0].T, expected)


def test_strip_exclude_border_leaves_empty_slots_where_the_window_is_short(strip):
    image, _ = strip
    index, distance = select_neighbours(image, window=3, border="exclude")
    assert index[0, :, 0].T.tolist() == [[4, 5, NO_NEIGHBOUR], [4, 5, 3], [4, 3, NO_NEIGHBOUR]]
    assert math.isinf(distance[0, 2, 0, 0]) and math.isinf(distance[0, 2, 0, 2])


@pytest.mark.parametrize("border", ["zeros", "exclude"])
@pytest.mark.parametrize(
    "window,shape",
    [(3, (2, 3, 7, 9)), (5, (1, 3, 11, 6)), (11, (2, 3, 13, 17)), (11, (1, 3, 4, 3))],
)
def test_selection_matches_unfold_topk_on_continuous_images(window, shape, border):
    image, _, _, _ = random_batch(shape, seed=window)
    index, distance = select_neighbours(image, window=window, border=border)
    expected_distance, expected_index = unfold_topk(image, window, window, border)
    torch.testing.assert_close(distance, expected_distance, rtol=1e-6, atol=1e-7)
    if border == "exclude":  # no ties: the very same neighbours
        expected_index = expected_index.masked_fill(torch.isinf(expected_distance), NO_NEIGHBOUR)
        assert torch.equal(index.long(), expected_index)
    else:  # pixels whose window lies inside the image have no ties either
        radius = window // 2
        interior = (..., slice(radius, shape[2] - radius), slice(radius, shape[3] - radius))
        assert torch.equal(index.long()[interior], expected_index[interior])


def test_ties_are_ordered_by_window_offset():
    image = torch.full((1, 3, 9, 9), 0.5)  # flat: every candidate at distance 0
    index, distance = select_neighbours(image, window=5, k=7)
    assert index[0, :, 4, 4].tolist() == list(range(7))
    assert torch.all(distance == 0)


def test_result_does_not_depend_on_the_tile_size(monkeypatch):
    image, _, _, valid = random_batch((2, 3, 19, 23), seed=3, valid_rows=11)
    expected = select_neighbours(image, window=5, border="exclude", valid=valid)
    for tile_elements in (1, 2 * 23 * 25 * 3):  # one row per tile; 3 rows with a short last tile
        monkeypatch.setattr(neighbours_module, "_TILE_ELEMENTS", tile_elements)
        result = select_neighbours(image, window=5, border="exclude", valid=valid)
        assert torch.equal(result[0], expected[0]) and torch.equal(result[1], expected[1])


@pytest.mark.parametrize("border", ["zeros", "exclude"])
def test_padded_image_with_valid_selects_like_the_crop(border):
    crop, _, _, _ = random_batch((1, 3, 10, 13), seed=5)
    padded = F.pad(crop, (0, 6, 0, 5))
    valid = F.pad(torch.ones(1, 1, 10, 13, dtype=torch.bool), (0, 6, 0, 5), value=False)
    index, distance = select_neighbours(padded, window=7, border=border, valid=valid)
    crop_neighbours = select_neighbours(crop, window=7, border=border)
    crop_index, crop_distance = pad_neighbours(*crop_neighbours, 15, 19)
    assert torch.equal(index[..., :10, :13], crop_index[..., :10, :13])
    assert torch.equal(distance[..., :10, :13], crop_distance[..., :10, :13])
    assert torch.all(crop_index[..., 10:, :] == NO_NEIGHBOUR)
    assert torch.all(torch.isinf(crop_distance[..., :, 13:]))


def test_single_crop_input_returns_maps_without_batch_dimension():
    image, _, _, _ = random_batch((1, 3, 6, 8), seed=1)
    index, distance = select_neighbours(image[0], window=3, k=4)
    assert index.shape == distance.shape == (4, 6, 8)
    assert index.dtype == torch.int16 and distance.dtype == torch.float32
    batched = select_neighbours(image, window=3, k=4)
    assert torch.equal(index, batched[0][0]) and torch.equal(distance, batched[1][0])


def test_selection_carries_no_gradient_and_is_deterministic():
    image, _, _, _ = random_batch((2, 3, 9, 10), seed=2)
    image.requires_grad_(True)
    first = select_neighbours(image, window=5)
    second = select_neighbours(image, window=5)
    assert not first[1].requires_grad
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_bfloat16_image_selects_on_its_float32_values():
    image, _, _, _ = random_batch((1, 3, 6, 7), seed=4)
    image = image.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        index, distance = select_neighbours(image, window=3)
    expected = select_neighbours(image.float(), window=3)
    assert distance.dtype == torch.float32
    assert torch.equal(index, expected[0]) and torch.equal(distance, expected[1])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(window=4), "window must be a positive odd integer"),
        (dict(window=3, k=10), r"k must be an integer in \[1, window\*window\] = \[1, 9\]"),
        (dict(border="reflect"), "border must be one of"),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_neighbours(torch.rand(1, 3, 4, 4), **kwargs)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"image must have shape \(B, 3, H, W\)"):
        select_neighbours(torch.rand(1, 4, 5, 5))
    with pytest.raises(ValueError, match="valid must be a bool tensor"):
        select_neighbours(torch.rand(1, 3, 5, 5), valid=torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match="cannot pad neighbour maps"):
        pad_neighbours(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4), 3, 8)
