"""Compositing: the compositing equation, foreground estimation, RGBA packing, colours,
background fitting."""

import numpy as np
import pytest

from alphafree_matting.compositing import (
    composite,
    estimate_foreground,
    fit_background,
    matte_outputs,
    parse_color,
    to_rgba,
    to_unit_float,
)
from alphafree_matting.conventions import alpha_to_uint8


def soft_disc_alpha(size: int = 64) -> np.ndarray:
    """(size, size) alpha: an opaque disc with a wide soft rim, 0 in the corners."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = np.hypot(rows - size / 2, cols - size / 2) / (size / 2)
    return np.clip((0.9 - radius) / 0.5, 0.0, 1.0).astype(np.float32)


def smooth_colours(size: int, low, high, vertical: bool) -> np.ndarray:
    """(size, size, 3) float32 gradient from colour ``low`` to colour ``high``."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    ramp = ramp[:, None] if vertical else ramp[None, :]
    ramp = np.broadcast_to(ramp, (size, size))[..., None]
    return np.asarray(low, np.float32) * (1 - ramp) + np.asarray(high, np.float32) * ramp


def test_composite_follows_the_compositing_equation():
    rng = np.random.default_rng(0)
    foreground = rng.random((5, 7, 3), dtype=np.float32)
    background = rng.random((5, 7, 3), dtype=np.float32)
    alpha = rng.random((5, 7), dtype=np.float32)
    expected = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    np.testing.assert_allclose(composite(foreground, alpha, background), expected, atol=1e-6)
    colour = np.array([0.0, 1.0, 0.25], np.float32)
    over_colour = composite(foreground, alpha, colour)
    np.testing.assert_allclose(
        over_colour, alpha[..., None] * foreground + (1 - alpha[..., None]) * colour, atol=1e-6
    )


def test_composite_of_opaque_and_transparent_pixels_is_foreground_and_background():
    foreground = np.full((2, 2, 3), 200, np.uint8)
    alpha = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    result = composite(foreground, alpha, parse_color("blue"))
    np.testing.assert_allclose(result[:, 0], 200 / 255, atol=1e-6)
    np.testing.assert_allclose(result[:, 1], [[0, 0, 1], [0, 0, 1]], atol=1e-6)


def test_composite_rejects_a_background_of_another_size():
    with pytest.raises(ValueError, match="fit_background"):
        composite(np.zeros((4, 4, 3)), np.zeros((4, 4)), np.zeros((5, 4, 3)))
    with pytest.raises(ValueError, match="alpha has shape"):
        composite(np.zeros((4, 4, 3)), np.zeros((4, 5)), np.zeros(3))


def test_estimated_foreground_recovers_the_true_colours_better_than_the_image():
    size = 64
    alpha = soft_disc_alpha(size)
    true_foreground = smooth_colours(size, (0.9, 0.5, 0.1), (0.8, 0.2, 0.3), vertical=True)
    background = smooth_colours(size, (0.1, 0.3, 0.9), (0.0, 0.8, 0.4), vertical=False)
    image = composite(true_foreground, alpha, background)

    estimate = estimate_foreground(image, alpha)
    assert estimate.shape == (size, size, 3) and estimate.dtype == np.float32

    soft = (alpha > 0.05) & (alpha < 0.95)  # where image x alpha drags the old background along
    assert soft.sum() > 300
    estimate_error = np.abs(estimate - true_foreground)[soft].mean()
    image_error = np.abs(image - true_foreground)[soft].mean()  # the naive cut-out's colours
    assert estimate_error < 0.2 * image_error, (estimate_error, image_error)

    # Pasted on a new background, the estimated foreground gives the true composite.
    new_background = np.array([0.0, 1.0, 0.0], np.float32)
    truth = composite(true_foreground, alpha, new_background)
    estimate_composite_error = np.abs(composite(estimate, alpha, new_background) - truth)[soft]
    naive_composite_error = np.abs(composite(image, alpha, new_background) - truth)[soft]
    assert estimate_composite_error.mean() < 0.2 * naive_composite_error.mean()


def test_estimate_foreground_takes_uint8_or_float_images_alike():
    alpha = soft_disc_alpha(32)
    image = (np.random.default_rng(1).random((32, 32, 3)) * 255).astype(np.uint8)
    from_uint8 = estimate_foreground(image, alpha)
    from_float = estimate_foreground(image.astype(np.float32) / 255.0, alpha)
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-6)
    assert from_uint8.min() >= 0.0 and from_uint8.max() <= 1.0
    with pytest.raises(ValueError, match="alpha has shape"):
        estimate_foreground(image, alpha[:16])


def test_to_rgba_packs_rounded_foreground_and_the_8_bit_alpha():
    foreground = np.array([[[0.0, 0.5, 1.0], [0.2, 0.4, 0.6]]], np.float32)
    alpha = np.array([[0.25, 1.0]], np.float32)
    rgba = to_rgba(foreground, alpha)
    assert rgba.shape == (1, 2, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[..., :3], [[[0, 128, 255], [51, 102, 153]]])
    np.testing.assert_array_equal(rgba[..., 3], alpha_to_uint8(alpha))
    np.testing.assert_array_equal(rgba[..., 3], [[64, 255]])


@pytest.mark.parametrize(
    "text, rgb",
    [
        ("white", (255, 255, 255)),
        ("#00FF80", (0, 255, 128)),
        ("102030", (16, 32, 48)),
        ("0, 128,255", (0, 128, 255)),
        (" Green ", (0, 255, 0)),
    ],
)
def test_parse_color_reads_names_hex_and_rgb_triplets(text, rgb):
    np.testing.assert_allclose(parse_color(text), np.array(rgb) / 255.0, atol=1e-7)


@pytest.mark.parametrize("text", ["pink-ish", "#12345", "1,2", "0,0,256"])
def test_parse_color_rejects_unknown_text_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="colour"):
        parse_color(text)


def test_fit_background_covers_the_size_and_keeps_the_centre():
    columns = np.tile((np.arange(40) * 6).astype(np.uint8)[None, :, None], (10, 1, 3))  # 10x40
    fitted = fit_background(columns, 20, 20)
    assert fitted.shape == (20, 20, 3) and fitted.dtype == np.uint8
    # Scaled 2x to 20x80 and cropped to columns 30..49 of that = source columns 15..24.
    assert abs(float(fitted.mean()) - 19.75 * 6) < 4
    tall = fit_background(np.zeros((300, 100, 3), np.uint8), 30, 40)  # downscale, crop rows
    assert tall.shape == (30, 40, 3)


def test_to_unit_float_scales_uint8_and_clips_floats():
    np.testing.assert_allclose(to_unit_float(np.array([0, 255], np.uint8)), [0.0, 1.0])
    np.testing.assert_allclose(to_unit_float(np.array([-0.5, 1.5])), [0.0, 1.0])
    with pytest.raises(ValueError, match="uint8 or float"):
        to_unit_float(np.array([1, 2], np.int32))


def test_foreground_of_a_one_pixel_image_is_estimated():
    image = np.array([[[0.2, 0.4, 0.6]]], np.float32)
    foreground = estimate_foreground(image, np.ones((1, 1), np.float32))
    assert foreground.shape == (1, 1, 3)
    np.testing.assert_allclose(foreground, image, atol=1e-3)  # opaque: F is the image


def test_matte_outputs_are_the_8_bit_files_an_editor_would_combine():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    alpha = rng.uniform(0, 1, (20, 24)).astype(np.float32)
    outputs = matte_outputs(image, alpha, background=np.array([0.0, 1.0, 0.0], np.float32))
    np.testing.assert_array_equal(outputs.alpha, alpha_to_uint8(alpha))
    np.testing.assert_array_equal(outputs.cutout[..., 3], outputs.alpha)
    stored = outputs.alpha.astype(np.float32) / 255.0
    expected = composite(outputs.cutout[..., :3], stored, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(outputs.composite, alpha_to_uint8(expected))
    assert matte_outputs(image, alpha).composite is None


def test_matte_outputs_scale_an_image_background_to_cover_the_photo():
    image = np.full((10, 16, 3), 200, np.uint8)
    alpha = np.zeros((10, 16), np.float32)  # all background: the composite is the background
    background = np.zeros((5, 5, 3), np.uint8)
    background[:, :, 2] = 255
    outputs = matte_outputs(image, alpha, background)
    assert outputs.composite.shape == (10, 16, 3)
    assert (outputs.composite == (0, 0, 255)).all()
