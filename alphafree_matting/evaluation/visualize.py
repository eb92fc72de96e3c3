"""Visual grids of matting results, image | trimap | prediction | GT | error, as uint8 RGB."""

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from alphafree_matting.conventions import alpha_to_uint8

__all__ = ["error_colormap", "join_panels", "make_grid", "with_title"]

TITLE_HEIGHT = 22
"""Height in pixels of the title bar above the panels."""
SEPARATOR_WIDTH = 4
"""Width in pixels of the white gap between panels."""
ERROR_COLORMAP = cv2.COLORMAP_INFERNO
"""OpenCV colour map of the error panel: black = no error, light yellow = |pred - gt| of 1."""
_WHITE = 255
_PLACEHOLDER_GRAY = 96


def error_colormap(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB of ``|pred - gt|`` on a fixed 0..1 scale (:data:`ERROR_COLORMAP`).

    Args:
        pred, gt: (H, W) float alpha in [0, 1].
    """
    error = alpha_to_uint8(np.abs(np.asarray(pred, np.float64) - np.asarray(gt, np.float64)))
    return cv2.cvtColor(cv2.applyColorMap(error, ERROR_COLORMAP), cv2.COLOR_BGR2RGB)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def _placeholder(height: int, width: int, text: str) -> np.ndarray:
    panel = np.full((height, width, 3), _PLACEHOLDER_GRAY, dtype=np.uint8)
    cv2.putText(
        panel,
        text,
        (8, height // 2),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return panel


def _resize(panel: np.ndarray, height: int, width: int, nearest: bool) -> np.ndarray:
    if panel.shape[:2] == (height, width):
        return panel
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(panel, (width, height), interpolation=interpolation)


def with_title(panel: np.ndarray, title: str) -> np.ndarray:
    """(H, W, 3) uint8 panel with a white :data:`TITLE_HEIGHT`-pixel title bar on top."""
    bar = np.full((TITLE_HEIGHT, panel.shape[1], 3), _WHITE, dtype=np.uint8)
    cv2.putText(
        bar,
        title,
        (4, TITLE_HEIGHT - 7),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([bar, panel], axis=0)


def join_panels(panels: Sequence[np.ndarray], axis: int = 1) -> np.ndarray:
    """Concatenate (H, W, 3) uint8 panels along ``axis`` with :data:`SEPARATOR_WIDTH` white gaps."""
    if not panels:
        raise ValueError("join_panels: no panel to join")
    gap_shape = list(panels[0].shape)
    gap_shape[axis] = SEPARATOR_WIDTH
    gap = np.full(gap_shape, _WHITE, dtype=np.uint8)
    joined = [panels[0]]
    for panel in panels[1:]:
        joined += [gap, panel]
    return np.concatenate(joined, axis=axis)


def _check_size(name: str, array: np.ndarray, size: Sequence[int]) -> None:
    if np.shape(array)[:2] != tuple(size):
        raise ValueError(
            f"make_grid: {name} has size {np.shape(array)[:2]} but the image has {tuple(size)}; "
            "every panel must come at the image's resolution."
        )


def make_grid(
    image: np.ndarray,
    trimap: Optional[np.ndarray],
    pred: np.ndarray,
    gt: Optional[np.ndarray] = None,
    max_height: int = 320,
) -> np.ndarray:
    """One row of titled panels: image | trimap | prediction | GT | error.

    Args:
        image: (H, W, 3) uint8 RGB.
        trimap: (H, W) uint8 trimap as stored (0 / 128 / 255), or None for a placeholder.
        pred: (H, W) float predicted alpha in [0, 1].
        gt: (H, W) float GT alpha in [0, 1], or None for a placeholder and no error panel.
        max_height: panels taller than this are scaled down to it (aspect ratio kept).

    Returns:
        uint8 RGB, ``TITLE_HEIGHT + min(H, max_height)`` pixels high.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"make_grid: image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}."
        )
    size = image.shape[:2]
    scale = min(1.0, max_height / size[0])
    height, width = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))

    def panel(content: np.ndarray, title: str, nearest: bool = False) -> np.ndarray:
        return with_title(_resize(content, height, width, nearest), title)

    _check_size("pred", pred, size)
    panels = [panel(image, "image")]
    if trimap is None:
        panels.append(panel(_placeholder(height, width, "no trimap"), "trimap"))
    else:
        _check_size("trimap", trimap, size)
        trimap_rgb = _gray_to_rgb(np.asarray(trimap, dtype=np.uint8))
        panels.append(panel(trimap_rgb, "trimap", nearest=True))
    panels.append(panel(_gray_to_rgb(alpha_to_uint8(pred)), "prediction"))
    if gt is None:
        panels.append(panel(_placeholder(height, width, "no GT"), "GT"))
    else:
        _check_size("gt", gt, size)
        panels.append(panel(_gray_to_rgb(alpha_to_uint8(gt)), "GT"))
        panels.append(panel(error_colormap(pred, gt), "|pred - GT|, 0..1"))

    return join_panels(panels)
