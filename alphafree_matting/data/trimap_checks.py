"""Checks of stored trimap values, one ``np.bincount`` per file (cheap enough for the mapper).

A trimap file stores 0 (background), 128 (unknown) and 255 (foreground); the training target
maps any value by the rule ``v < 85`` background, ``v >= 170`` foreground, else unknown
(:mod:`alphafree_matting.conventions`). The rule absorbs JPEG noise, but it also turns labels
that are not 0 / 128 / 255 trimaps into plausible-looking targets. These checks catch them:

* values all in {0, 1} or {0, 1, 2} (class indices from a label tool): every pixel would be
  background. An error, unless the stored values are declared with ``trimap_values``.
* more than :data:`OFF_LEVEL_TOLERANCE` of the pixels farther than :data:`OFF_LEVEL_DISTANCE`
  from 0, 128 and 255 (an alpha matte, a label resized with smooth interpolation): an error.
* fewer off-level pixels (JPEG noise): mapped by the rule; the mapper warns.
"""

from collections.abc import Sequence
from typing import Optional

import numpy as np

from ..conventions import (
    TRIMAP_BACKGROUND,
    TRIMAP_BACKGROUND_BELOW,
    TRIMAP_FOREGROUND,
    TRIMAP_FOREGROUND_FROM,
    TRIMAP_UNKNOWN,
)
from .io import MattingDataError

__all__ = [
    "OFF_LEVEL_DISTANCE",
    "OFF_LEVEL_TOLERANCE",
    "check_trimap_values",
    "declared_trimap_lut",
    "remap_declared_values",
    "single_region",
    "value_counts",
]

STORED_LEVELS = (TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND)

OFF_LEVEL_DISTANCE = 32
"""A stored value farther than this from 0, 128 and 255 is off-level. JPEG noise stays closer:
27 real trimaps saved as JPEG at quality 30 have at most 1.2 % of their pixels beyond it."""
OFF_LEVEL_TOLERANCE = 0.05
"""Largest fraction of off-level pixels a trimap may have (more is an error)."""

_LEVEL_DISTANCE = np.abs(np.arange(256)[:, None] - np.array(STORED_LEVELS)[None]).min(axis=1)
_OFF_LEVEL = _LEVEL_DISTANCE > OFF_LEVEL_DISTANCE  # (256,) bool
_EXACT_LEVEL = _LEVEL_DISTANCE == 0  # (256,) bool

_FIX = (
    "Save trimaps as single-channel PNGs with 0 / 128 / 255 (resize them with nearest-neighbour "
    "interpolation), or make them from alpha mattes with tools/make_trimap_labels.py."
)


def value_counts(trimap: np.ndarray) -> np.ndarray:
    """``(256,)`` int64 count of each stored value of a uint8 trimap."""
    return np.bincount(trimap.ravel(), minlength=256)


def _values(counts: np.ndarray, where: Optional[np.ndarray] = None, limit: int = 8) -> list[int]:
    """The most frequent stored values (optionally among ``where``), most frequent first."""
    counts = counts if where is None else np.where(where, counts, 0)
    order = np.argsort(-counts, kind="stable")
    return [int(value) for value in order[:limit] if counts[value] > 0]


def check_trimap_values(counts: np.ndarray, path: str) -> bool:
    """Check the stored values of a 0 / 128 / 255 trimap from its :func:`value_counts`.

    Returns:
        True when some values are not exactly 0, 128 or 255 but within the tolerance (noise the
        target rule maps; the caller warns), False when all are exact.

    Raises:
        MattingDataError: class indices ({0, 1} / {0, 1, 2}) or too many off-level values.
    """
    if counts[3:].sum() == 0 and counts[1:3].sum() > 0:
        present = sorted(_values(counts))
        kind = "class indices or a 0/1 mask" if max(present) == 1 else "class indices"
        raise MattingDataError(
            f"trimap {path} holds only the values {present}: it looks like {kind}, and every "
            f"pixel would read as background (v < {TRIMAP_BACKGROUND_BELOW}). Re-export it as "
            "0 / 128 / 255, or declare the stored values with trimap_values=(background, "
            "unknown, foreground) on the mapper, e.g. "
            "dataloader.train.mapper.trimap_values=[0,1,2] (binary masks: label='mask')."
        )
    off_level = int(counts[_OFF_LEVEL].sum())
    fraction = off_level / max(int(counts.sum()), 1)
    if fraction > OFF_LEVEL_TOLERANCE:
        raise MattingDataError(
            f"trimap {path}: {fraction:.1%} of its pixels have values far from 0 / 128 / 255 "
            f"(most frequent: {_values(counts, _OFF_LEVEL, 5)}; JPEG noise stays within "
            f"{OFF_LEVEL_DISTANCE} of them on all but {OFF_LEVEL_TOLERANCE:.0%} of the pixels): "
            f"it is not a trimap (an alpha matte? a label resized with smooth interpolation?). "
            + _FIX
        )
    return bool(counts[~_EXACT_LEVEL].any())


def declared_trimap_lut(trimap_values: Sequence[int]) -> np.ndarray:
    """``(256,)`` int16 table from declared stored values (background, unknown, foreground) to
    0 / 128 / 255; -1 for values that are not declared."""
    values = [int(value) for value in trimap_values]
    if len(values) != 3 or len(set(values)) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(
            "trimap_values must be three different stored values in 0..255, (background, "
            f"unknown, foreground), e.g. (0, 1, 2); got {tuple(trimap_values)}"
        )
    lut = np.full(256, -1, dtype=np.int16)
    lut[values] = STORED_LEVELS
    return lut


def remap_declared_values(
    trimap: np.ndarray, counts: np.ndarray, lut: np.ndarray, path: str
) -> np.ndarray:
    """Map a trimap stored with declared values to 0 / 128 / 255 (``lut`` from
    :func:`declared_trimap_lut`); any other stored value is an error naming the file."""
    undeclared = (lut < 0) & (counts > 0)
    if undeclared.any():
        declared = [int(value) for value in np.flatnonzero(lut >= 0)[np.argsort(lut[lut >= 0])]]
        raise MattingDataError(
            f"trimap {path} has values {_values(counts, undeclared)} besides the declared "
            f"trimap_values={tuple(declared)} (background, unknown, foreground). Re-export it, "
            "or fix trimap_values."
        )
    return lut[trimap].astype(np.uint8)


def single_region(counts: np.ndarray) -> Optional[str]:
    """``"unknown"``, ``"foreground"`` or ``"background"`` when every pixel of a trimap (its
    :func:`value_counts`, 0 / 128 / 255 convention) is in that one region, else None."""
    regions = {
        "background": counts[:TRIMAP_BACKGROUND_BELOW].sum(),
        "unknown": counts[TRIMAP_BACKGROUND_BELOW:TRIMAP_FOREGROUND_FROM].sum(),
        "foreground": counts[TRIMAP_FOREGROUND_FROM:].sum(),
    }
    filled = [name for name, count in regions.items() if count > 0]
    return filled[0] if len(filled) == 1 else None
