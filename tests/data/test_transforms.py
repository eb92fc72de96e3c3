"""Tests of the geometric augmentation plans (alphafree_matting/data/transforms.py)."""

import numpy as np
import pytest

from alphafree_matting.data.transforms import (
    ArrayKind,
    Crop,
    HFlip,
    Pad,
    Resize,
    apply_transforms,
    sample_crop,
    sample_geometric_transforms,
)


@pytest.mark.parametrize(
    "kind, fill",
    [
        (ArrayKind.IMAGE, 0),
        (ArrayKind.ALPHA, 0),
        (ArrayKind.LABEL, 128),
        (ArrayKind.VALID, 0),
    ],
)
def test_padding_value_depends_on_what_the_array_holds(kind, fill):
    array = np.full((3, 2) + ((3,) if kind is ArrayKind.IMAGE else ()), 7, np.uint8)
    padded = apply_transforms([Pad(5, 4)], array, kind)
    assert padded.shape[:2] == (5, 4)
    assert (padded[:3, :2] == 7).all()
    assert (padded[3:] == fill).all() and (padded[:, 2:] == fill).all()


def test_labels_are_resized_with_nearest_and_images_linearly():
    label = np.zeros((4, 4), np.uint8)
    label[:, 2:] = 255
    resized_label = apply_transforms([Resize(7, 9)], label, ArrayKind.LABEL)
    resized_image = apply_transforms([Resize(7, 9)], np.dstack([label] * 3), ArrayKind.IMAGE)
    assert set(np.unique(resized_label).tolist()) == {0, 255}
    assert len(np.unique(resized_image)) > 2


def test_crop_and_flip_compose_like_numpy_slicing():
    array = np.arange(6 * 8).reshape(6, 8)
    out = apply_transforms([Crop(1, 2, 3, 4), HFlip()], array, ArrayKind.ALPHA)
    np.testing.assert_array_equal(out, array[1:4, 2:6][:, ::-1])
    assert out.flags["C_CONTIGUOUS"]


def test_sampled_crop_contains_a_random_unknown_pixel():
    rng = np.random.default_rng(0)
    unknown_pixels = ((47, 3), (2, 58))
    unknown = np.zeros((50, 60), bool)
    for row, col in unknown_pixels:
        unknown[row, col] = True
    contained = set()
    for _ in range(40):
        crop = sample_crop(rng, 50, 60, (10, 12), unknown, unknown_bias=1.0)
        assert 0 <= crop.top <= 40 and 0 <= crop.left <= 48
        inside = [
            (row, col)
            for row, col in unknown_pixels
            if crop.top <= row < crop.top + 10 and crop.left <= col < crop.left + 12
        ]
        assert inside
        contained.update(inside)
    assert contained == set(unknown_pixels)  # every unknown pixel gets picked


def test_short_sides_are_kept_whole():
    crop = sample_crop(np.random.default_rng(0), 8, 100, (16, 16))
    assert (crop.top, crop.height, crop.width) == (0, 8, 16)


@pytest.mark.parametrize("height, width", [(20, 30), (64, 48), (200, 90)])
def test_every_plan_produces_the_crop_size(height, width):
    rng = np.random.default_rng(height)
    for _ in range(10):
        plan = sample_geometric_transforms(
            rng,
            height,
            width,
            crop_size=(32, 40),
            scale_range=(0.5, 1.5),
            hflip_prob=0.5,
            unknown=np.ones((height, width), bool),
        )
        image = np.zeros((height, width, 3), np.uint8)
        assert apply_transforms(plan, image, ArrayKind.IMAGE).shape == (32, 40, 3)


def test_plans_are_reproducible_from_the_generator_seed():
    def plan(seed):
        return sample_geometric_transforms(
            np.random.default_rng(seed),
            100,
            80,
            crop_size=(32, 32),
            scale_range=(0.8, 1.25),
            hflip_prob=0.5,
        )

    assert plan(3) == plan(3)
    assert any(plan(3) != plan(seed) for seed in range(4, 10))
