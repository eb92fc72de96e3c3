"""Geometric augmentations of a matting sample: one plan, applied identically to every array.

A plan is a list of :class:`MattingTransform` (resize, crop, flip, pad) chosen once per sample by
:func:`sample_geometric_transforms`; :func:`apply_transforms` then applies the same plan to the
image, the labels and the validity mask. Only the interpolation and the padding value depend on
what an array holds (:class:`ArrayKind`): images and alphas are resized linearly, trimaps, masks
and validity masks with nearest neighbour; padding is 0 for images and alphas, unknown (128) for
trimaps, False for validity, so padding never counts as a known label.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..conventions import TRIMAP_UNKNOWN

__all__ = [
    "ArrayKind",
    "MattingTransform",
    "Resize",
    "Crop",
    "HFlip",
    "Pad",
    "apply_transforms",
    "sample_scale",
    "sample_crop",
    "sample_geometric_transforms",
]


class ArrayKind(enum.Enum):
    """What an array holds; decides its interpolation and padding value."""

    IMAGE = "image"  # (H, W, 3) uint8: linear, padded with 0
    ALPHA = "alpha"  # (H, W) float32 in [0, 1]: linear, padded with 0
    LABEL = "label"  # (H, W) uint8 trimap or 0/255 mask: nearest, padded with unknown (128)
    VALID = "valid"  # (H, W) uint8 0/1: nearest, padded with 0


_INTERPOLATION = {
    ArrayKind.IMAGE: cv2.INTER_LINEAR,
    ArrayKind.ALPHA: cv2.INTER_LINEAR,
    ArrayKind.LABEL: cv2.INTER_NEAREST,
    ArrayKind.VALID: cv2.INTER_NEAREST,
}
_PAD_VALUE = {
    ArrayKind.IMAGE: 0,
    ArrayKind.ALPHA: 0,
    ArrayKind.LABEL: TRIMAP_UNKNOWN,
    ArrayKind.VALID: 0,
}


class MattingTransform:
    """A geometric transform of ``(H, W)`` or ``(H, W, C)`` arrays."""

    def apply(self, array: np.ndarray, kind: ArrayKind) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Resize(MattingTransform):
    """Resize to ``(height, width)``."""

    height: int
    width: int

    def apply(self, array: np.ndarray, kind: ArrayKind) -> np.ndarray:
        if array.shape[:2] == (self.height, self.width):
            return array
        return cv2.resize(array, (self.width, self.height), interpolation=_INTERPOLATION[kind])


@dataclass(frozen=True)
class Crop(MattingTransform):
    """Keep rows ``top : top + height`` and columns ``left : left + width``."""

    top: int
    left: int
    height: int
    width: int

    def apply(self, array: np.ndarray, kind: ArrayKind) -> np.ndarray:
        return array[self.top : self.top + self.height, self.left : self.left + self.width]


@dataclass(frozen=True)
class HFlip(MattingTransform):
    """Mirror left-right."""

    def apply(self, array: np.ndarray, kind: ArrayKind) -> np.ndarray:
        return array[:, ::-1]


@dataclass(frozen=True)
class Pad(MattingTransform):
    """Pad at the bottom and right to at least ``(height, width)`` with the kind's pad value."""

    height: int
    width: int

    def apply(self, array: np.ndarray, kind: ArrayKind) -> np.ndarray:
        pad_bottom = max(self.height - array.shape[0], 0)
        pad_right = max(self.width - array.shape[1], 0)
        if pad_bottom == 0 and pad_right == 0:
            return array
        widths = [(0, pad_bottom), (0, pad_right)] + [(0, 0)] * (array.ndim - 2)
        return np.pad(array, widths, mode="constant", constant_values=_PAD_VALUE[kind])


def apply_transforms(
    transforms: Sequence[MattingTransform], array: np.ndarray, kind: ArrayKind
) -> np.ndarray:
    """Apply a plan to one array; returns a C-contiguous array."""
    for transform in transforms:
        array = transform.apply(array, kind)
    return np.ascontiguousarray(array)


def sample_scale(rng: np.random.Generator, scale_range: Optional[Sequence[float]]) -> float:
    """Scale factor drawn uniformly from ``scale_range`` (``None`` gives 1)."""
    if scale_range is None:
        return 1.0
    low, high = scale_range
    return float(rng.uniform(low, high))


def _crop_start(rng: np.random.Generator, size: int, crop: int, must_contain: Optional[int]) -> int:
    """First index of a window of ``crop`` samples inside ``size`` (containing ``must_contain``)."""
    low, high = 0, size - crop
    if must_contain is not None:
        low, high = max(low, must_contain - crop + 1), min(high, must_contain)
    return int(rng.integers(low, high + 1))


def sample_crop(
    rng: np.random.Generator,
    height: int,
    width: int,
    crop_size: tuple[int, int],
    unknown: Optional[np.ndarray] = None,
    unknown_bias: float = 1.0,
) -> Crop:
    """Random crop, biased towards crops that contain unknown pixels.

    With probability ``unknown_bias`` (and when ``unknown`` has any True pixel) an unknown
    pixel is drawn uniformly and the crop is drawn uniformly among the crops that contain it;
    otherwise the crop position is uniform. A side shorter than the crop is kept whole (the
    sample is padded afterwards).

    Args:
        height, width: size of the array to crop.
        crop_size: ``(crop_height, crop_width)``.
        unknown: optional ``(height, width)`` bool mask of unknown pixels.
        unknown_bias: probability of the biased draw, in [0, 1].
    """
    crop_height, crop_width = min(crop_size[0], height), min(crop_size[1], width)
    row = col = None
    if unknown is not None and unknown_bias > 0 and rng.uniform() < unknown_bias:
        candidates = np.flatnonzero(unknown)
        if candidates.size:
            row, col = divmod(int(candidates[rng.integers(candidates.size)]), width)
    top = _crop_start(rng, height, crop_height, row)
    left = _crop_start(rng, width, crop_width, col)
    return Crop(top, left, crop_height, crop_width)


def sample_geometric_transforms(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    crop_size: Optional[tuple[int, int]],
    scale_range: Optional[Sequence[float]] = None,
    hflip_prob: float = 0.0,
    unknown: Optional[np.ndarray] = None,
    unknown_bias: float = 1.0,
) -> list[MattingTransform]:
    """Draw the geometric plan of one training sample: scale, crop, flip, pad.

    Args:
        rng: the sample's random generator.
        height, width: size of the sample as read.
        crop_size: ``(crop_height, crop_width)`` of the output; ``None`` keeps the whole
            (scaled) sample and does not pad.
        scale_range: ``(low, high)`` of a uniformly drawn scale factor, or ``None``.
        hflip_prob: probability of a left-right flip.
        unknown: optional ``(height, width)`` bool mask of unknown pixels for the crop bias.
        unknown_bias: see :func:`sample_crop`.

    Returns:
        list of transforms for :func:`apply_transforms`. With a crop size, every array comes
        out as ``crop_size`` exactly.
    """
    transforms: list[MattingTransform] = []
    scale = sample_scale(rng, scale_range)
    if scale != 1.0:
        scaled = Resize(max(1, round(height * scale)), max(1, round(width * scale)))
        transforms.append(scaled)
        height, width = scaled.height, scaled.width
        if unknown is not None:
            unknown = scaled.apply(unknown.astype(np.uint8), ArrayKind.LABEL).astype(bool)
    if crop_size is not None:
        transforms.append(sample_crop(rng, height, width, crop_size, unknown, unknown_bias))
    if hflip_prob > 0 and rng.uniform() < hflip_prob:
        transforms.append(HFlip())
    if crop_size is not None:
        transforms.append(Pad(*crop_size))
    return transforms
