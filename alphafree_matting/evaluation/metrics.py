"""Matting metrics (numpy/scipy) of (H, W) alpha in [0, 1], computed in float64.

:func:`matting_metrics`: whole image, as the AM-2K / P3M-10K benchmark code (``core/evaluate.py``).
:func:`unknown_region_metrics`: unknown pixels only, as DIM's ``evaluate.m`` (GCA, ViTMatte).
SAD-like values are in thousands (``/ 1000``), as matting papers print them.
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
            f"trimap has shape {trimap.shape}, expected the alpha's {tuple(shape)}; "
            "give the trimap at full resolution with one channel."
        )
    return trimap


def _masked_sum(error_map: np.ndarray, mask: Optional[np.ndarray]) -> float:
    """float64 sum of an error map over the whole image (``mask=None``) or over ``mask``."""
    error_map = error_map.astype(np.float64, copy=False)
    return float(error_map.sum() if mask is None else error_map[mask].sum())


def sad(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """``sum |pred - gt| / 1000`` over the (H, W) bool ``mask`` (default: whole image)."""
    pred, gt = _as_alpha_pair(pred, gt)
    return _masked_sum(np.abs(pred - gt), _as_mask(mask, gt.shape)) / _PER_THOUSAND


def mse(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Mean squared error (not scaled by 1e3) over the (H, W) bool ``mask``; 0.0 if it is empty."""
    pred, gt = _as_alpha_pair(pred, gt)
    mask = _as_mask(mask, gt.shape)
    count = gt.size if mask is None else int(mask.sum())
    return _masked_sum((pred - gt) ** 2, mask) / max(count, 1)


def mad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference over the whole image (``SAD * 1000 / (H * W)``)."""
    pred, gt = _as_alpha_pair(pred, gt)
    return _masked_sum(np.abs(pred - gt), None) / gt.size


def gaussian_gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """(H, W) float32 ``sqrt(d_row^2 + d_col^2)`` of scipy's gaussian derivative filters
    (``sigma`` in pixels), as the benchmark's Grad."""
    d_row = ndimage.gaussian_filter(alpha, sigma, order=(1, 0), output=np.float32)
    d_col = ndimage.gaussian_filter(alpha, sigma, order=(0, 1), output=np.float32)
    return np.sqrt(d_row**2 + d_col**2)


def _dim_derivative_kernel(sigma: float) -> np.ndarray:
    """DIM's kernel ``g(i) * g'(j)`` (derivative along columns), unit L2 norm; 9x9 at sigma 1.4."""
    halfsize = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * 1e-2))))
    offsets = np.arange(-halfsize, halfsize + 1, dtype=np.float64)
    gauss = np.exp(-(offsets**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    derivative = -offsets * gauss / sigma**2
    kernel = np.outer(gauss, derivative)
    return kernel / np.sqrt(np.sum(kernel**2))


def dim_gaussian_gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """(H, W) float64 gradient magnitude of DIM's ``gaussgradient`` (unknown-region protocol):
    a truncated, unit-L2-norm kernel and border "nearest", unlike the benchmark's."""
    alpha = np.asarray(alpha, dtype=np.float64)
    kernel = _dim_derivative_kernel(sigma)
    d_col = ndimage.convolve(alpha, kernel, mode="nearest")
    d_row = ndimage.convolve(alpha, kernel.T, mode="nearest")
    return np.sqrt(d_row**2 + d_col**2)


def gradient_error(pred: np.ndarray, gt: np.ndarray, sigma: float = GRADIENT_SIGMA) -> float:
    """Benchmark gradient error ``sum (|grad pred| - |grad gt|)^2 / 10`` over the whole image."""
    pred, gt = _as_alpha_pair(pred, gt)
    pred_magnitude = gaussian_gradient_magnitude(pred, sigma)
    gt_magnitude = gaussian_gradient_magnitude(gt, sigma)
    return _masked_sum((pred_magnitude - gt_magnitude) ** 2, None) / _BENCHMARK_GRAD_SCALE


def _largest_component(binary: np.ndarray) -> Optional[np.ndarray]:
    """Largest 4-connected component (ties: first in raster order, as skimage), or None."""
    labels, num_components = ndimage.label(binary)  # default structure: 4-connectivity in 2-D
    if num_components == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # label 0 is what is outside every component
    return labels == int(np.argmax(sizes))


def connectivity_level_map(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """(H, W) float32: per pixel, the last threshold of ``np.arange(0, 1 + step, step)`` at which
    it was connected to the matte's main body (as the benchmark code)."""
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
    """(H, W) float64 ``|phi(pred) - phi(gt)|``, ``phi(x) = 1 - d * (d >= 0.15)``, ``d = x - level``
    (the :func:`connectivity_level_map`)."""
    pred, gt = _as_alpha_pair(pred, gt)
    level_map = connectivity_level_map(pred, gt, step)
    pred_distance = pred - level_map
    gt_distance = gt - level_map
    pred_phi = 1 - pred_distance * (pred_distance >= CONN_MIN_DISTANCE)
    gt_phi = 1 - gt_distance * (gt_distance >= CONN_MIN_DISTANCE)
    return np.abs(pred_phi - gt_phi)


def connectivity_error(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> float:
    """Benchmark connectivity error (Conn) over the whole image, in thousands."""
    return _masked_sum(connectivity_error_map(pred, gt, step), None) / _PER_THOUSAND


def paste_known_regions(pred: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Float64 copy of ``pred`` set to 1 where the (H, W) 0/128/255 trimap is 255, 0 where 0."""
    pasted = np.array(pred, dtype=np.float64)
    trimap = _as_trimap(trimap, pasted.shape)
    pasted[trimap == TRIMAP_FOREGROUND] = 1.0
    pasted[trimap == TRIMAP_BACKGROUND] = 0.0
    return pasted


def sad_trimap(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """SAD-T: whole-image SAD of :func:`paste_known_regions` of ``pred``, in thousands."""
    return sad(paste_known_regions(pred, trimap), gt)


def mse_trimap(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> float:
    """MSE-T: whole-image squared error of the pasted prediction over the number of unknowns:
    the 128 pixels, else those neither 0 nor 255 (as the benchmark), else 1 (it divides by 0)."""
    pasted, gt = _as_alpha_pair(paste_known_regions(pred, trimap), gt)
    trimap = _as_trimap(trimap, gt.shape)
    count = int((trimap == TRIMAP_UNKNOWN).sum())
    if count == 0:
        count = int(((trimap != TRIMAP_FOREGROUND) & (trimap != TRIMAP_BACKGROUND)).sum())
    return _masked_sum((pasted - gt) ** 2, None) / max(count, 1)


def matting_metrics(
    pred: np.ndarray, gt: np.ndarray, trimap: Optional[np.ndarray] = None
) -> "OrderedDict[str, float]":
    """The AM-2K / P3M-10K benchmark metrics of one image.

    Args:
        pred: (H, W) predicted alpha in [0, 1], float (do not quantise it).
        gt: (H, W) GT alpha in [0, 1]; ``png / 255`` in float64 for bit-exact Conn.
        trimap: (H, W) stored trimap (0 / 128 / 255), or None to leave out SAD-T, MSE-T.

    Returns:
        OrderedDict of floats, keys in :data:`BENCHMARK_KEYS` order.
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
    """SAD / MSE / Grad / Conn over the (H, W) trimap's unknown (128) pixels, as GCA / ViTMatte.

    Grad and Conn maps are taken on the whole image, then summed over the unknown pixels; Grad
    uses :func:`dim_gaussian_gradient_magnitude`, not the benchmark's. Returns an OrderedDict
    keyed :data:`UNKNOWN_REGION_KEYS`: SAD, Grad, Conn ``/ 1000``; MSE ``* 1e3`` (0 if no unknown).
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
