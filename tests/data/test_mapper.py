"""Tests of MattingDatasetMapper: output contract, identical geometry for image and labels,
padding, the unknown-biased crop, test mode, label kinds, precompute, augmentation lists."""

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyCall, instantiate
from detectron2.data import transforms as T
from omegaconf import OmegaConf

from alphafree_matting.conventions import trimap_to_target
from alphafree_matting.data import (
    MattingDataError,
    MattingDatasetMapper,
    PadToSize,
    RandomHFlip,
    RandomScale,
    UnknownCenteredCrop,
    UnknownContainingCrop,
    UpscaleSmall,
)
from alphafree_matting.data import io as data_io
from alphafree_matting.data.io import write_png

CROP = 32


def augmented(crop=CROP, scale_range=None, hflip_prob=0.0, unknown_bias=1.0):
    """Scale (optional), crop containing an unknown pixel, flip, pad to the crop."""
    scale = [RandomScale(scale_range)] if scale_range else []
    crop_and_flip = [UnknownContainingCrop(crop, unknown_bias), RandomHFlip(hflip_prob)]
    return scale + crop_and_flip + [PadToSize(crop)]


def _write(tmp_path, image, trimap=None, alpha=None, mask=None, stem="s"):
    """Write a sample; returns its dataset dict (paths only for the labels given)."""
    record = {"file_name": str(tmp_path / f"{stem}.png"), "image_id": stem}
    write_png(record["file_name"], image)
    for kind, label in (("trimap", trimap), ("alpha", alpha), ("mask", mask)):
        if label is not None:
            record[f"{kind}_file_name"] = str(tmp_path / kind / f"{stem}.png")
            write_png(record[f"{kind}_file_name"], label)
    return record


def _block_sample(height, width, block=8, seed=0):
    """Image of constant random-colour blocks whose trimap is a function of the red channel."""
    rng = np.random.default_rng(seed)
    blocks = (-(-height // block), -(-width // block))
    red = rng.choice(np.array([0, 128, 255], np.uint8), size=blocks)
    green_blue = rng.integers(0, 256, size=blocks + (2,), dtype=np.uint8)
    image = np.concatenate([red[..., None], green_blue], axis=2)
    image = np.repeat(np.repeat(image, block, axis=0), block, axis=1)[:height, :width]
    return np.ascontiguousarray(image), np.ascontiguousarray(image[..., 0])


def _find_offset(whole: np.ndarray, part: np.ndarray):
    """(top, left) where ``part`` occurs in ``whole`` exactly, or None."""
    height, width = part.shape[:2]
    for top in range(whole.shape[0] - height + 1):
        for left in range(whole.shape[1] - width + 1):
            if np.array_equal(whole[top : top + height, left : left + width], part):
                return top, left
    return None


def _image_u8(sample) -> np.ndarray:
    return np.round(sample["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def test_training_output_follows_the_model_input_contract(tmp_path):
    image, trimap = _block_sample(48, 64)
    mapper = MattingDatasetMapper(True, augmentations=augmented())
    sample = mapper(_write(tmp_path, image, trimap=trimap))
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, CROP, CROP)
    assert 0.0 <= sample["image"].min() and sample["image"].max() <= 1.0
    assert sample["trimap"].dtype == torch.float32 and sample["trimap"].shape == (1, CROP, CROP)
    assert set(sample["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
    assert sample["valid"].dtype == torch.bool and sample["valid"].all()
    assert (sample["height"], sample["width"]) == (CROP, CROP)
    assert sample["image_id"] == "s" and "alpha" not in sample


def test_crop_and_flip_move_image_and_trimap_together_exactly(tmp_path):
    image, trimap = _block_sample(40, 44, block=5, seed=1)
    record = _write(tmp_path, image, trimap=trimap)
    np.random.seed(0)
    flips = 0
    for _ in range(6):
        sample = MattingDatasetMapper(True, augmentations=augmented(hflip_prob=0.5))(record)
        crop = _image_u8(sample)
        offset = _find_offset(image, crop)
        flipped = offset is None
        if flipped:
            crop = crop[:, ::-1]
            offset = _find_offset(image, crop)
        flips += flipped
        assert offset is not None, "the crop is not a (mirrored) window of the image"
        top, left = offset
        expected = trimap[top : top + CROP, left : left + CROP]
        expected = expected[:, ::-1] if flipped else expected
        np.testing.assert_array_equal(sample["trimap"][0].numpy(), trimap_to_target(expected))
    assert 0 < flips < 6


@pytest.mark.parametrize("seed", range(4))
def test_trimap_derived_from_the_image_stays_derived_after_scale_crop_flip(tmp_path, seed):
    image, trimap = _block_sample(72, 90, block=12, seed=seed)
    record = _write(tmp_path, image, trimap=trimap)
    np.random.seed(seed)
    mapper = MattingDatasetMapper(
        True, augmentations=augmented(48, scale_range=(0.7, 1.6), hflip_prob=0.5)
    )
    sample = mapper(record)
    out = _image_u8(sample)
    # Where the image is locally constant the linear and nearest resizes see the same block.
    window = np.lib.stride_tricks.sliding_window_view(out, (3, 3), axis=(0, 1))
    flat = window.reshape(window.shape[:3] + (9,))
    interior = (flat == flat[..., :1]).all(axis=(2, 3))
    interior &= sample["valid"][0, 1:-1, 1:-1].numpy()
    assert interior.mean() > 0.4
    derived = trimap_to_target(out[1:-1, 1:-1, 0])[interior]
    np.testing.assert_array_equal(sample["trimap"][0, 1:-1, 1:-1].numpy()[interior], derived)


def test_image_smaller_than_the_crop_is_padded_with_unknown_and_invalid_pixels(tmp_path):
    image, trimap = _block_sample(20, 26)
    sample = MattingDatasetMapper(True, augmentations=augmented())(
        _write(tmp_path, image, trimap=trimap)
    )
    valid = sample["valid"][0]
    assert valid[:20, :26].all() and not valid[20:].any() and not valid[:, 26:].any()
    assert (sample["trimap"][0][~valid] == 0.5).all()
    assert (sample["image"][:, ~valid] == 0).all()
    np.testing.assert_array_equal(_image_u8(sample)[:20, :26], image)


def test_biased_crop_always_contains_unknown_pixels_and_uniform_crop_often_not(tmp_path):
    image = np.full((160, 160, 3), 90, np.uint8)
    trimap = np.zeros((160, 160), np.uint8)
    trimap[140:144, 4:8] = 128  # a small unknown patch in a corner
    record = _write(tmp_path, image, trimap=trimap)
    np.random.seed(0)
    biased = MattingDatasetMapper(True, augmentations=augmented(unknown_bias=1.0))
    uniform = MattingDatasetMapper(True, augmentations=augmented(unknown_bias=0.0))
    assert all((biased(record)["trimap"] == 0.5).any() for _ in range(20))
    assert sum((uniform(record)["trimap"] == 0.5).any() for _ in range(20)) < 10


def test_crop_falls_back_to_uniform_without_unknown_pixels(tmp_path):
    image, _ = _block_sample(64, 64)
    trimap = np.zeros((64, 64), np.uint8)
    trimap[:, 32:] = 255
    np.random.seed(0)
    samples = [
        MattingDatasetMapper(True, augmentations=augmented())(
            _write(tmp_path, image, trimap=trimap)
        )
        for _ in range(10)
    ]
    assert all(s["trimap"].shape == (1, CROP, CROP) for s in samples)
    assert len({s["trimap"].sum().item() for s in samples}) > 1  # positions vary


def test_test_mode_keeps_the_dataset_dict_and_reads_no_label(tmp_path, monkeypatch):
    image, trimap = _block_sample(30, 40)
    record = _write(tmp_path, image, trimap=trimap, alpha=trimap)
    record["extra"] = 7

    def forbidden(path):
        raise AssertionError(f"label read in test mode: {path}")

    monkeypatch.setattr(data_io, "read_alpha", forbidden)
    monkeypatch.setattr(data_io, "read_trimap", forbidden)
    sample = MattingDatasetMapper(False)(record)
    assert {key: sample[key] for key in record} == record
    assert sample["image"].shape == (3, 30, 40) and (sample["height"], sample["width"]) == (30, 40)
    assert "trimap" not in sample and "alpha" not in sample and "valid" not in sample


def test_trimap_input_models_get_the_trimap_in_test_mode(tmp_path):
    image, trimap = _block_sample(30, 40)
    sample = MattingDatasetMapper(False, trimap_input=True)(_write(tmp_path, image, trimap=trimap))
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), trimap_to_target(trimap))


def test_alpha_label_is_resized_linearly_and_no_trimap_is_read(tmp_path, monkeypatch):
    image, _ = _block_sample(40, 40)
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1))
    record = _write(tmp_path, image, alpha=alpha)
    monkeypatch.setattr(data_io, "read_trimap", lambda path: pytest.fail("trimap read"))
    np.random.seed(0)
    mapper = MattingDatasetMapper(
        True, augmentations=augmented(scale_range=(1.3, 1.3)), label="alpha"
    )
    sample = mapper(record)
    assert "trimap" not in sample and sample["alpha"].shape == (1, CROP, CROP)
    values = sample["alpha"][0].numpy()
    assert 0 <= values.min() and values.max() <= 1
    # linear resize of a ramp makes values that are not in the 8-bit source set
    assert not np.isin(np.round(values * 255, 3), np.arange(256)).all()


def test_mask_label_is_a_trimap_known_everywhere_but_the_padding(tmp_path):
    image, _ = _block_sample(24, 40)
    mask = np.zeros((24, 40), np.uint8)
    mask[:, 20:] = 255
    sample = MattingDatasetMapper(True, augmentations=augmented(), label="mask")(
        _write(tmp_path, image, mask=mask)
    )
    valid = sample["valid"][0]
    assert set(sample["trimap"][0][valid].unique().tolist()) <= {0.0, 1.0}
    assert (sample["trimap"][0][~valid] == 0.5).all() and (~valid).any()


def test_precompute_sees_the_final_image_and_valid_mask_and_its_result_is_merged(tmp_path):
    image, trimap = _block_sample(40, 40)
    seen = []

    def precompute(tensor, valid):
        seen.append((tensor, valid))
        return {"neighbour_index": torch.zeros(2, dtype=torch.long)}

    sample = MattingDatasetMapper(True, augmentations=augmented(), precompute=precompute)(
        _write(tmp_path, image, trimap=trimap)
    )
    assert seen[0][0] is sample["image"] and seen[0][1] is sample["valid"]
    assert sample["neighbour_index"].shape == (2,)


def test_mapper_asks_for_a_label_kind_the_split_does_not_have(tmp_path):
    image, trimap = _block_sample(40, 40)
    with pytest.raises(MattingDataError, match="alpha_file_name"):
        MattingDatasetMapper(True, label="alpha")(_write(tmp_path, image, trimap=trimap))
    with pytest.raises(ValueError, match="label must be one of"):
        MattingDatasetMapper(True, label="depth")


RELEASE_AUGMENTATIONS = [
    LazyCall(UpscaleSmall)(min_size=CROP, ratio=1.1),
    LazyCall(UnknownCenteredCrop)(crop_size=CROP, grid=4, min_candidates=10),
]


def test_release_augmentations_from_a_lazy_config_give_exact_crop_sized_windows(tmp_path):
    image, trimap = _block_sample(50, 70)
    record = _write(tmp_path, image, trimap=trimap)
    np.random.seed(0)
    config = OmegaConf.create(
        {
            "mapper": LazyCall(MattingDatasetMapper)(
                is_train=True, augmentations=RELEASE_AUGMENTATIONS
            )
        }
    )
    mapper = instantiate(config.mapper)
    for _ in range(5):
        sample = mapper(record)
        assert sample["image"].shape == (3, CROP, CROP) and sample["valid"].all()
        assert sample["trimap"].shape == (1, CROP, CROP)
        # no scale, no flip: an exact window of the image (50 x 70 > the crop: no upscale)
        assert _find_offset(image, _image_u8(sample)) is not None


def test_small_images_are_upscaled_not_padded_by_the_release_augmentations(tmp_path):
    image, trimap = _block_sample(20, 26)
    mapper = MattingDatasetMapper(True, augmentations=instantiate(RELEASE_AUGMENTATIONS))
    sample = mapper(_write(tmp_path, image, trimap=trimap))
    assert sample["image"].shape == (3, CROP, CROP) and sample["valid"].all()


def test_detectron2_augmentations_compose_with_the_plugins(tmp_path):
    image, trimap = _block_sample(40, 44, block=5, seed=1)
    record = _write(tmp_path, image, trimap=trimap)
    always_flip = T.RandomFlip(prob=1.0, horizontal=True)  # draws from np.random
    sample = MattingDatasetMapper(True, augmentations=[always_flip, *augmented()])(record)
    top, left = _find_offset(image[:, ::-1], _image_u8(sample))
    expected = trimap[:, ::-1][top : top + CROP, left : left + CROP]
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), trimap_to_target(expected))


def test_an_augmentation_that_is_not_a_detectron2_augmentation_is_named():
    with pytest.raises(TypeError, match=r"augmentations\[1\] is a dict"):
        MattingDatasetMapper(True, augmentations=[PadToSize(8), {"crop_size": 8}])


def test_whole_image_training_without_crop(tmp_path):
    image, trimap = _block_sample(30, 50)
    sample = MattingDatasetMapper(True)(_write(tmp_path, image, trimap=trimap))
    assert sample["image"].shape == (3, 30, 50) and sample["valid"].all()
    assert cv2.absdiff(_image_u8(sample), image).max() == 0
