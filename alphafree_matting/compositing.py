"""From an alpha matte to foreground colours, RGBA cut-outs and composites (numpy, no torch).

Images are ``(H, W, 3)`` RGB, uint8 or float in [0, 1]; alphas ``(H, W)`` float in [0, 1];
colours ``(3,)`` float RGB in [0, 1]. Cut-outs and composites use the foreground colour ``F``
of :func:`estimate_foreground`, not ``image * alpha``, which drags a halo of the old background
along at soft edges (Germer et al., "Fast Multi-Level Foreground Estimation", ICPR 2020).
"""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import cv2
import numpy as np

from .conventions import alpha_to_uint8

logger = logging.getLogger(__name__)

__all__ = [
    "MatteOutputs",
    "NAMED_COLORS",
    "PYMATTING_REQUIREMENT",
    "composite",
    "estimate_foreground",
    "fit_background",
    "load_foreground_estimator",
    "matte_outputs",
    "parse_color",
    "to_rgba",
    "to_unit_float",
]

PYMATTING_REQUIREMENT = "pymatting>=1.1.16"
"""The pip requirement of :func:`estimate_foreground`."""

NAMED_COLORS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
}
"""Colour names :func:`parse_color` accepts, as 8-bit RGB."""

Color = Union[Sequence[float], np.ndarray]


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float (0..1) pixel data to float32 in [0, 1], any shape."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"expected uint8 or float pixel data, got {image.dtype}")
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def _check_pair(image: np.ndarray, alpha: np.ndarray, what: str) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: image must be (H, W, 3) RGB, got shape {image.shape}")
    if alpha.shape != image.shape[:2]:
        raise ValueError(
            f"{what}: alpha has shape {alpha.shape} but the image is {image.shape[:2]} (H, W); "
            "the alpha must have the image's size"
        )


def load_foreground_estimator() -> Callable:
    """Import pymatting's ``estimate_foreground_ml``, with a clear error when it is missing.

    Deferred because it is slow: numba compiles on the first import (about 1.5 CPU-minutes,
    cached) and later imports take seconds. Tools call this before their loop.
    """
    try:
        from pymatting import estimate_foreground_ml
    except ImportError as error:
        raise ImportError(
            f"foreground estimation needs pymatting: pip install '{PYMATTING_REQUIREMENT}' "
            f"(it is in this package's dependencies). ({error})"
        ) from error
    return estimate_foreground_ml


def estimate_foreground(
    image: np.ndarray, alpha: np.ndarray, *, regularization: float = 1e-5
) -> np.ndarray:
    """(H, W, 3) float32 foreground ``F`` in [0, 1] with ``image ≈ alpha * F + (1 - alpha) * B``.

    Uses ``pymatting.estimate_foreground_ml``; any image size, 1x1 included. Where ``alpha`` is 0,
    ``F`` smoothly extends the nearby foreground. ``regularization`` is pymatting's smoothness.
    """
    image, alpha = to_unit_float(image), to_unit_float(alpha)
    _check_pair(image, alpha, "estimate_foreground")
    if max(alpha.shape) < 2:  # pymatting's level count is log2 of the longer side: 0 divides
        wide_image = np.pad(image, ((0, 0), (0, 1), (0, 0)), mode="edge")
        wide_alpha = np.pad(alpha, ((0, 0), (0, 1)), mode="edge")
        return estimate_foreground(wide_image, wide_alpha, regularization=regularization)[:, :1]
    estimate_foreground_ml = load_foreground_estimator()
    foreground = estimate_foreground_ml(image, alpha, regularization=regularization)
    return np.clip(np.asarray(foreground, dtype=np.float32), 0.0, 1.0)


def composite(foreground: np.ndarray, alpha: np.ndarray, background: Color) -> np.ndarray:
    """``alpha * F + (1 - alpha) * B`` as (H, W, 3) float32 RGB in [0, 1].

    ``alpha`` may also be uint8 0..255; ``background`` is an (H, W, 3) image or a (3,) colour.
    """
    foreground, alpha = to_unit_float(foreground), to_unit_float(alpha)
    _check_pair(foreground, alpha, "composite")
    background = np.asarray(background)
    if background.shape == (3,):
        background = np.clip(background.astype(np.float32), 0.0, 1.0)
    elif background.shape == foreground.shape:
        background = to_unit_float(background)
    else:
        raise ValueError(
            f"composite: background must be a (3,) colour or an image of shape "
            f"{foreground.shape}, got {background.shape} (resize it with fit_background)"
        )
    weight = alpha[..., None]
    return weight * foreground + (1.0 - weight) * background


def to_rgba(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA cut-out; A is ``round(alpha * 255)``, the 8-bit matte that
    :func:`~alphafree_matting.evaluation.visualize.alpha_to_uint8` writes (alpha may be uint8)."""
    foreground, alpha = to_unit_float(foreground), to_unit_float(alpha)
    _check_pair(foreground, alpha, "to_rgba")
    return np.concatenate([alpha_to_uint8(foreground), alpha_to_uint8(alpha)[..., None]], axis=2)


def parse_color(text: str) -> np.ndarray:
    """(3,) float32 RGB in [0, 1] from a name of :data:`NAMED_COLORS`, ``#rrggbb`` / ``rrggbb``
    or ``R,G,B`` in 0..255."""
    value = text.strip().lower()
    if value in NAMED_COLORS:
        rgb = NAMED_COLORS[value]
    elif re.fullmatch(r"#?[0-9a-f]{6}", value):
        digits = value.lstrip("#")
        rgb = tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    elif re.fullmatch(r"\d{1,3},\d{1,3},\d{1,3}", value.replace(" ", "")):
        rgb = tuple(int(part) for part in value.replace(" ", "").split(","))
        if max(rgb) > 255:
            raise ValueError(f"colour {text!r}: R,G,B values must be in 0..255")
    else:
        raise ValueError(
            f"cannot read colour {text!r}: use a name ({', '.join(NAMED_COLORS)}), #rrggbb or "
            "R,G,B with values in 0..255"
        )
    return np.asarray(rgb, dtype=np.float32) / 255.0


def fit_background(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale an (h, w, 3) image (uint8 or float) to cover (height, width), aspect kept, and crop
    the centre; keeps the dtype."""
    source_height, source_width = background.shape[:2]
    scale = max(height / source_height, width / source_width)
    size = (max(width, round(source_width * scale)), max(height, round(source_height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(background, size, interpolation=interpolation)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


@dataclass
class MatteOutputs:
    """What a matting tool writes for one image (all uint8).

    Attributes:
        alpha: (H, W) ``round(alpha * 255)``.
        cutout: (H, W, 4) RGBA: estimated foreground colours and ``alpha``.
        composite: (H, W, 3) RGB, the cut-out over the background; None without one.
    """

    alpha: np.ndarray
    cutout: np.ndarray
    composite: Optional[np.ndarray] = None


def matte_outputs(
    image: np.ndarray, alpha: np.ndarray, background: Optional[Color] = None
) -> MatteOutputs:
    """The 8-bit alpha, RGBA cut-out and (given a background) composite of one prediction.

    Foreground colours are estimated against the 8-bit alpha that is written, and the composite
    is made from the cut-out's 8-bit colours, so it is what an editor makes of the files.

    Args:
        image: (H, W, 3) RGB, uint8 or float in [0, 1].
        alpha: (H, W) float in [0, 1] (or uint8).
        background: (3,) colour in [0, 1] or an (h, w, 3) image (scaled to cover the image).
    """
    alpha_u8 = alpha_to_uint8(to_unit_float(alpha))
    stored = alpha_u8.astype(np.float32) / 255.0
    cutout = to_rgba(estimate_foreground(image, stored), stored)
    result = None
    if background is not None:
        background = np.asarray(background)
        if background.ndim == 3:
            background = fit_background(background, *stored.shape)
        result = alpha_to_uint8(composite(cutout[..., :3], stored, background))
    return MatteOutputs(alpha=alpha_u8, cutout=cutout, composite=result)
