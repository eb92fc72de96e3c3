"""Tests of the matting file readers and writer (alphafree_matting/data/io.py)."""

import cv2
import numpy as np
import pytest
from PIL import Image

from alphafree_matting.data.io import (
    MattingDataError,
    check_complete,
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


def _photo(height: int = 60, width: int = 80) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return np.dstack([rows * 4 % 256, cols * 3 % 256, (rows + cols) % 256]).astype(np.uint8)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_truncated_jpeg_or_png_is_a_data_error_naming_the_file(tmp_path, extension, fraction):
    full = tmp_path / f"full{extension}"
    cv2.imwrite(str(full), _photo())
    data = full.read_bytes()
    partial = tmp_path / f"half_downloaded{extension}"
    partial.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(MattingDataError, match=r"half_downloaded\..* is truncated.*Re-download"):
        read_image(str(partial))
    with pytest.raises(MattingDataError, match=r"trimap file .*half_downloaded.* truncated"):
        check_complete(str(partial), "trimap")


def test_complete_jpegs_pass_the_truncation_check(tmp_path):
    photo = _photo()
    Image.fromarray(photo).save(tmp_path / "progressive.jpg", progressive=True, quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo).save(tmp_path / "exif.jpg", exif=exif)
    cv2.imwrite(str(tmp_path / "baseline.jpg"), photo)
    # Bytes after the end-of-image marker (some cameras append data) are not a truncation.
    data = (tmp_path / "baseline.jpg").read_bytes()
    (tmp_path / "trailer.jpg").write_bytes(data + b"\x00\xff\xda trailing camera data")
    for name in ("progressive.jpg", "exif.jpg", "baseline.jpg", "trailer.jpg"):
        check_complete(str(tmp_path / name))
        assert read_image(str(tmp_path / name)).shape[2] == 3


def test_unicode_file_names_are_read(tmp_path):
    path = tmp_path / "Katze_äöü_猫.png"
    write_png(str(path), _photo())
    np.testing.assert_array_equal(read_image(str(path)), _photo())


def test_16_bit_trimap_holding_8_bit_values_keeps_them(tmp_path):
    cv2.imwrite(str(tmp_path / "t16.png"), np.array([[0, 128, 255]], np.uint16))
    np.testing.assert_array_equal(read_trimap(str(tmp_path / "t16.png")), [[0, 128, 255]])


def write_gif(path, values, size=(6, 8)):
    frames = [Image.fromarray(np.full((*size, 3), value, np.uint8)) for value in values]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)


def test_an_animated_gif_is_read_as_its_first_frame_with_a_warning(tmp_path, caplog):
    animated, still = tmp_path / "clip.gif", tmp_path / "still.gif"
    write_gif(animated, (10, 200, 90))
    write_gif(still, (40,))
    with caplog.at_level("WARNING", logger="alphafree_matting.data.io"):
        first = read_image(str(animated))
        read_image(str(animated))  # warned once per file
        read_image(str(still))
    assert first.shape == (6, 8, 3) and (first == 10).all()
    assert caplog.messages == [
        f"{animated} is an animated GIF of 3 frames: its first frame is used. To use another, "
        "save that frame as a PNG."
    ]
