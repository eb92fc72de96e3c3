"""One test per row of the bad-input table in datasets/README.md (input -> behaviour)."""

import logging

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader

from alphafree_matting.conventions import trimap_to_target
from alphafree_matting.data import (
    MattingDataError,
    MattingDatasetMapper,
    UnknownCenteredCrop,
    UpscaleSmall,
    load_matting_folder,
    register_matting_folder,
)
from alphafree_matting.data.io import read_alpha, read_image, read_mask, read_trimap

LABELS = {"trimap": "trimap"}

CROP_16 = [UpscaleSmall(16), UnknownCenteredCrop(16)]


def _split(tmp_path, factory, stems=("a", "b", "c"), size=(24, 32)):
    for index, stem in enumerate(stems):
        factory.write_sample(tmp_path, stem, size, {"image": "image", "trimap": "trimap"}, index)
    return tmp_path


def _record(tmp_path, stem="a"):
    return {
        "file_name": str(tmp_path / "image" / f"{stem}.jpg"),
        "image_id": stem,
        "trimap_file_name": str(tmp_path / "trimap" / f"{stem}.png"),
    }


# --- listing time ------------------------------------------------------------------------------
def test_missing_folder_names_the_expected_path(tmp_path):
    with pytest.raises(MattingDataError, match=f"image folder not found: {tmp_path / 'image'}"):
        load_matting_folder(str(tmp_path), label_dirs=LABELS)


def test_empty_folder_names_the_folder(tmp_path):
    (tmp_path / "image").mkdir()
    with pytest.raises(MattingDataError, match=r"no image files .* in .*image \(it is empty\)"):
        load_matting_folder(str(tmp_path))


def test_folder_without_image_files_lists_what_it_holds(tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "readme.txt").write_text("x")
    with pytest.raises(MattingDataError, match=r"it holds only: readme.txt"):
        load_matting_folder(str(tmp_path))


def test_images_without_labels_are_all_named_in_one_error(tmp_path, factory):
    _split(tmp_path, factory)
    (tmp_path / "trimap" / "a.png").unlink()
    (tmp_path / "trimap" / "c.png").unlink()
    with pytest.raises(MattingDataError) as error:
        load_matting_folder(str(tmp_path), label_dirs=LABELS)
    assert "2 image(s)" in str(error.value) and "a, c" in str(error.value)
    assert "missing_labels='skip'" in str(error.value)


def test_missing_labels_skip_keeps_the_complete_samples(tmp_path, factory, caplog):
    _split(tmp_path, factory)
    (tmp_path / "trimap" / "b.png").unlink()
    with caplog.at_level(logging.WARNING):
        dicts = load_matting_folder(str(tmp_path), label_dirs=LABELS, missing_labels="skip")
    assert [d["image_id"] for d in dicts] == ["a", "c"] and "Skipping" in caplog.text


def test_labels_without_images_are_named(tmp_path, factory):
    _split(tmp_path, factory)
    (tmp_path / "image" / "b.jpg").unlink()
    with pytest.raises(MattingDataError, match=r"1 label\(s\) in .*trimap without an image .*: b"):
        load_matting_folder(str(tmp_path), label_dirs=LABELS)


def test_non_matching_file_stems_show_examples_of_both_sides(tmp_path, factory):
    _split(tmp_path, factory)
    for path in (tmp_path / "trimap").iterdir():
        path.rename(path.with_name("trimap_" + path.name))
    expected = r"no file stem in common .*e\.g\. a, b, c.*trimap_a"
    with pytest.raises(MattingDataError, match=expected):
        load_matting_folder(str(tmp_path), label_dirs=LABELS)


def test_two_files_with_one_stem_are_rejected(tmp_path, factory):
    _split(tmp_path, factory)
    cv2.imwrite(str(tmp_path / "image" / "a.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(MattingDataError, match=r"several files with one stem: a.jpg / a.png"):
        load_matting_folder(str(tmp_path), label_dirs=LABELS)


def test_verify_lists_every_unreadable_file_and_size_mismatch_at_listing_time(tmp_path, factory):
    _split(tmp_path, factory)
    (tmp_path / "image" / "a.jpg").write_bytes(b"\xff\xd8 truncated")
    cv2.imwrite(str(tmp_path / "trimap" / "c.png"), np.zeros((10, 10), np.uint8))
    assert len(load_matting_folder(str(tmp_path), label_dirs=LABELS)) == 3  # headers unchecked
    with pytest.raises(MattingDataError) as error:
        load_matting_folder(str(tmp_path), label_dirs=LABELS, verify=True)
    message = str(error.value)
    assert "2 problem(s)" in message and "a.jpg" in message and "c.png is (10, 10)" in message


def test_verify_catches_a_truncated_jpeg_at_listing_time(tmp_path, factory):
    _split(tmp_path, factory)
    image = tmp_path / "image" / "b.jpg"
    image.write_bytes(image.read_bytes()[:-200])  # a half-finished download
    name = f"test_truncated_{tmp_path.name}"
    register_matting_folder(name, str(tmp_path), labels=("trimap",), verify=True)
    try:
        with pytest.raises(MattingDataError, match=r"(?s)1 problem.*b\.jpg: it is truncated"):
            DatasetCatalog.get(name)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    with pytest.raises(MattingDataError, match=r"b\.jpg: it is truncated"):  # and in training
        MattingDatasetMapper(True)(_record(tmp_path, "b"))


# --- mapping time ------------------------------------------------------------------------------
@pytest.mark.parametrize("is_train", [True, False])
def test_corrupt_image_raises_a_data_error_naming_it(tmp_path, factory, is_train):
    _split(tmp_path, factory)
    (tmp_path / "image" / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(MattingDataError, match=r"cannot decode image file .*a\.jpg.*Re-export"):
        MattingDatasetMapper(is_train, augmentations=CROP_16)(_record(tmp_path))


def test_corrupt_image_stops_the_train_loader_with_the_data_error(tmp_path, factory):
    _split(tmp_path, factory, stems=("a",))
    (tmp_path / "image" / "a.jpg").write_bytes(b"")
    loader = build_detection_train_loader(
        dataset=[_record(tmp_path)],
        mapper=MattingDatasetMapper(True, augmentations=CROP_16),
        total_batch_size=1,
        num_workers=0,
    )
    with pytest.raises(MattingDataError, match="a.jpg"):
        next(iter(loader))


def test_corrupt_label_raises_a_data_error_naming_it(tmp_path, factory):
    _split(tmp_path, factory)
    (tmp_path / "trimap" / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(MattingDataError, match=r"cannot decode trimap file .*a\.png"):
        MattingDatasetMapper(True, augmentations=CROP_16)(_record(tmp_path))


def test_label_size_mismatch_names_both_files_before_any_tensor_is_built(tmp_path, factory):
    _split(tmp_path, factory)
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), np.zeros((32, 24), np.uint8))
    expected = r"image .*a\.jpg is 24x32 .* label .*a\.png is 32x24"
    with pytest.raises(MattingDataError, match=expected):
        MattingDatasetMapper(True, augmentations=CROP_16)(_record(tmp_path))


def test_eval_alpha_size_mismatch_is_caught_by_the_test_mapper(tmp_path, factory):
    _split(tmp_path, factory)
    record = _record(tmp_path)
    record["alpha_file_name"] = str(tmp_path / "alpha.png")
    cv2.imwrite(record["alpha_file_name"], np.zeros((5, 7), np.uint8))
    with pytest.raises(MattingDataError, match="size mismatch"):
        MattingDatasetMapper(False)(record)


def test_trimap_values_outside_the_three_levels_are_mapped_and_warned_once(
    tmp_path, factory, caplog
):
    _split(tmp_path, factory)
    # Exact levels but for one row in 24 (4 % of the pixels, within the noise tolerance) of
    # values at the rule's boundaries.
    levels = np.tile(np.array([0, 128, 255, 255, 128, 0], np.uint8), (24, 6))[:, :32]
    noisy = levels.copy()
    noisy[0] = np.tile(np.array([3, 90, 130, 169, 170, 250], np.uint8), 6)[:32]
    for stem in ("a", "b"):
        cv2.imwrite(str(tmp_path / "trimap" / f"{stem}.png"), noisy)
    mapper = MattingDatasetMapper(True)
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.data.mapper"):
        sample = mapper(_record(tmp_path, "a"))
        mapper(_record(tmp_path, "b"))
    assert caplog.text.count("values outside {0, 128, 255}") == 1 and "a.png" in caplog.text
    expected = np.tile(np.array([0, 0.5, 1, 1, 0.5, 0], np.float32), (24, 6))[:, :32]
    expected[0] = np.tile(np.array([0, 0.5, 0.5, 0.5, 1, 1], np.float32), 6)[:32]
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), expected)


@pytest.mark.parametrize("quality", [30, 75, 95])
def test_jpeg_trimap_noise_is_mapped_by_the_rule(tmp_path, factory, quality):
    _split(tmp_path, factory, stems=("a",), size=(48, 64))
    trimap = read_trimap(str(tmp_path / "trimap" / "a.png"))
    (tmp_path / "trimap" / "a.png").unlink()
    jpeg = tmp_path / "trimap" / "a.jpg"
    cv2.imwrite(str(jpeg), trimap, [cv2.IMWRITE_JPEG_QUALITY, quality])
    record = dict(_record(tmp_path), trimap_file_name=str(jpeg))
    sample = MattingDatasetMapper(True)(record)
    expected = trimap_to_target(cv2.imread(str(jpeg), cv2.IMREAD_UNCHANGED))
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), expected)


def test_trimap_with_127_for_unknown_reads_as_unknown(tmp_path, factory):
    _split(tmp_path, factory, stems=("a",))
    trimap = read_trimap(str(tmp_path / "trimap" / "a.png"))
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), np.where(trimap == 128, 127, trimap))
    sample = MattingDatasetMapper(True)(_record(tmp_path))
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), trimap_to_target(trimap))


def test_trimap_values_far_from_the_three_levels_are_an_error_naming_the_file(tmp_path, factory):
    _split(tmp_path, factory, stems=("a",))
    alpha = np.round(factory.alpha(24, 32) * 255).astype(np.uint8)  # an alpha given as trimap
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), alpha)
    with pytest.raises(MattingDataError, match=r"trimap .*a\.png: .* far from 0 / 128 / 255"):
        MattingDatasetMapper(True)(_record(tmp_path))


@pytest.mark.parametrize("stored", [(0, 1, 2), (0, 1)])
def test_trimap_of_class_indices_is_an_error_that_says_so(tmp_path, factory, stored):
    _split(tmp_path, factory, stems=("a",))
    classes = np.resize(np.array(stored, np.uint8), (24, 32))
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), classes)
    expected = r"trimap .*a\.png holds only the values .* looks like class indices.* trimap_values="
    with pytest.raises(MattingDataError, match=expected):
        MattingDatasetMapper(True)(_record(tmp_path))


def test_declared_trimap_values_map_class_indices_and_reject_other_values(tmp_path, factory):
    _split(tmp_path, factory, stems=("a",))
    trimap = read_trimap(str(tmp_path / "trimap" / "a.png"))
    classes = np.select([trimap == 0, trimap == 128], [0, 1], 2).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), classes)
    sample = MattingDatasetMapper(True, trimap_values=(0, 1, 2))(_record(tmp_path))
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), trimap_to_target(trimap))
    classes[0, 0] = 7
    cv2.imwrite(str(tmp_path / "trimap" / "a.png"), classes)
    with pytest.raises(MattingDataError, match=r"a\.png has values \[7\] besides .*\(0, 1, 2\)"):
        MattingDatasetMapper(True, trimap_values=(0, 1, 2))(_record(tmp_path))
    with pytest.raises(ValueError, match="three different stored values"):
        MattingDatasetMapper(True, trimap_values=(0, 1))


@pytest.mark.parametrize(
    "value, problem",
    [(128, "have no known pixel"), (255, "are foreground everywhere"), (0, "are background ever")],
)
def test_training_trimaps_of_one_region_are_counted_and_named(
    tmp_path, factory, caplog, value, problem
):
    stems = ("a", "b", "c", "d", "e")
    _split(tmp_path, factory, stems=stems)
    for stem in stems[1:]:
        cv2.imwrite(str(tmp_path / "trimap" / f"{stem}.png"), np.full((24, 32), value, np.uint8))
    mapper = MattingDatasetMapper(True)
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.data.mapper"):
        for _ in range(3):  # three epochs: each file is counted once
            for stem in stems:
                mapper(_record(tmp_path, stem))
    warnings = [r.getMessage() for r in caplog.records if problem in r.getMessage()]
    # Warned at counts 1, 2 and 4, each time with every file so far.
    assert [w.split(" ")[0] for w in warnings] == ["1", "2", "4"]
    assert all(f"{stem}.png" in warnings[-1] for stem in stems[1:])
    assert "a.png" not in caplog.text
    test_mapper = MattingDatasetMapper(False, trimap_input=True)  # an input, not a label
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.data.mapper"):
        caplog.clear()
        test_mapper(_record(tmp_path, "b"))
    assert problem not in caplog.text


def test_dataset_dict_without_the_needed_label_names_the_key_and_what_it_has(tmp_path, factory):
    _split(tmp_path, factory)
    with pytest.raises(MattingDataError, match=r"no 'mask_file_name'.*\['trimap'\]"):
        MattingDatasetMapper(True, label="mask")(_record(tmp_path))


# --- file formats ------------------------------------------------------------------------------
def test_grayscale_image_is_replicated_to_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    image = read_image(str(tmp_path / "g.png"))
    assert image.shape == (3, 4, 3) and (image == gray[..., None]).all()


def test_rgba_image_keeps_its_colours_and_drops_the_alpha_channel(tmp_path):
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 200, 0  # red, fully transparent
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    image = read_image(str(tmp_path / "rgba.png"))
    assert image.shape == (3, 4, 3) and (image[..., 0] == 200).all() and (image[..., 1:] == 0).all()


def test_16_bit_image_is_reduced_to_8_bits(tmp_path):
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((3, 4, 3), 65535, np.uint16))
    image = read_image(str(tmp_path / "deep.png"))
    assert image.dtype == np.uint8 and (image == 255).all()


def test_16_bit_alpha_and_trimap_are_scaled(tmp_path):
    values = np.array([[0, 32768, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "a16.png"), values)
    np.testing.assert_allclose(read_alpha(str(tmp_path / "a16.png")), values / 65535.0, atol=1e-6)
    np.testing.assert_array_equal(read_trimap(str(tmp_path / "a16.png")), [[0, 128, 255]])


def test_gray_alpha_saved_as_colour_uses_one_channel(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([np.full((3, 4), 51, np.uint8)] * 3))
    np.testing.assert_allclose(read_alpha(str(tmp_path / "a.png")), 0.2, atol=1e-6)


def test_rgba_cut_out_alpha_uses_its_transparency(tmp_path):
    cut_out = np.zeros((3, 4, 4), np.uint8)
    cut_out[..., :3] = (10, 200, 90)
    cut_out[..., 3] = [[0, 255, 128, 255]] * 3
    cv2.imwrite(str(tmp_path / "cut.png"), cut_out)
    np.testing.assert_allclose(read_alpha(str(tmp_path / "cut.png")), cut_out[..., 3] / 255.0)


def test_colour_image_given_as_an_alpha_is_rejected(tmp_path):
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 0] = 255
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    with pytest.raises(MattingDataError, match=r"colour\.png is a colour image .* single-channel"):
        read_alpha(str(tmp_path / "colour.png"))


def test_binary_masks_stored_as_0_1_or_0_255_read_the_same(tmp_path):
    mask = np.array([[0, 1, 1, 0]], np.uint8)
    cv2.imwrite(str(tmp_path / "m01.png"), mask)
    cv2.imwrite(str(tmp_path / "m255.png"), mask * 255)
    np.testing.assert_array_equal(read_mask(str(tmp_path / "m01.png")), mask.astype(bool))
    np.testing.assert_array_equal(read_mask(str(tmp_path / "m255.png")), mask.astype(bool))
