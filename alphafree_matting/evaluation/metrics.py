"""Matting metrics as pure numpy/scipy functions.

Two protocols, kept apart by their key names:

* **Benchmark** (:func:`matting_metrics`; keys "SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T",
  "MSE-T"): the AM-2K / P3M-10K benchmark code (GFM / P3M ``core/evaluate.py``). SAD, MSE, MAD,
  Grad and Conn are taken over the *whole image*; SAD-T and MSE-T first paste the trimap's known
  values into the prediction. Reproduces that code's numbers (``metrics_golden/``, rtol 1e-5).
* **Unknown region** (:func:`unknown_region_metrics`; keys "SAD(unknown)", "MSEx1e3(unknown)",
  "Grad(unknown)", "Conn(unknown)"): the protocol of trimap-input matting papers (DIM's
  ``evaluate.m`` as ported to Python by GCA-Matting and used by MatteFormer / ViTMatte): every
  error is summed over the trimap's unknown pixels (value 128) only.

Inputs of every function: ``pred`` and ``gt`` are ``(H, W)`` float arrays, alpha in [0, 1],
computed in float64 (the benchmark reads PNGs as ``png / 255`` in float64: pass that for bit-exact
agreement at the Conn thresholds); ``trimap`` is ``(H, W)`` with the stored values 0 (background),
128 (unknown), 255 (foreground). SAD-like values are in thousands of pixels (``/ 1000``), as
matting papers print them.
"""

from collections import OrderedDict
from typing import Optional

import numpy as np
from scipy import ndimage

from alphafree_matting.conventions import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN

__all__ = [
    "BENCHMARK_KEYS",
    "UNKNOWN_REGION_KEYS",
    "sad",
    "mse",
    "mad",
    "gaussian_gradient_magnitude",
    "dim_gaussian_gradient_magnitude",
    "gradient_error",
    "connectivity_level_map",
    "connectivity_error_map",
    "connectivity_error",
    "paste_known_regions",
    "sad_trimap",
    "mse_trimap",
    "matting_metrics",
    "unknown_region_metrics",
]

BENCHMARK_KEYS = ("SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T")
"""Keys of :func:`matting_metrics`, in the order the benchmark tables print them."""
UNKNOWN_REGION_KEYS = ("SAD(unknown)", "MSEx1e3(unknown)", "Grad(unknown)", "Conn(unknown)")
"""Keys of :func:`unknown_region_metrics` (MSE times 1e3, as ViTMatte / GCA papers print it)."""

GRADIENT_SIGMA = 1.4
"""Standard deviation (pixels) of the gaussian derivative filters of the gradient error."""
CONN_STEP = 0.1
"""Threshold step of the connectivity error."""
CONN_MIN_DISTANCE = 0.15
"""Connectivity: alpha closer than this above the level map counts as fully connected."""
_PER_THOUSAND = 1000.0
_BENCHMARK_GRAD_SCALE = 10.0  # the AM-2K / P3M code divides the gradient error by 10, not 1000


def _as_alpha_pair(pred: np.ndarray, gt: np.ndarray):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(
            f"pred and gt must be (H, W) arrays of the same shape, got {pred.shape} and "
            f"{gt.shape}; squeeze channel dimensions and predict at the GT's resolution."
        )
    return pred, gt


def _as_mask(mask: Optional[np.ndarray], shape) -> Optional[np.ndarray]:
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask has shape {mask.shape}, expected the alpha's {tuple(shape)}.")
    return mask


def _as_trimap(trimap: np.ndarray, shape) -> np.ndarray:
    trimap = np.asarray(trimap)
    if trimap.shape != tuple(shape):
        raise ValueError(
            f"trimap has shape {trimap.shape}, expected the alpha's {tuple(shape)}: a trimap "
            "must have the image's full resolution and a single channel."
        )
    return trimap


def _masked_sum(error_map: np.ndarray, mask: Optional[np.ndarray]) -> float:
    """float64 sum of an error map over the whole image (``mask=None``) or over ``mask``."""
    error_map = error_map.astype(np.float64, copy=False)
    return float(error_map.sum() if mask is None else error_map[mask].sum())


def sad(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Sum of absolute differences, in thousands.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        mask: optional (H, W) bool; the sum runs over its True pixels (default: whole image).

    Returns:
        ``sum |pred - gt| / 1000`` (>= 0; 1.0 means 1000 pixels completely wrong).
    """
    pred, gt = _as_alpha_pair(pred, gt)
    return _masked_sum(np.abs(pred - gt), _as_mask(mask, gt.shape)) / _PER_THOUSAND


def mse(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Mean squared error (raw, not scaled by 1e3).

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        mask: optional (H, W) bool; the mean runs over its True pixels (default: whole image).

    Returns:
        ``mean (pred - gt)^2`` in [0, 1]; 0.0 when ``mask`` selects no pixel.
    """
    pred, gt = _as_alpha_pair(pred, gt)
    mask = _as_mask(mask, gt.shape)
    count = gt.size if mask is None else int(mask.sum())
    return _masked_sum((pred - gt) ** 2, mask) / max(count, 1)


def mad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference over the whole image.

    Args:
        pred, gt: (H, W) alpha in [0, 1].

    Returns:
        ``mean |pred - gt|`` in [0, 1] (equals ``SAD * 1000 / (H * W)``).
    """
    pred, gt = _as_alpha_pair(pred, gt)
    return _masked_sum(np.abs(pred - gt), None) / gt.size


def gaussian_gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """Gradient magnitude from scipy's gaussian derivative filters (the benchmark's Grad).

    Args:
        alpha: (H, W) float alpha in [0, 1].
        sigma: gaussian standard deviation in pixels.

    Returns:
        (H, W) float32 ``sqrt(d_row^2 + d_col^2)``, the derivatives from
        ``gaussian_filter(alpha, sigma, order=(1, 0) or (0, 1), output=np.float32)``
        (mode "reflect", default truncation).
    """
    d_row = ndimage.gaussian_filter(alpha, sigma, order=(1, 0), output=np.float32)
    d_col = ndimage.gaussian_filter(alpha, sigma, order=(0, 1), output=np.float32)
    return np.sqrt(d_row**2 + d_col**2)


def _dim_derivative_kernel(sigma: float) -> np.ndarray:
    """DIM's 2-D derivative-of-gaussian kernel ``k[i, j] = g(i) * g'(j)`` (derivative along
    columns), half size ``ceil(sigma * sqrt(-2 ln(sqrt(2 pi) * sigma * 0.01)))`` (9x9 at
    sigma 1.4), scaled to unit L2 norm."""
    halfsize = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * 1e-2))))
    offsets = np.arange(-halfsize, halfsize + 1, dtype=np.float64)
    gauss = np.exp(-(offsets**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    derivative = -offsets * gauss / sigma**2
    kernel = np.outer(gauss, derivative)
    return kernel / np.sqrt(np.sum(kernel**2))


def dim_gaussian_gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """Gradient magnitude from DIM's ``gaussgradient`` (the unknown-region protocol's filter).

    Differs from :func:`gaussian_gradient_magnitude` in the kernel (truncated where the gaussian
    falls below 1 % of a unit-sigma peak and scaled to unit L2 norm, so its gain is not that of a
    derivative) and the border mode ("nearest").

    Args:
        alpha: (H, W) float alpha in [0, 1].
        sigma: gaussian standard deviation in pixels.

    Returns:
        (H, W) float64 gradient magnitude.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    kernel = _dim_derivative_kernel(sigma)
    d_col = ndimage.convolve(alpha, kernel, mode="nearest")
    d_row = ndimage.convolve(alpha, kernel.T, mode="nearest")
    return np.sqrt(d_row**2 + d_col**2)


def gradient_error(pred: np.ndarray, gt: np.ndarray, sigma: float = GRADIENT_SIGMA) -> float:
    """Benchmark gradient error (Grad) over the whole image.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        sigma: gaussian standard deviation of the derivative filters, pixels.

    Returns:
        ``sum (|grad pred| - |grad gt|)^2 / 10`` with :func:`gaussian_gradient_magnitude`
        (float32 maps, float64 sum); >= 0.
    """
    pred, gt = _as_alpha_pair(pred, gt)
    pred_magnitude = gaussian_gradient_magnitude(pred, sigma)
    gt_magnitude = gaussian_gradient_magnitude(gt, sigma)
    return _masked_sum((pred_magnitude - gt_magnitude) ** 2, None) / _BENCHMARK_GRAD_SCALE


def _largest_component(binary: np.ndarray) -> Optional[np.ndarray]:
    """Mask of the largest 4-connected component of ``binary`` (on ties the first in raster
    order, as skimage's ``regionprops`` + ``argmax``), or None when ``binary`` is all False."""
    labels, num_components = ndimage.label(binary)  # default structure: 4-connectivity in 2-D
    if num_components == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # label 0 is what is outside every component
    return labels == int(np.argmax(sizes))


def connectivity_level_map(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """Level map ``l`` of the connectivity error: the last threshold at which a pixel was still
    connected to the main body of the matte.

    For the thresholds ``t_i = np.arange(0, 1.1, step)[i]``, i >= 1 (float64, so
    ``t_6 = 0.6000000000000001``), take the largest 4-connected component of
    ``(pred >= t_i) & (gt >= t_i)``; a threshold with no component is skipped. Pixels not yet
    assigned and outside that component get ``l = t_{i-1}``; pixels never assigned get 1.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        step: threshold step.

    Returns:
        (H, W) float32 level map in [0, 1].
    """
    pred, gt = _as_alpha_pair(pred, gt)
    thresholds = np.arange(0, 1 + step, step)
    level_map = np.full(gt.shape, -1.0, dtype=np.float32)
    for previous, threshold in zip(thresholds[:-1], thresholds[1:]):
        component = _largest_component((pred >= threshold) & (gt >= threshold))
        if component is None:
            continue
        level_map[(level_map == -1) & ~component] = previous
    level_map[level_map == -1] = 1.0
    return level_map


def connectivity_error_map(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """Per-pixel connectivity error ``|phi(pred) - phi(gt)|``.

    ``phi(x) = 1 - d * (d >= 0.15)`` with ``d = x - l``, ``l`` the
    :func:`connectivity_level_map`.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        step: threshold step.

    Returns:
        (H, W) float64 error map, values in [0, 1].
    """
    pred, gt = _as_alpha_pair(pred, gt)
    level_map = connectivity_level_map(pred, gt, step)
    pred_distance = pred - level_map
    gt_distance = gt - level_map
    pred_phi = 1 - pred_distance * (pred_distance >= CONN_MIN_DISTANCE)
    gt_phi = 1 - gt_distance * (gt_distance >= CONN_MIN_DISTANCE)
    return np.abs(pred_phi - gt_phi)


def connectivity_error(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> float:
    """Benchmark connectivity error (Conn) over the whole image, in thousands.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        step: threshold step.

    Returns:
        ``sum connectivity_error_map / 1000`` (>= 0).
    """
    return _masked_sum(connectivity_error_map(pred, gt, step), None) / _PER_THOUSAND


def paste_known_regions(pred: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The prediction with the trimap's known values pasted in (1 where 255, 0 where 0).

    Args:
        pred: (H, W) alpha in [0, 1].
        trimap: (H, W) stored trimap values (0 / 128 / 255).

    Returns:
        (H, W) float64 copy of ``pred``; pixels of other trimap values are unchanged.
    """
    pasted = np.array(pred, dtype=np.float64)
    trimap = _as_trimap(trimap, pasted.shape)
    pasted[trimap == TRIMAP_FOREGROUND] = 1.0
    pasted[trimap == TRIMAP_BACKGROUND] = 0.0
    return pasted


def sad_trimap(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """SAD-T: SAD over the whole image of the prediction with the known regions pasted in.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        trimap: (H, W) stored trimap values (0 / 128 / 255).

    Returns:
        ``sum |paste_known_regions(pred) - gt| / 1000``; known pixels add to it only where the
        GT disagrees with the trimap.
    """
    return sad(paste_known_regions(pred, trimap), gt)


def mse_trimap(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """MSE-T: squared error of the pasted prediction, summed over the whole image, divided by the
    number of unknown pixels.

    The denominator is the number of unknown (128) pixels; when there is none, the number of pixels
    that are neither 0 nor 255 (the benchmark's fallback for non-canonical trimaps); when that is
    also zero (no unknown region, where the benchmark divides by zero) it is 1: the value is then
    the plain sum of squared errors, 0 when the GT agrees with the trimap, never NaN or inf.

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        trimap: (H, W) stored trimap values (0 / 128 / 255).

    Returns:
        ``sum (paste_known_regions(pred) - gt)^2 / max(n_unknown, 1)`` (>= 0).
    """
    pasted, gt = _as_alpha_pair(paste_known_regions(pred, trimap), gt)
    trimap = _as_trimap(trimap, gt.shape)
    count = int((trimap == TRIMAP_UNKNOWN).sum())
    if count == 0:
        count = int(((trimap != TRIMAP_FOREGROUND) & (trimap != TRIMAP_BACKGROUND)).sum())
    return _masked_sum((pasted - gt) ** 2, None) / max(count, 1)


def matting_metrics(
    pred: np.ndarray, gt: np.ndarray, trimap: Optional[np.ndarray] = None
) -> "OrderedDict[str, float]":
    """The seven AM-2K / P3M-10K benchmark metrics of one image.

    Args:
        pred: (H, W) predicted alpha in [0, 1] (float; do not quantise a float prediction).
        gt: (H, W) ground-truth alpha in [0, 1].
        trimap: (H, W) stored trimap values (0 / 128 / 255), or None: "SAD-T" and "MSE-T" are
            then left out (rather than computed with an all-unknown trimap, which would repeat
            SAD and MSE under another name).

    Returns:
        OrderedDict with keys "SAD", "MSE", "MAD", "Grad", "Conn" and, given a trimap, "SAD-T",
        "MSE-T" (python floats; units in the module docstring).
    """
    pred, gt = _as_alpha_pair(pred, gt)
    results = OrderedDict(
        [
            ("SAD", sad(pred, gt)),
            ("MSE", mse(pred, gt)),
            ("MAD", mad(pred, gt)),
            ("Grad", gradient_error(pred, gt)),
            ("Conn", connectivity_error(pred, gt)),
        ]
    )
    if trimap is not None:
        results["SAD-T"] = sad_trimap(pred, gt, trimap)
        results["MSE-T"] = mse_trimap(pred, gt, trimap)
    return results


def unknown_region_metrics(
    pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray
) -> "OrderedDict[str, float]":
    """SAD / MSE / Grad / Conn over the trimap's unknown region U (pixels of value 128), as
    trimap-input papers (GCA, MatteFormer, ViTMatte) report them.

    * "SAD(unknown)": ``sum_U |pred - gt| / 1000``.
    * "MSEx1e3(unknown)": ``1e3 * sum_U (pred - gt)^2 / |U|``; 0 when U is empty.
    * "Grad(unknown)": ``sum_U (|grad pred| - |grad gt|)^2 / 1000`` with DIM's gaussgradient
      (:func:`dim_gaussian_gradient_magnitude`, filtered on the whole image, summed over U).
    * "Conn(unknown)": ``sum_U connectivity_error_map / 1000`` (level map of the whole image,
      the same as the benchmark's Conn).

    Not comparable with the benchmark's "SAD-T" / "MSE-T" (which also count known pixels where
    the GT disagrees with the trimap) nor with "Grad" (other filter, other scale).

    Args:
        pred, gt: (H, W) alpha in [0, 1].
        trimap: (H, W) stored trimap values (0 / 128 / 255).

    Returns:
        OrderedDict with the four keys above (python floats).
    """
    pred, gt = _as_alpha_pair(pred, gt)
    unknown = _as_trimap(trimap, gt.shape) == TRIMAP_UNKNOWN
    pred_magnitude = dim_gaussian_gradient_magnitude(pred)
    gt_magnitude = dim_gaussian_gradient_magnitude(gt)
    gradient_map = (pred_magnitude - gt_magnitude) ** 2
    connectivity_map = connectivity_error_map(pred, gt)
    return OrderedDict(
        [
            ("SAD(unknown)", sad(pred, gt, unknown)),
            ("MSEx1e3(unknown)", mse(pred, gt, unknown) * 1e3),
            ("Grad(unknown)", _masked_sum(gradient_map, unknown) / _PER_THOUSAND),
            ("Conn(unknown)", _masked_sum(connectivity_map, unknown) / _PER_THOUSAND),
        ]
    )
