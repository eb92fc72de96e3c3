"""Tests of the synthetic composite generator (alphafree_matting/data/synthetic.py)."""

import cv2
import numpy as np
import pytest

from alphafree_matting.conventions import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN
from alphafree_matting.data.synthetic import (
    FOREGROUND_HUES,
    SPLIT_FIRST_INDEX,
    make_sample,
    make_texture,
    split_sample_index,
    trimap_kernel_range,
)

SIZE = 64  # small and fast; the shapes of the generator scale with the size

# Mean absolute 4-neighbour Laplacian (images in [0, 1]) a layer must exceed to count as
# high-frequency textured. Smooth layers like those of the probe in issue 8 (colour gradients,
# low-frequency blobs) score <= 0.005 (0.003 for an 8-bit-rounded gradient), the generator's
# fine grain alone 0.036; its patterns at the lowest contrast score >= 0.07 (stripes of period
# 7 px) and its layers >= 0.084 over the first 300 samples. 0.05 is 10x the smooth level and
# above the grain, so only a real pattern passes.
HIGH_FREQUENCY_LAPLACIAN = 0.05


def mean_abs_laplacian(layer: np.ndarray) -> float:
    """Mean |4-neighbour Laplacian| of a ``(H, W[, 3])`` float layer in [0, 1]."""
    return float(np.abs(cv2.Laplacian(layer.astype(np.float32), cv2.CV_32F, ksize=1)).mean())


def fractional(alpha: np.ndarray) -> np.ndarray:
    return (alpha > 0) & (alpha < 1)


@pytest.fixture(scope="module")
def samples():
    return [make_sample(index, size=128, seed=0) for index in range(8)]


def assert_samples_equal(first, second):
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


# --- generator -------------------------------------------------------------------------------
def test_same_seed_and_index_give_identical_arrays():
    assert_samples_equal(make_sample(3, SIZE, seed=7), make_sample(3, SIZE, seed=7))


def test_other_index_or_seed_gives_another_sample():
    reference = make_sample(3, SIZE, seed=7)
    for other in (make_sample(4, SIZE, seed=7), make_sample(3, SIZE, seed=8)):
        assert not np.array_equal(reference["alpha"], other["alpha"])
        assert not np.array_equal(reference["image"], other["image"])


def test_a_subset_regenerates_identically_in_any_order():
    full_run = [make_sample(index, SIZE, seed=1) for index in range(6)]
    for index in (5, 2, 0):
        assert_samples_equal(make_sample(index, SIZE, seed=1), full_run[index])


def test_sample_has_documented_shapes_dtypes_and_ranges():
    sample = make_sample(0, SIZE)
    assert sample["image"].shape == (SIZE, SIZE, 3) and sample["image"].dtype == np.uint8
    assert sample["alpha"].shape == (SIZE, SIZE) and sample["alpha"].dtype == np.float32
    assert sample["trimap"].shape == (SIZE, SIZE) and sample["trimap"].dtype == np.uint8
    assert 0.0 <= sample["alpha"].min() and sample["alpha"].max() <= 1.0
    assert set(np.unique(sample["trimap"])) <= {
        TRIMAP_BACKGROUND,
        TRIMAP_UNKNOWN,
        TRIMAP_FOREGROUND,
    }
    for layer in ("foreground", "background"):
        assert sample[layer].shape == (SIZE, SIZE, 3) and sample[layer].dtype == np.float32
        assert 0.0 <= sample[layer].min() and sample[layer].max() <= 1.0


def test_image_is_alpha_blend_of_foreground_and_background_to_rounding(samples):
    for sample in samples:
        alpha = sample["alpha"][..., None]
        expected = alpha * sample["foreground"] + (1 - alpha) * sample["background"]
        error = np.abs(sample["image"] / 255.0 - expected)
        assert error.max() <= 0.5 / 255 + 1e-6


def test_alpha_is_exactly_representable_in_an_8_bit_png(samples):
    for sample in samples:
        levels = sample["alpha"] * 255.0
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)


def test_alpha_has_a_real_fraction_of_fractional_values(samples):
    fractions = [fractional(sample["alpha"]).mean() for sample in samples]
    assert min(fractions) > 0.03 and np.mean(fractions) > 0.08
    for sample in samples:  # a solid core and a clear background are there too
        assert (sample["alpha"] == 1).mean() > 0.03 and (sample["alpha"] == 0).mean() > 0.3


def test_alpha_has_faint_strands_and_semi_transparent_regions(samples):
    alpha = np.stack([sample["alpha"] for sample in samples])
    assert ((alpha > 0) & (alpha < 0.3)).mean() > 0.02  # strand tips, soft edges
    assert ((alpha >= 0.3) & (alpha <= 0.7)).mean() > 0.01  # veils, strand roots


def test_trimap_known_regions_agree_with_alpha(samples):
    for sample in samples:
        trimap, alpha = sample["trimap"], sample["alpha"]
        assert np.all(alpha[trimap == TRIMAP_FOREGROUND] == 1.0)
        assert np.all(alpha[trimap == TRIMAP_BACKGROUND] == 0.0)
        assert (trimap == TRIMAP_FOREGROUND).any() and (trimap == TRIMAP_BACKGROUND).any()


def test_trimap_unknown_region_covers_every_transition_and_more(samples):
    for sample in samples:
        unknown = sample["trimap"] == TRIMAP_UNKNOWN
        assert np.all(unknown[fractional(sample["alpha"])])
        assert unknown.sum() >= fractional(sample["alpha"]).sum()


def test_trimap_kernel_range_scales_the_papers_range_with_image_size():
    assert trimap_kernel_range(640) == (1, 29)
    assert trimap_kernel_range(128) == (1, 6)
    assert trimap_kernel_range(16) == (1, 1)


def test_trimap_erosion_kernel_widens_the_unknown_band():
    thin = make_sample(2, SIZE, kernel_range=(1, 1))
    wide = make_sample(2, SIZE, kernel_range=(9, 9))
    np.testing.assert_array_equal(thin["alpha"], wide["alpha"])
    assert (wide["trimap"] == TRIMAP_UNKNOWN).sum() > (thin["trimap"] == TRIMAP_UNKNOWN).sum()


def test_both_layers_have_high_frequency_texture(samples):
    for sample in samples:
        assert mean_abs_laplacian(sample["foreground"]) > HIGH_FREQUENCY_LAPLACIAN
        assert mean_abs_laplacian(sample["background"]) > HIGH_FREQUENCY_LAPLACIAN


def test_texture_measure_rejects_smooth_layers():
    ramp = np.linspace(0.1, 0.9, 128, dtype=np.float32)
    gradient = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 0.5 * ramp[None, :]), -1)
    blobs = cv2.GaussianBlur(np.random.default_rng(0).random((128, 128), np.float32), (0, 0), 8)
    smooth_texture = make_texture(np.random.default_rng(0), 128, FOREGROUND_HUES, contrast=(0, 0))
    assert mean_abs_laplacian(np.round(gradient * 255) / 255) < HIGH_FREQUENCY_LAPLACIAN / 10
    assert mean_abs_laplacian(blobs) < HIGH_FREQUENCY_LAPLACIAN / 10
    assert mean_abs_laplacian(smooth_texture) < HIGH_FREQUENCY_LAPLACIAN  # grain only


def test_foreground_is_warm_and_background_is_cool(samples):
    for sample in samples:
        foreground = sample["foreground"].reshape(-1, 3).mean(0)
        background = sample["background"].reshape(-1, 3).mean(0)
        assert foreground[0] >= foreground[1:].max()  # red dominates
        assert background[0] < background[1:].max()  # green or blue dominates


def test_make_sample_rejects_negative_seed_or_index_and_tiny_sizes():
    with pytest.raises(ValueError, match="seed"):
        make_sample(0, SIZE, seed=-1)
    with pytest.raises(ValueError, match="index"):
        make_sample(-1, SIZE)
    with pytest.raises(ValueError, match="size"):
        make_sample(0, 8)


def test_split_indices_never_overlap():
    assert split_sample_index("train", 5) == 5
    assert split_sample_index("val", 0) == SPLIT_FIRST_INDEX["val"]
    with pytest.raises(ValueError, match="position"):
        split_sample_index("train", SPLIT_FIRST_INDEX["val"])
    with pytest.raises(ValueError, match="split"):
        split_sample_index("test", 0)
