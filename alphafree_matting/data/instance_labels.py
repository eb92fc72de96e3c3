"""Trimap labels from instance masks: an unknown band around the mask boundary, scaled to the
instance and reproducible from a seed (see :func:`band_widths`). For a 640 px object the band is
1-15 px per side, about what erosion by the paper's kernels leaves.
"""

import math
from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from ..conventions import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN
from .trimap_labels import KERNEL_RANGE, LABEL_RESOLUTION

__all__ = ["BAND_RANGE", "object_size", "check_band", "band_widths", "band_trimap"]

BAND_RANGE = KERNEL_RANGE
"""Default range of the band's kernel sizes ``k``, in pixels of a 640-px object."""


def object_size(mask: np.ndarray) -> int:
    """Longer side (px) of the bounding box of a ``(H, W)`` bool mask; 0 for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def check_band(band: Sequence[int]) -> tuple[int, int]:
    """``band`` as an inclusive ``(low, high)`` of integers with ``1 <= low <= high``."""
    low, high = band
    if int(low) != low or int(high) != high or not 1 <= low <= high:
        raise ValueError(f"band must be integers (low, high) with 1 <= low <= high, got {band}")
    return int(low), int(high)


def band_widths(
    rng: np.random.Generator, size: int, band: Sequence[int] = BAND_RANGE
) -> tuple[int, int]:
    """Band widths ``(ceil(k_in * size / 1280), ceil(k_out * size / 1280))`` px, each >= 1.

    ``k_in``, ``k_out`` are drawn (in that order) from the inclusive ``band`` (default [1, 29],
    the paper's kernel range at 640 px) by ``rng`` (``label_rng(seed, image_id)``); ``size`` is
    the object's longer side in px (:func:`object_size`).
    """
    low, high = check_band(band)
    kernels = rng.integers(low, high + 1, size=2)
    scale = max(int(size), 1) / (2 * LABEL_RESOLUTION)
    inner, outer = (max(1, math.ceil(int(k) * scale)) for k in kernels)
    return inner, outer


def _distance_to_outside(region: np.ndarray) -> np.ndarray:
    """(H, W) float32 Euclidean distance to the nearest pixel outside ``region`` inside the
    image (1 next to the boundary, 0 outside)."""
    return cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def band_trimap(
    mask: np.ndarray, inner: int, outer: int, unknown: Optional[np.ndarray] = None
) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) uint8 0 / 128 / 255 trimap and (H, W) bool boundary band of an (H, W) bool mask.

    The band reaches ``inner`` px into the mask and ``outer`` px out of it (0: that side stays
    known); optional bool ``unknown`` pixels outside the mask (other instances, crowd) are unknown.
    """
    mask = mask.astype(bool)
    band = np.zeros(mask.shape, bool)
    if mask.any():
        band |= mask & (_distance_to_outside(mask) <= inner)
    if (~mask).any():
        band |= ~mask & (_distance_to_outside(~mask) <= outer)
    trimap = np.where(mask, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND).astype(np.uint8)
    trimap[band] = TRIMAP_UNKNOWN
    if unknown is not None:
        trimap[unknown.astype(bool) & ~mask] = TRIMAP_UNKNOWN
    return trimap, band
