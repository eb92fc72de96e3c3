"""Coarse labels made from alpha mattes or binary masks (the paper's simulation of human labels).

Trimaps from alpha (the authors' ``alpha2trimap.py``) or from masks (Appendix B), and the
segmentation-mask labels of Table 7 (``alpha2mask``). As in the authors' code, a known label may
contradict the full-resolution alpha near thin structures unless ``consistent_known=True``.
"""

import hashlib
from typing import Optional, Union

import cv2
import numpy as np

from ..conventions import CERTAIN_EPS, TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN
from .transforms import INTERPOLATIONS, RELEASE_INTERPOLATIONS

__all__ = [
    "LABEL_RESOLUTION",
    "KERNEL_RANGE",
    "MASK_THRESHOLD_RANGE",
    "elliptic_kernel",
    "label_rng",
    "enforce_known_consistency",
    "alpha_to_trimap",
    "mask_to_trimap",
    "alpha_to_mask",
    "RANDOM",
]

LABEL_RESOLUTION = 640
"""Side of the square the alpha is resized to before erosion."""
KERNEL_RANGE = (1, 29)
"""Inclusive range of the random erosion kernel size (the paper's default labels)."""
MASK_THRESHOLD_RANGE = (0.01, 1.0)
"""Range of the random alpha threshold of the segmentation-mask labels (Table 7)."""

RANDOM = "random"
"""``interpolation=RANDOM``: one of the authors' four interpolations, drawn per file."""

KernelSize = Union[int, tuple[int, int], None]


def elliptic_kernel(size: int) -> np.ndarray:
    """``(size, size)`` uint8 elliptic structuring element."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def label_rng(seed: int, key: str) -> np.random.Generator:
    """Generator for one label file from the run's ``seed`` and the file's ``key`` (e.g. its stem),
    so labels do not depend on file order or on the number of worker processes."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _random_kernel_size(rng: Optional[np.random.Generator]) -> int:
    rng = rng if rng is not None else np.random.default_rng()
    low, high = KERNEL_RANGE
    return int(rng.integers(low, high + 1))


def _kernel_sizes(kernel_size: KernelSize, rng: Optional[np.random.Generator]) -> tuple[int, int]:
    if kernel_size is None:
        rng = rng if rng is not None else np.random.default_rng()
        return _random_kernel_size(rng), _random_kernel_size(rng)
    if isinstance(kernel_size, int):
        return kernel_size, kernel_size
    return int(kernel_size[0]), int(kernel_size[1])


def _interpolation(name: str, rng: Optional[np.random.Generator], resolution) -> int:
    """OpenCV flag of ``name`` (a key of ``INTERPOLATIONS``), or of a random one for RANDOM."""
    if name == RANDOM and not resolution:
        return cv2.INTER_NEAREST  # no resize: nothing to draw
    if name == RANDOM:
        rng = rng if rng is not None else np.random.default_rng()
        name = RELEASE_INTERPOLATIONS[int(rng.integers(len(RELEASE_INTERPOLATIONS)))]
    if name not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be {RANDOM!r} or one of {tuple(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def _to_work_resolution(
    data: np.ndarray, resolution: Optional[int], flag: int = cv2.INTER_NEAREST
) -> np.ndarray:
    if not resolution:
        return data
    return cv2.resize(data, (resolution, resolution), interpolation=flag)


def _to_size(data: np.ndarray, height: int, width: int) -> np.ndarray:
    if data.shape == (height, width):
        return data
    return cv2.resize(data, (width, height), interpolation=cv2.INTER_NEAREST)


def _eroded_trimap(
    foreground: np.ndarray, background: np.ndarray, fg_size: int, bg_size: int
) -> np.ndarray:
    """uint8 trimap from boolean certain regions, each eroded by an elliptic kernel."""
    foreground = cv2.erode(foreground.astype(np.uint8), elliptic_kernel(fg_size))
    background = cv2.erode(background.astype(np.uint8), elliptic_kernel(bg_size))
    trimap = np.full(foreground.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[foreground == 1] = TRIMAP_FOREGROUND
    trimap[background == 1] = TRIMAP_BACKGROUND
    return trimap


def enforce_known_consistency(
    trimap: np.ndarray, foreground: np.ndarray, background: np.ndarray
) -> np.ndarray:
    """Set known pixels of an (H, W) uint8 0/128/255 ``trimap`` to unknown, in place, unless
    255 lies in the (H, W) bool ``foreground`` and 0 in ``background``; returns ``trimap``."""
    trimap[(trimap == TRIMAP_FOREGROUND) & ~foreground] = TRIMAP_UNKNOWN
    trimap[(trimap == TRIMAP_BACKGROUND) & ~background] = TRIMAP_UNKNOWN
    return trimap


def alpha_to_trimap(
    alpha: np.ndarray,
    kernel_size: KernelSize = None,
    rng: Optional[np.random.Generator] = None,
    resolution: int = LABEL_RESOLUTION,
    interpolation: str = RANDOM,
    consistent_known: bool = False,
) -> np.ndarray:
    """Trimap label from an alpha matte: resize to the working resolution, erode the certain
    foreground and background with elliptic kernels, the rest unknown, resize back (nearest).

    Args:
        alpha: (H, W) float array in [0, 1].
        kernel_size: erosion kernel side for (foreground, background), or one int for both
            (the roughness study); ``None`` draws each uniformly from :data:`KERNEL_RANGE`.
        rng: the file's generator (:func:`label_rng`) for the random choices.
        resolution: side of the square working resolution (640); 0 keeps the alpha's size.
        interpolation: :data:`RANDOM` (the authors' code) or ``"nearest"``, ``"linear"``,
            ``"cubic"``, ``"lanczos"``, for the resize to the working resolution.
        consistent_known: turn known pixels that contradict ``alpha`` unknown.

    Returns:
        (H, W) uint8 trimap, 0 / 128 / 255.
    """
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be (H, W), got shape {alpha.shape}")
    height, width = alpha.shape
    flag = _interpolation(interpolation, rng, resolution)  # drawn first, as in the authors' code
    fg_size, bg_size = _kernel_sizes(kernel_size, rng)
    alpha = alpha.astype(np.float32)
    work = _to_work_resolution(alpha, resolution, flag)
    trimap = _eroded_trimap(work >= 1.0 - CERTAIN_EPS, work <= CERTAIN_EPS, fg_size, bg_size)
    trimap = _to_size(trimap, height, width)
    if consistent_known:
        enforce_known_consistency(trimap, alpha >= 1.0 - CERTAIN_EPS, alpha <= CERTAIN_EPS)
    return trimap


def mask_to_trimap(
    mask: np.ndarray,
    kernel_size: KernelSize = None,
    rng: Optional[np.random.Generator] = None,
    resolution: int = LABEL_RESOLUTION,
    consistent_known: bool = True,
) -> np.ndarray:
    """(H, W) uint8 trimap from an (H, W) bool (or 0/1) mask: erodes the mask and its complement,
    leaving about ``fg_size / 2 + bg_size / 2`` working-resolution pixels unknown at the boundary.

    ``kernel_size``, ``rng``, ``resolution`` are as in :func:`alpha_to_trimap` (nearest resizes);
    ``consistent_known`` keeps 255 inside the mask and 0 outside it after the resizes.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    height, width = mask.shape
    mask = mask.astype(bool)
    fg_size, bg_size = _kernel_sizes(kernel_size, rng)
    work = _to_work_resolution(mask.astype(np.uint8), resolution).astype(bool)
    trimap = _to_size(_eroded_trimap(work, ~work, fg_size, bg_size), height, width)
    return enforce_known_consistency(trimap, mask, ~mask) if consistent_known else trimap


def alpha_to_mask(
    alpha: np.ndarray,
    rng: Optional[np.random.Generator] = None,
    resolution: int = LABEL_RESOLUTION,
    interpolation: str = RANDOM,
) -> np.ndarray:
    """(H, W) uint8 0/255 coarse mask label from an (H, W) alpha in [0, 1] (Table 7).

    The alpha at the working resolution is thresholded at a level drawn from
    :data:`MASK_THRESHOLD_RANGE`, then eroded, dilated, or both in either order (equal chance),
    with elliptic kernels sized in :data:`KERNEL_RANGE`; like a human mask, wrong near the boundary.
    ``rng``, ``resolution`` and ``interpolation`` are as in :func:`alpha_to_trimap`.
    """
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be (H, W), got shape {alpha.shape}")
    rng = rng if rng is not None else np.random.default_rng()
    height, width = alpha.shape
    flag = _interpolation(interpolation, rng, resolution)
    low, high = MASK_THRESHOLD_RANGE
    threshold = float(rng.uniform(low, high))
    work = _to_work_resolution(alpha.astype(np.float32), resolution, flag)
    mask = (work >= threshold).astype(np.uint8)
    operations = ((cv2.erode,), (cv2.dilate,), (cv2.erode, cv2.dilate), (cv2.dilate, cv2.erode))
    for operation in operations[int(rng.integers(len(operations)))]:
        mask = operation(mask, elliptic_kernel(_random_kernel_size(rng)))
    return _to_size(mask, height, width) * np.uint8(TRIMAP_FOREGROUND)
