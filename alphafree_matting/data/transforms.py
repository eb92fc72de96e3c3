"""Matting augmentations in detectron2's augmentation API (``detectron2.data.transforms``).

:class:`MattingAugInput` carries a sample through any list of detectron2 ``Augmentation``s: the
image and the alpha go through ``apply_image`` (the transform's interpolation), the trimap / mask
and the validity mask through ``apply_segmentation`` (nearest). The augmentations below draw from
the sample's generator ``aug_input.rng``; detectron2's own (which draw from ``np.random``)
compose with them in one list.
"""

from collections.abc import Sequence
from typing import Optional, Union

import cv2
import numpy as np
from detectron2.data import transforms as T

from ..conventions import CERTAIN_EPS, TRIMAP_BACKGROUND_BELOW, TRIMAP_FOREGROUND_FROM

__all__ = [
    "INTERPOLATIONS",
    "RELEASE_INTERPOLATIONS",
    "MattingAugInput",
    "CV2ResizeTransform",
    "UpscaleSmall",
    "UnknownCenteredCrop",
    "UnknownContainingCrop",
    "RandomScale",
    "RandomHFlip",
    "PadToSize",
]

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
RELEASE_INTERPOLATIONS = ("nearest", "linear", "cubic", "lanczos")
"""The authors' random interpolation (``maybe_random_interp``): one of these, drawn per resize."""

Size = Union[int, Sequence[int]]


def _pair(size: Size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _check_interpolations(interpolations: Sequence[str]) -> tuple[str, ...]:
    interpolations = tuple(interpolations)
    unknown = [name for name in interpolations if name not in INTERPOLATIONS]
    if not interpolations or unknown:
        raise ValueError(
            f"interpolations must be names from {tuple(INTERPOLATIONS)}, got {unknown}"
        )
    return interpolations


class MattingAugInput(T.AugInput):
    """A training sample for detectron2 augmentations.

    Args:
        image: (H, W, 3) uint8 RGB.
        trimap: optional (H, W) uint8 stored trimap (or 0/255 mask).
        alpha: optional (H, W) float32 alpha in [0, 1].
        rng: the sample's generator; the plugin's augmentations draw from it.
        focus: optional (H, W) bool region the crops centre on instead of the whole unknown
            region (an instance's own boundary band: per-instance samples crop around it).
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        trimap: Optional[np.ndarray] = None,
        alpha: Optional[np.ndarray] = None,
        rng: Optional[np.random.Generator] = None,
        focus: Optional[np.ndarray] = None,
    ):
        super().__init__(image)
        self.trimap = trimap
        self.alpha = alpha
        self.valid = np.ones(image.shape[:2], np.uint8)  # (H, W): 0 on padding
        self.rng = rng if rng is not None else np.random.default_rng()
        self.focus = None if focus is None else focus.astype(np.uint8)  # resizable as a label

    @property
    def unknown(self) -> Optional[np.ndarray]:
        """(H, W) bool pixels a crop should favour: the ``focus`` region if given, else the
        trimap's unknown band, else soft alpha."""
        if self.focus is not None:
            return self.focus.astype(bool)
        if self.trimap is not None:
            return (self.trimap >= TRIMAP_BACKGROUND_BELOW) & (self.trimap < TRIMAP_FOREGROUND_FROM)
        if self.alpha is not None:
            return (self.alpha > CERTAIN_EPS) & (self.alpha < 1.0 - CERTAIN_EPS)
        return None

    def transform(self, tfm: T.Transform) -> None:
        self.image = tfm.apply_image(self.image)
        self.valid = tfm.apply_segmentation(self.valid)
        if self.trimap is not None:
            self.trimap = tfm.apply_segmentation(self.trimap)
        if self.focus is not None:
            self.focus = tfm.apply_segmentation(self.focus)
        if self.alpha is not None:
            self.alpha = tfm.apply_image(self.alpha)


class CV2ResizeTransform(T.Transform):
    """Resize (h, w) -> (new_h, new_w) with OpenCV: images with ``interpolation``, segmentations
    with nearest neighbour (the authors' resizes; detectron2's ``ResizeTransform`` uses PIL)."""

    def __init__(self, h: int, w: int, new_h: int, new_w: int, interpolation: str = "linear"):
        super().__init__()
        self._set_attributes(locals())

    def _resize(self, array: np.ndarray, flag: int) -> np.ndarray:
        if array.shape[:2] == (self.new_h, self.new_w):
            return array
        return cv2.resize(np.ascontiguousarray(array), (self.new_w, self.new_h), interpolation=flag)

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        return self._resize(img, INTERPOLATIONS[self.interpolation])

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return self._resize(segmentation, cv2.INTER_NEAREST)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        coords[:, 0] = coords[:, 0] * (self.new_w / self.w)
        coords[:, 1] = coords[:, 1] * (self.new_h / self.h)
        return coords

    def inverse(self) -> T.Transform:
        return CV2ResizeTransform(self.new_h, self.new_w, self.h, self.w, self.interpolation)


def _random_resize(rng, h, w, new_h, new_w, interpolations) -> CV2ResizeTransform:
    interpolation = interpolations[int(rng.integers(len(interpolations)))]
    return CV2ResizeTransform(h, w, new_h, new_w, interpolation)


class UpscaleSmall(T.Augmentation):
    """Upscale a sample with a side <= ``min_size`` by ``ratio * min_size / short side`` (the
    release's ``RandomCrop``: the short side becomes int(1.1 * 512) = 563), with an interpolation
    drawn from ``interpolations`` for the image (nearest for labels)."""

    def __init__(
        self,
        min_size: int = 512,
        ratio: float = 1.1,
        interpolations: Sequence[str] = RELEASE_INTERPOLATIONS,
    ):
        super().__init__()
        if ratio <= 1.0:
            raise ValueError(f"UpscaleSmall: ratio must be > 1 (got {ratio})")
        self.min_size = int(min_size)
        self.ratio = float(ratio)
        self.interpolations = _check_interpolations(interpolations)

    def get_transform(self, image: np.ndarray, rng: np.random.Generator) -> T.Transform:
        h, w = image.shape[:2]
        if h > self.min_size and w > self.min_size:
            return T.NoOpTransform()
        factor = self.ratio * self.min_size / (h if h < w else w)
        new_h, new_w = int(h * factor), int(w * factor)
        return _random_resize(rng, h, w, new_h, new_w, self.interpolations)


class UnknownCenteredCrop(T.Augmentation):
    """The authors' training crop: centred on a random unknown pixel of the interior.

    Candidates are the unknown pixels of a 1/``grid``-resolution copy of the unknown region, at
    least half a crop from every border; with ``min_candidates`` or more, the crop's top-left is
    ``grid`` x (candidate - half a crop), else uniform. A sample without any unknown pixel is
    resized to the crop size (``no_unknown="resize"``, the authors' code) or cropped uniformly
    (``"uniform"``). Sides shorter than the crop are kept whole.
    """

    def __init__(
        self,
        crop_size: Size = 512,
        grid: int = 4,
        min_candidates: int = 10,
        no_unknown: str = "resize",
        interpolations: Sequence[str] = RELEASE_INTERPOLATIONS,
    ):
        super().__init__()
        if no_unknown not in ("resize", "uniform"):
            raise ValueError(f"no_unknown must be 'resize' or 'uniform', got {no_unknown!r}")
        self.crop_size = _pair(crop_size)
        self.grid = int(grid)
        self.min_candidates = int(min_candidates)
        self.no_unknown = no_unknown
        self.interpolations = _check_interpolations(interpolations)

    def get_transform(self, image, unknown, rng) -> T.Transform:
        h, w = image.shape[:2]
        crop_h, crop_w = min(self.crop_size[0], h), min(self.crop_size[1], w)
        if self.no_unknown == "resize" and (unknown is None or not unknown.any()):
            return _random_resize(rng, h, w, *self.crop_size, self.interpolations)
        candidates = self._candidates(unknown, h, w)
        if candidates is not None and len(candidates[0]) >= self.min_candidates:
            index = int(rng.integers(len(candidates[0])))
            top, left = int(candidates[0][index]) * self.grid, int(candidates[1][index]) * self.grid
        else:
            top = int(rng.integers(0, h - crop_h + 1))
            left = int(rng.integers(0, w - crop_w + 1))
        return T.CropTransform(left, top, crop_w, crop_h, orig_w=w, orig_h=h)

    def _candidates(self, unknown, h, w):
        """(rows, cols) of interior unknown pixels on the grid, relative to the interior's start."""
        grid = self.grid
        if unknown is None or h < grid or w < grid:
            return None
        small = cv2.resize(
            unknown.astype(np.uint8), (w // grid, h // grid), interpolation=cv2.INTER_NEAREST
        )
        half_h, half_w = self.crop_size[0] // 2, self.crop_size[1] // 2
        rows = slice(half_h // grid, (h - half_h) // grid)
        cols = slice(half_w // grid, (w - half_w) // grid)
        return np.nonzero(small[rows, cols])


class UnknownContainingCrop(T.Augmentation):
    """Crop among the crops that contain a random unknown pixel (with probability
    ``unknown_bias``; uniform otherwise and without unknown pixels). Sides shorter than the crop
    are kept whole. The project's crop before it followed the authors' recipe; the toy configs
    use it."""

    def __init__(self, crop_size: Size = 512, unknown_bias: float = 1.0):
        super().__init__()
        self.crop_size = _pair(crop_size)
        self.unknown_bias = float(unknown_bias)

    def get_transform(self, image, unknown, rng) -> T.Transform:
        h, w = image.shape[:2]
        crop_h, crop_w = min(self.crop_size[0], h), min(self.crop_size[1], w)
        row = col = None
        if unknown is not None and self.unknown_bias > 0 and rng.uniform() < self.unknown_bias:
            candidates = np.flatnonzero(unknown)
            if candidates.size:
                row, col = divmod(int(candidates[rng.integers(candidates.size)]), w)
        top = _window_start(rng, h, crop_h, row)
        left = _window_start(rng, w, crop_w, col)
        return T.CropTransform(left, top, crop_w, crop_h, orig_w=w, orig_h=h)


def _window_start(rng, size: int, crop: int, must_contain: Optional[int]) -> int:
    """Uniform first index of a ``crop``-long window of ``size`` (containing ``must_contain``)."""
    low, high = 0, size - crop
    if must_contain is not None:
        low, high = max(low, must_contain - crop + 1), min(high, must_contain)
    return int(rng.integers(low, high + 1))


class RandomScale(T.Augmentation):
    """Resize by a factor drawn uniformly from ``scale_range`` (image: ``interpolation``)."""

    def __init__(self, scale_range: Sequence[float] = (0.8, 1.25), interpolation: str = "linear"):
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high: {scale_range}")
        self.scale_range = (float(low), float(high))
        self.interpolation = _check_interpolations([interpolation])[0]

    def get_transform(self, image, rng) -> T.Transform:
        h, w = image.shape[:2]
        scale = float(rng.uniform(*self.scale_range))
        if scale == 1.0:
            return T.NoOpTransform()
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        return CV2ResizeTransform(h, w, new_h, new_w, self.interpolation)


class RandomHFlip(T.Augmentation):
    """Mirror left-right with probability ``prob`` (detectron2's ``RandomFlip`` on ``rng``)."""

    def __init__(self, prob: float = 0.5):
        super().__init__()
        self.prob = float(prob)

    def get_transform(self, image, rng) -> T.Transform:
        if self.prob > 0 and rng.uniform() < self.prob:
            return T.HFlipTransform(image.shape[1])
        return T.NoOpTransform()


class PadToSize(T.Augmentation):
    """Pad at the bottom and right to at least ``size``; padded pixels are invalid (the mapper
    marks them unknown in the trimap and excludes them from every loss)."""

    def __init__(self, size: Size = 512):
        super().__init__()
        self.size = _pair(size)

    def get_transform(self, image) -> T.Transform:
        h, w = image.shape[:2]
        pad_h, pad_w = max(self.size[0] - h, 0), max(self.size[1] - w, 0)
        if pad_h == 0 and pad_w == 0:
            return T.NoOpTransform()
        return T.PadTransform(0, 0, pad_w, pad_h, orig_w=w, orig_h=h, pad_value=0)
