"""Tests of the matting augmentations (alphafree_matting/data/transforms.py)."""

import numpy as np
import pytest
from detectron2.data import transforms as T

from alphafree_matting.data.transforms import (
    RELEASE_INTERPOLATIONS,
    CV2ResizeTransform,
    MattingAugInput,
    PadToSize,
    RandomHFlip,
    RandomScale,
    UnknownCenteredCrop,
    UnknownContainingCrop,
    UpscaleSmall,
)


def aug_input(height, width, unknown=None, seed=0, **labels):
    """A sample whose trimap is unknown (128) exactly where ``unknown`` is True."""
    image = np.zeros((height, width, 3), np.uint8)
    if unknown is not None:
        labels["trimap"] = np.where(unknown, 128, 0).astype(np.uint8)
    return MattingAugInput(image, rng=np.random.default_rng(seed), **labels)


def test_images_and_alphas_use_the_transforms_interpolation_labels_nearest():
    label = np.zeros((4, 4), np.uint8)
    label[:, 2:] = 255
    sample = MattingAugInput(np.dstack([label] * 3), trimap=label, alpha=label / 255.0)
    sample.transform(CV2ResizeTransform(4, 4, 7, 9, "linear"))
    assert set(np.unique(sample.trimap).tolist()) == {0, 255}
    assert set(np.unique(sample.valid).tolist()) == {1}
    assert len(np.unique(sample.image)) > 2 and len(np.unique(sample.alpha)) > 2


def test_padding_is_zero_and_invalid_for_every_array():
    sample = MattingAugInput(
        np.full((3, 2, 3), 7, np.uint8),
        trimap=np.full((3, 2), 128, np.uint8),
        alpha=np.ones((3, 2)),
    )
    sample.transform(PadToSize((5, 4)).get_transform(sample.image))
    for array in (sample.image, sample.trimap, sample.alpha, sample.valid):
        assert array.shape[:2] == (5, 4)
        assert (array[3:] == 0).all() and (array[:, 2:] == 0).all()
        assert (array[:3, :2] != 0).all()


def test_crop_and_flip_compose_like_numpy_slicing():
    array = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
    sample = MattingAugInput(np.zeros((6, 8, 3), np.uint8), alpha=array)
    sample.transform(T.CropTransform(2, 1, 4, 3))
    sample.transform(T.HFlipTransform(4))
    np.testing.assert_array_equal(sample.alpha, array[1:4, 2:6][:, ::-1])


def test_unknown_region_is_the_trimap_band_or_else_the_soft_alpha():
    trimap = np.array([[0, 84, 85, 169, 170, 255]], np.uint8)
    image = np.zeros((1, 6, 3), np.uint8)
    band = MattingAugInput(image, trimap=trimap).unknown
    np.testing.assert_array_equal(band, [[False, False, True, True, False, False]])
    soft = MattingAugInput(image, alpha=np.array([[0.0, 1e-6, 0.3, 1.0, 0.99, 0.0]])).unknown
    np.testing.assert_array_equal(soft, [[False, False, True, False, True, False]])
    assert MattingAugInput(image).unknown is None


# --- the authors' crop --------------------------------------------------------------------
CROP = 64


def crop_centres(unknown, draws=200, **options):
    """(row, col) of the centre of ``draws`` crops; each crop has the crop size."""
    crop = UnknownCenteredCrop(CROP, **options)
    centres = []
    for seed in range(draws):
        sample = aug_input(*unknown.shape, unknown=unknown, seed=seed)
        tfm = crop(sample)
        assert isinstance(tfm, T.CropTransform) and sample.image.shape[:2] == (CROP, CROP)
        centres.append((tfm.y0 + CROP // 2, tfm.x0 + CROP // 2))
    return np.array(centres)


def test_release_crop_is_centred_on_an_unknown_pixel_of_the_interior():
    unknown = np.zeros((200, 240), bool)
    unknown[60:64, :] = True  # a band crossing the image, including the borders
    unknown[150:170, 120:124] = True
    centres = crop_centres(unknown)
    for row, col in centres:
        assert unknown[row - 3 : row + 4, col - 3 : col + 4].any()  # up to the 4-pixel grid
        # the interior: half a crop from every border
        assert CROP // 2 <= row <= 200 - CROP // 2 and CROP // 2 <= col <= 240 - CROP // 2
    assert len({tuple(c) for c in centres}) > 30  # candidates (49) are drawn at random
    assert (centres[:, 0] > 100).any() and (centres[:, 0] < 100).any()  # both unknown regions


def test_release_crop_is_uniform_with_fewer_than_ten_interior_candidates():
    unknown = np.zeros((200, 240), bool)
    unknown[100, 100:120:4] = True  # 5 candidates on the 4-pixel grid
    unknown[2, :] = True  # outside the interior: never a candidate
    centres = crop_centres(unknown)
    tops = centres[:, 0] - CROP // 2
    assert tops.min() < 20 and tops.max() > 200 - CROP - 20  # spread over the whole range
    assert len(np.unique(tops)) > 60


def test_release_crop_resizes_a_sample_without_unknown_pixels_or_crops_uniformly():
    known = np.zeros((150, 90), bool)
    sample = aug_input(150, 90, unknown=known)
    tfm = UnknownCenteredCrop(CROP)(sample)
    assert isinstance(tfm, CV2ResizeTransform) and sample.image.shape[:2] == (CROP, CROP)
    assert tfm.interpolation in RELEASE_INTERPOLATIONS
    sample = aug_input(150, 90, unknown=known)
    assert isinstance(UnknownCenteredCrop(CROP, no_unknown="uniform")(sample), T.CropTransform)


@pytest.mark.parametrize("size", [(512, 700), (300, 512), (20, 30), (600, 100)])
def test_small_samples_are_upscaled_above_the_crop_size(size):
    height, width = size
    sample = aug_input(height, width, unknown=np.ones(size, bool))
    tfm = UpscaleSmall(min_size=512, ratio=1.1)(sample)
    out_height, out_width = sample.image.shape[:2]
    assert out_height > 512 and out_width > 512
    assert min(out_height, out_width) == 563  # int(1.1 x 512)
    assert out_width / out_height == pytest.approx(width / height, rel=0.02)
    assert isinstance(tfm, CV2ResizeTransform) and tfm.interpolation in RELEASE_INTERPOLATIONS
    assert set(np.unique(sample.trimap).tolist()) == {128}


def test_large_samples_are_not_upscaled_and_interpolations_vary_between_samples():
    assert isinstance(UpscaleSmall(512)(aug_input(513, 600)), T.NoOpTransform)
    drawn = {UpscaleSmall(512)(aug_input(100, 120, seed=seed)).interpolation for seed in range(40)}
    assert drawn == set(RELEASE_INTERPOLATIONS)


# --- the project's earlier crop, scale, flip -----------------------------------------------
def test_containing_crop_contains_a_random_unknown_pixel():
    unknown_pixels = ((47, 3), (2, 58))
    unknown = np.zeros((50, 60), bool)
    for row, col in unknown_pixels:
        unknown[row, col] = True
    contained = set()
    for seed in range(40):
        tfm = UnknownContainingCrop((10, 12))(aug_input(50, 60, unknown=unknown, seed=seed))
        assert 0 <= tfm.y0 <= 40 and 0 <= tfm.x0 <= 48
        inside = [
            (row, col)
            for row, col in unknown_pixels
            if tfm.y0 <= row < tfm.y0 + 10 and tfm.x0 <= col < tfm.x0 + 12
        ]
        assert inside
        contained.update(inside)
    assert contained == set(unknown_pixels)  # every unknown pixel gets picked


def test_crops_keep_short_sides_whole():
    for crop in (UnknownContainingCrop(16), UnknownCenteredCrop(16, no_unknown="uniform")):
        tfm = crop(aug_input(8, 100, unknown=np.zeros((8, 100), bool)))
        assert (tfm.y0, tfm.h, tfm.w) == (0, 8, 16)


def test_random_scale_and_flip_draw_from_the_samples_generator():
    def run(seed):
        sample = aug_input(100, 80, seed=seed)
        transforms = T.AugmentationList([RandomScale((0.5, 2.0)), RandomHFlip(0.5)])(sample)
        return sample.image.shape, [type(t).__name__ for t in transforms]

    assert run(3) == run(3)
    assert len({str(run(seed)) for seed in range(10)}) > 3
    flips = [
        isinstance(RandomHFlip(0.5)(aug_input(4, 4, seed=s)), T.HFlipTransform) for s in range(40)
    ]
    assert 5 < sum(flips) < 35
    assert not any(
        isinstance(RandomHFlip(0.0)(aug_input(4, 4)), T.HFlipTransform) for _ in range(5)
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: RandomScale((1.5, 0.5)),
        lambda: UpscaleSmall(512, ratio=0.9),
        lambda: UnknownCenteredCrop(512, no_unknown="pad"),
        lambda: UpscaleSmall(512, interpolations=("bilinear",)),
    ],
)
def test_bad_augmentation_arguments_are_rejected(build):
    with pytest.raises(ValueError):
        build()
