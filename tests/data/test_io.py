"""Tests of the matting file readers and writer (alphafree_matting/data/io.py)."""

import cv2
import numpy as np
import pytest
from PIL import Image

from alphafree_matting.data.io import (
    MattingDataError,
    read_alpha,
    read_image,
    read_image_size,
    read_trimap,
    write_png,
)


def test_images_are_read_as_rgb_and_written_from_rgb(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 250  # red
    write_png(str(tmp_path / "sub" / "red.png"), rgb)
    assert (cv2.imread(str(tmp_path / "sub" / "red.png"))[..., 2] == 250).all()  # BGR on disk
    np.testing.assert_array_equal(read_image(str(tmp_path / "sub" / "red.png")), rgb)


def test_8_bit_alpha_and_trimap_keep_their_values(tmp_path):
    values = np.array([[0, 128, 255]], np.uint8)
    write_png(str(tmp_path / "t.png"), values)
    np.testing.assert_array_equal(read_trimap(str(tmp_path / "t.png")), values)
    np.testing.assert_allclose(read_alpha(str(tmp_path / "t.png")), values / 255.0)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(MattingDataError, match=f"alpha file not found: {tmp_path / 'x.png'}"):
        read_alpha(str(tmp_path / "x.png"))


def test_header_size_matches_the_decoded_size_including_exif_rotation(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "plain.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displaying
    Image.new("RGB", (40, 30)).save(tmp_path / "rotated.jpg", exif=exif)
    for name in ("plain.jpg", "rotated.jpg"):
        assert read_image_size(str(tmp_path / name)) == read_image(str(tmp_path / name)).shape[:2]
    assert read_image_size(str(tmp_path / "rotated.jpg")) == (40, 30)


def test_header_of_a_non_image_is_a_data_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(MattingDataError, match="cannot read the header of .*bad.png"):
        read_image_size(str(tmp_path / "bad.png"))
