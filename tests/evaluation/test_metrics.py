"""Tests of alphafree_matting/evaluation/metrics.py: golden benchmark values, hand-computed cases,
edge cases (perfect prediction, empty unknown region, all-background GT, Conn skip rule)."""

import json

import cv2
import numpy as np
import pytest

from alphafree_matting.evaluation.metrics import (
    BENCHMARK_KEYS,
    UNKNOWN_REGION_KEYS,
    _dim_derivative_kernel,
    connectivity_error,
    connectivity_error_map,
    connectivity_level_map,
    dim_gaussian_gradient_magnitude,
    gaussian_gradient_magnitude,
    gradient_error,
    mad,
    matting_metrics,
    mse,
    mse_trimap,
    paste_known_regions,
    sad,
    sad_trimap,
    unknown_region_metrics,
)

GOLDEN_CASES = ("blob_noisy", "capped_pred", "perfect", "real_gt04_blurred")


def read_golden_case(case_dir):
    """The benchmark's reading: pred = png / 255, gt = png / 255 (float64), trimap raw uint8."""
    pred = cv2.imread(str(case_dir / "pred.png"), cv2.IMREAD_UNCHANGED) / 255.0
    gt = cv2.imread(str(case_dir / "alpha.png"), cv2.IMREAD_UNCHANGED) / 255.0
    trimap = cv2.imread(str(case_dir / "trimap.png"), cv2.IMREAD_UNCHANGED)
    expected = json.loads((case_dir / "expected.json").read_text())
    return pred, gt, trimap, expected


def blob_case(size=48, seed=0):
    """A soft disc GT, a noisy prediction and a trimap of the disc's edge band."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    gt = np.clip((size / 3 - radius) / 4 + 0.5, 0, 1)
    pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1)
    trimap = np.full(gt.shape, 128, np.uint8)
    trimap[gt == 0] = 0
    trimap[gt == 1] = 255
    return pred, gt, trimap


# --- golden values -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_matting_metrics_reproduce_benchmark_golden_values(metrics_golden_dir, case):
    pred, gt, trimap, expected = read_golden_case(metrics_golden_dir / case)
    results = matting_metrics(pred, gt, trimap)
    assert list(results) == list(BENCHMARK_KEYS)
    assert set(expected) == set(BENCHMARK_KEYS)
    for key in BENCHMARK_KEYS:
        assert results[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-12), key


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_unknown_region_sad_and_mse_equal_sad_t_and_mse_t_when_gt_agrees_with_trimap(
    metrics_golden_dir, case
):
    # SAD-T / MSE-T add known pixels only where the GT disagrees with the trimap; these golden
    # GTs agree with their trimaps, so both protocols must give the same SAD and MSE here.
    pred, gt, trimap, _ = read_golden_case(metrics_golden_dir / case)
    assert np.all(gt[trimap == 255] == 1) and np.all(gt[trimap == 0] == 0)
    benchmark = matting_metrics(pred, gt, trimap)
    unknown = unknown_region_metrics(pred, gt, trimap)
    assert unknown["SAD(unknown)"] == pytest.approx(benchmark["SAD-T"], rel=1e-12, abs=1e-15)
    assert unknown["MSEx1e3(unknown)"] == pytest.approx(
        1e3 * benchmark["MSE-T"], rel=1e-12, abs=1e-15
    )
    assert unknown["Conn(unknown)"] <= benchmark["Conn"] + 1e-12


def test_golden_conn_depends_on_float64_inputs(metrics_golden_dir):
    # Documents why the evaluator reads GT alpha back into float64: float32 inputs move the
    # Conn thresholds (code 153 >= 0.6000000000000001 becomes true) and change the number.
    pred, gt, trimap, expected = read_golden_case(metrics_golden_dir / "blob_noisy")
    conn_float32 = connectivity_error(pred.astype(np.float32), gt.astype(np.float32))
    assert connectivity_error(pred, gt) == pytest.approx(expected["Conn"], rel=1e-12)
    assert conn_float32 != pytest.approx(expected["Conn"], rel=1e-5)


# --- SAD / MSE / MAD -----------------------------------------------------------------------------
def test_sad_mse_mad_match_hand_computed_values():
    pred = np.zeros((2, 2))
    gt = np.array([[1.0, 0.5], [0.0, 0.0]])
    assert sad(pred, gt) == pytest.approx(1.5 / 1000)
    assert mse(pred, gt) == pytest.approx((1.0 + 0.25) / 4)
    assert mad(pred, gt) == pytest.approx(1.5 / 4)


def test_sad_and_mse_with_mask_only_count_masked_pixels():
    pred = np.zeros((2, 2))
    gt = np.array([[1.0, 0.5], [0.0, 0.0]])
    mask = np.array([[False, True], [True, False]])
    assert sad(pred, gt, mask) == pytest.approx(0.5 / 1000)
    assert mse(pred, gt, mask) == pytest.approx(0.25 / 2)


def test_mse_over_an_empty_mask_is_zero_not_nan():
    pred, gt = np.zeros((3, 3)), np.ones((3, 3))
    assert mse(pred, gt, np.zeros((3, 3), bool)) == 0.0


def test_metrics_reject_mismatched_shapes_with_both_shapes_in_the_message():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(5, 4\)"):
        sad(np.zeros((4, 5)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="trimap"):
        matting_metrics(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((5, 4), np.uint8))


# --- Grad ----------------------------------------------------------------------------------------
def test_gaussian_gradient_magnitude_of_a_ramp_is_its_slope_inside_the_image():
    slope = 0.01
    ramp = slope * np.tile(np.arange(64, dtype=np.float64), (32, 1))
    magnitude = gaussian_gradient_magnitude(ramp)
    assert magnitude.dtype == np.float32
    np.testing.assert_allclose(magnitude[8:-8, 8:-8], slope, rtol=1e-3)
    np.testing.assert_allclose(gaussian_gradient_magnitude(ramp.T), magnitude.T, rtol=1e-6)


def test_gradient_error_ignores_a_constant_offset_and_sees_a_moved_edge():
    gt = np.zeros((32, 32))
    gt[:, 16:] = 0.8
    assert gradient_error(gt + 0.1, gt) == pytest.approx(0.0, abs=1e-9)
    moved = np.roll(gt, 3, axis=1)
    assert gradient_error(moved, gt) > 0.01


def test_dim_kernel_is_9x9_at_sigma_1_4_with_unit_norm_and_odd_along_columns():
    kernel = _dim_derivative_kernel(1.4)
    assert kernel.shape == (9, 9)
    assert np.sum(kernel**2) == pytest.approx(1.0)
    np.testing.assert_allclose(kernel, -kernel[:, ::-1], atol=1e-15)  # derivative along columns
    np.testing.assert_allclose(kernel, kernel[::-1, :], atol=1e-15)  # smoothing along rows


def test_dim_gradient_magnitude_is_zero_on_constants_and_transposes_with_the_image():
    assert np.all(dim_gaussian_gradient_magnitude(np.full((12, 12), 0.3)) < 1e-12)
    _, gt, _ = blob_case(size=24)
    image = gt[:, :20]
    np.testing.assert_allclose(
        dim_gaussian_gradient_magnitude(image.T),
        dim_gaussian_gradient_magnitude(image).T,
        atol=1e-12,
    )


# --- Conn ----------------------------------------------------------------------------------------
def test_connectivity_level_map_and_error_match_a_hand_computed_row():
    # The intersection (pred >= t) & (gt >= t) is [1 1 0 1 0] at every threshold: its largest
    # component is pixels 0-1, so they are never cut (l = 1) and pixels 2-4 are cut at t=0.1
    # (l = 0). phi_pred = [1 1 0 0 1], phi_gt = [1 1 1 0 1]: one pixel of error.
    gt = np.array([[1.0, 1.0, 0.0, 1.0, 0.0]])
    pred = np.array([[1.0, 1.0, 1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(connectivity_level_map(pred, gt), [[1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(connectivity_error_map(pred, gt), [[0, 0, 1, 0, 0]])
    assert connectivity_error(pred, gt) == pytest.approx(1 / 1000)


def test_connectivity_keeps_the_first_component_in_raster_order_on_ties():
    alpha = np.array([[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(connectivity_level_map(alpha, alpha), [[1, 0, 0]])


def test_connectivity_uses_4_connectivity_not_8():
    alpha = np.array([[1.0, 0.0], [0.0, 1.0]])  # diagonal neighbours are two components
    np.testing.assert_array_equal(connectivity_level_map(alpha, alpha), [[1, 0], [0, 0]])


def test_connectivity_threshold_0_6_is_the_float64_0_6000000000000001():
    # The centre pixel holds code 153 (153 / 255 == 0.6 in float64), which is below
    # np.arange(0, 1.1, 0.1)[6]: it leaves the component at that threshold, l = 0.5 (float32).
    gt = np.ones((3, 3))
    pred = np.ones((3, 3))
    pred[1, 1] = 153 / 255
    level_map = connectivity_level_map(pred, gt)
    assert level_map.dtype == np.float32
    assert level_map[1, 1] == np.float32(0.5)
    # d_pred = 0.1 < 0.15 -> phi_pred = 1; d_gt = 0.5 -> phi_gt = 0.5
    assert connectivity_error(pred, gt) == pytest.approx(0.5 / 1000)


def test_conn_skips_thresholds_the_prediction_never_reaches():
    # pred never reaches 0.6: from there on the intersection is empty and the thresholds are
    # skipped, so no pixel is ever cut (l = 1) and Conn is 0. Without the skip rule every pixel
    # would get l = 0.5 and an error of 0.5.
    pred, gt = np.full((8, 8), 0.5), np.ones((8, 8))
    np.testing.assert_array_equal(connectivity_level_map(pred, gt), 1.0)
    assert connectivity_error(pred, gt) == 0.0


# --- SAD-T / MSE-T -------------------------------------------------------------------------------
def test_paste_known_regions_sets_known_pixels_and_keeps_the_rest():
    pred = np.full((1, 4), 0.3)
    trimap = np.array([[0, 128, 255, 100]], np.uint8)
    np.testing.assert_array_equal(paste_known_regions(pred, trimap), [[0.0, 0.3, 1.0, 0.3]])
    assert pred[0, 0] == 0.3  # the input is not modified


def test_sad_t_and_mse_t_only_see_unknown_errors_when_gt_agrees_with_trimap():
    trimap = np.array([[0, 0, 128, 128], [128, 128, 255, 255]], np.uint8)
    gt = np.array([[0.0, 0.0, 0.2, 0.4], [0.6, 0.8, 1.0, 1.0]])
    pred = np.full(gt.shape, 0.5)  # wrong in the known region, pasted over
    pred[0, 2], pred[0, 3], pred[1, 0], pred[1, 1] = 0.3, 0.4, 0.6, 0.8  # one 0.1 error
    assert sad(pred, gt) > sad_trimap(pred, gt, trimap)
    assert sad_trimap(pred, gt, trimap) == pytest.approx(0.1 / 1000)
    assert mse_trimap(pred, gt, trimap) == pytest.approx(0.01 / 4)


def test_mse_t_of_a_trimap_without_unknown_region_is_finite():
    trimap = np.array([[0, 255], [0, 255]], np.uint8)
    gt = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert mse_trimap(np.full((2, 2), 0.5), gt, trimap) == 0.0
    # A GT that disagrees with the trimap: the denominator is 1, the value the sum of squares.
    gt_disagreeing = np.array([[0.2, 1.0], [0.0, 1.0]])
    assert mse_trimap(gt, gt_disagreeing, trimap) == pytest.approx(0.04)
    assert sad_trimap(gt, gt_disagreeing, trimap) == pytest.approx(0.2 / 1000)
    unknown = unknown_region_metrics(np.full((2, 2), 0.5), gt_disagreeing, trimap)
    assert list(unknown.values()) == [0.0, 0.0, 0.0, 0.0]


def test_mse_t_falls_back_to_non_canonical_trimap_values_like_the_benchmark():
    trimap = np.array([[0, 100], [100, 255]], np.uint8)  # no 128 pixel, two "other" pixels
    gt = np.array([[0.0, 0.5], [0.5, 1.0]])
    pred = np.array([[0.0, 0.7], [0.5, 1.0]])
    assert mse_trimap(pred, gt, trimap) == pytest.approx(0.04 / 2)


# --- whole metric sets ---------------------------------------------------------------------------
def test_perfect_prediction_scores_zero_on_every_metric():
    _, gt, trimap = blob_case()
    results = {**matting_metrics(gt, gt, trimap), **unknown_region_metrics(gt, gt, trimap)}
    assert set(results) == set(BENCHMARK_KEYS + UNKNOWN_REGION_KEYS)
    assert all(value == 0.0 for value in results.values()), results


def test_all_background_gt_gives_finite_metrics_and_zero_conn():
    gt = np.zeros((24, 24))
    trimap = np.zeros((24, 24), np.uint8)
    pred = np.random.default_rng(1).uniform(0, 0.1, gt.shape)
    results = {**matting_metrics(pred, gt, trimap), **unknown_region_metrics(pred, gt, trimap)}
    assert all(np.isfinite(value) for value in results.values()), results
    assert results["SAD"] == pytest.approx(pred.sum() / 1000)
    assert results["Grad"] > 0
    # Nothing is ever above a threshold in the GT: no component, every pixel keeps l = 1.
    assert results["Conn"] == 0.0
    assert results["SAD-T"] == 0.0 and results["MSE-T"] == 0.0


def test_matting_metrics_without_trimap_leave_out_the_trimap_keys():
    pred, gt, _ = blob_case()
    results = matting_metrics(pred, gt)
    assert list(results) == ["SAD", "MSE", "MAD", "Grad", "Conn"]


def test_unknown_region_metrics_only_count_unknown_pixels():
    pred, gt, trimap = blob_case()
    noisy_known = pred.copy()
    noisy_known[trimap != 128] = 0.5  # errors outside U must not change any unknown-region SAD/MSE
    base = unknown_region_metrics(pred, gt, trimap)
    moved = unknown_region_metrics(noisy_known, gt, trimap)
    assert moved["SAD(unknown)"] == base["SAD(unknown)"]
    assert moved["MSEx1e3(unknown)"] == base["MSEx1e3(unknown)"]
    assert base["SAD(unknown)"] == pytest.approx(sad(pred, gt, trimap == 128))
    assert base["MSEx1e3(unknown)"] == pytest.approx(1e3 * mse(pred, gt, trimap == 128))
