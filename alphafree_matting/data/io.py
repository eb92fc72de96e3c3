"""Reading and writing matting files, with errors that name the file and the fix.

Every reader returns numpy arrays in the package's conventions:

* images: ``(H, W, 3)`` uint8 RGB,
* alphas: ``(H, W)`` float32 in [0, 1],
* trimaps: ``(H, W)`` uint8 as stored (0 / 128 / 255; see :mod:`alphafree_matting.conventions`),
* binary masks: ``(H, W)`` bool.

Single-channel label files (alphas, trimaps, masks) saved with 3 or 4 channels are accepted when
the colour channels are equal (a gray image saved as colour); an RGBA file whose A channel is
not uniformly opaque is a cut-out and its A channel is the label. Anything else is rejected.
"""

import logging
import os
from typing import Optional

import cv2
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTENSIONS",
    "LABEL_EXTENSIONS",
    "MattingDataError",
    "read_image",
    "read_alpha",
    "read_trimap",
    "read_mask",
    "read_image_size",
    "write_png",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""File extensions (lower case) listed as images."""
LABEL_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
"""File extensions (lower case) listed as alpha / trimap / mask labels."""

_CHANNEL_TOLERANCE = 1.0 / 32.0
"""Largest difference between the colour channels of a gray label saved as colour (JPEG noise),
as a fraction of the value range."""


_EXIF_ORIENTATION = 0x0112
_EXIF_TRANSPOSING = (5, 6, 7, 8)  # orientations that swap width and height


class MattingDataError(ValueError):
    """A data file is missing, unreadable or inconsistent; the message names the file and fix."""


def _read_raw(path: str, what: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    if not os.path.isfile(path):
        raise MattingDataError(f"{what} file not found: {path}. Check the dataset folder layout.")
    data = cv2.imread(path, flags)  # None when the file cannot be decoded
    if data is None:
        raise MattingDataError(
            f"cannot decode {what} file {path}: the file is corrupt or not an image. "
            "Re-export or remove it (and its label) from the dataset."
        )
    return data


def _to_unit_range(data: np.ndarray, path: str, what: str) -> np.ndarray:
    """Integer or float pixel data to float32 in [0, 1]."""
    if data.dtype == np.uint8:
        return data.astype(np.float32) / 255.0
    if data.dtype == np.uint16:
        return data.astype(np.float32) / 65535.0
    if np.issubdtype(data.dtype, np.floating):
        return np.clip(data.astype(np.float32), 0.0, 1.0)
    raise MattingDataError(f"{what} file {path} has unsupported pixel type {data.dtype}.")


def _value_range(data: np.ndarray) -> float:
    return float(np.iinfo(data.dtype).max) if np.issubdtype(data.dtype, np.integer) else 1.0


def _single_channel(data: np.ndarray, path: str, what: str) -> np.ndarray:
    """``(H, W)`` label from ``IMREAD_UNCHANGED`` data of shape (H, W), (H, W, 3) or (H, W, 4)."""
    if data.ndim == 2:
        return data
    if data.shape[2] == 4:
        opacity = data[..., 3]
        if opacity.min() != opacity.max():  # an RGBA cut-out: its transparency is the label
            return opacity
    colour = data[..., :3] if data.shape[2] >= 3 else data[..., :1]
    spread = colour.max(axis=2) - colour.min(axis=2)  # never negative, so no unsigned wrap-around
    if float(spread.max(initial=0)) > _CHANNEL_TOLERANCE * _value_range(data):
        raise MattingDataError(
            f"{what} file {path} is a colour image (its channels differ), not a single-channel "
            f"{what}. Save the {what} as a single-channel (grayscale) PNG."
        )
    return colour[..., 0]


def read_image(path: str) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB.

    OpenCV's colour mode applies the EXIF orientation, replicates grayscale to three channels,
    drops an alpha channel (the colours are kept, not composited) and reduces 16-bit images to
    8 bits.
    """
    return cv2.cvtColor(_read_raw(path, "image", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_alpha(path: str) -> np.ndarray:
    """Read an alpha matte as ``(H, W)`` float32 in [0, 1] (8-bit, 16-bit or float files)."""
    return _to_unit_range(_single_channel(_read_raw(path, "alpha"), path, "alpha"), path, "alpha")


def read_trimap(path: str) -> np.ndarray:
    """Read a trimap as ``(H, W)`` uint8, values as stored (16-bit trimaps are scaled to 8 bits)."""
    data = _single_channel(_read_raw(path, "trimap"), path, "trimap")
    if data.dtype != np.uint8:
        data = np.round(_to_unit_range(data, path, "trimap") * 255.0).astype(np.uint8)
    return data


def read_mask(path: str) -> np.ndarray:
    """Read a binary segmentation mask as ``(H, W)`` bool (True = foreground).

    Integer files whose largest value is 1 are 0/1 masks; otherwise a pixel is foreground
    when its value is at least half the value range (0/255 masks, 16-bit masks, soft masks).
    """
    data = _single_channel(_read_raw(path, "mask"), path, "mask")
    if np.issubdtype(data.dtype, np.integer) and data.max(initial=0) <= 1:
        return data.astype(bool)
    return _to_unit_range(data, path, "mask") >= 0.5


def read_image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header, without decoding the pixels.

    The size is the one :func:`read_image` returns: an EXIF orientation that swaps the axes
    is applied (OpenCV applies it when decoding).

    Raises:
        MattingDataError: the file is missing or its header cannot be read.
    """
    if not os.path.isfile(path):
        raise MattingDataError(f"file not found: {path}. Check the dataset folder layout.")
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError) as error:
        raise MattingDataError(
            f"cannot read the header of {path} ({error}): the file is corrupt or not an image. "
            "Re-export or remove it (and its labels) from the dataset."
        ) from error
    if orientation in _EXIF_TRANSPOSING:
        height, width = width, height
    return height, width


def write_png(path: str, data: np.ndarray, compression: Optional[int] = None) -> None:
    """Write ``(H, W)`` or ``(H, W, 3|4)`` uint8 data (RGB/RGBA order) as PNG, creating folders.

    ``compression`` is the zlib level 0..9 (OpenCV's default when None; 9 for committed figures).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if data.ndim == 3:
        code = cv2.COLOR_RGB2BGR if data.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        data = cv2.cvtColor(data, code)
    params = [] if compression is None else [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]
    if not cv2.imwrite(path, data, params):
        raise OSError(f"could not write {path}: check that the folder is writable.")
