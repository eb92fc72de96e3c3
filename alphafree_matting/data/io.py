"""Reading and writing matting files, with errors that name the file and the fix.

Readers return images ``(H, W, 3)`` uint8 RGB, alphas ``(H, W)`` float32 in [0, 1], trimaps
``(H, W)`` uint8 as stored (0 / 128 / 255) and masks ``(H, W)`` bool. A label saved as colour is
accepted if its channels are equal; an RGBA cut-out's label is its A channel. Truncated JPEG / PNG
files are rejected before decoding (libjpeg would fill the missing rows with gray).
"""

import functools
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
    "check_complete",
    "write_png",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
"""File extensions (lower case) listed as images (of an animated GIF, the first frame)."""
LABEL_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
"""File extensions (lower case) listed as alpha / trimap / mask labels."""

_CHANNEL_TOLERANCE = 1.0 / 32.0  # channel spread (JPEG noise) of a gray label saved as colour


_EXIF_ORIENTATION = 0x0112
_EXIF_TRANSPOSING = (5, 6, 7, 8)  # orientations that swap width and height


class MattingDataError(ValueError):
    """A data file is missing, unreadable or inconsistent; the message names the file and fix."""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA


def _jpeg_reaches_end(data: np.ndarray) -> bool:
    """Whether JPEG bytes reach the main image's end-of-image marker (FF D9).

    Segments are skipped by length (so an EXIF thumbnail's markers are ignored), a scan runs to
    the next marker not FF 00 / FF D0..D7, and stray bytes between segments are skipped (libjpeg).
    """
    ff = np.flatnonzero(data[:-1] == 0xFF)
    follow = data[ff + 1]
    segment = (follow != 0x00) & (follow != 0xFF) & ((follow < 0xD0) | (follow > 0xD7))
    markers = ff[segment]  # where a segment can start, sorted
    position, size = len(_JPEG_SOI), len(data)
    while position + 1 < size:
        if data[position] != 0xFF or data[position + 1] in (0x00, 0xFF):
            following = int(np.searchsorted(markers, position + 1))
            if following == len(markers):
                return False
            position = int(markers[following])
            continue
        code = int(data[position + 1])
        if code == _JPEG_EOI:
            return True
        if 0xD0 <= code <= 0xD8 or code == 0x01:  # markers without a length field
            position += 2
            continue
        if position + 3 >= size:
            return False
        end = position + 2 + (int(data[position + 2]) << 8 | int(data[position + 3]))
        if code == _JPEG_SOS:  # entropy-coded data up to the next marker
            following = int(np.searchsorted(markers, end))
            if following == len(markers):
                return False
            end = int(markers[following])
        position = end
    return False


def _png_reaches_end(data: bytes) -> bool:
    """Whether PNG bytes reach the IEND chunk (chunks: length, type, data, CRC)."""
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        if data[position + 4 : position + 8] == b"IEND":
            return True
        position += 12 + int.from_bytes(data[position : position + 4], "big")
    return False


def _check_complete_bytes(data: bytes, path: str, what: str) -> None:
    if data.startswith(_JPEG_SOI):
        complete, end = _jpeg_reaches_end(np.frombuffer(data, np.uint8)), "end-of-image marker"
    elif data.startswith(_PNG_SIGNATURE):
        complete, end = _png_reaches_end(data), "IEND chunk"
    else:
        return  # other formats: their decoders fail on truncated files
    if not complete:
        raise MattingDataError(
            f"cannot decode {what} file {path}: it is truncated (the data stops before its {end}"
            "; a partial download or copy). Re-download or re-export it, or remove it (and its "
            "labels) from the dataset."
        )


def check_complete(path: str, what: str = "image") -> None:
    """Raise :class:`MattingDataError` if a JPEG or PNG file is truncated (reads the whole file);
    ``what`` ("image", "trimap", ...) names it in the message."""
    if not os.path.isfile(path):
        raise MattingDataError(f"{what} file not found: {path}. Check the dataset folder layout.")
    with open(path, "rb") as f:
        _check_complete_bytes(f.read(), path, what)


def _read_raw(path: str, what: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    if not os.path.isfile(path):
        raise MattingDataError(f"{what} file not found: {path}. Check the dataset folder layout.")
    with open(path, "rb") as f:
        encoded = f.read()
    _check_complete_bytes(encoded, path, what)
    # imdecode applies the EXIF orientation in colour mode, as imread does.
    data = cv2.imdecode(np.frombuffer(encoded, np.uint8), flags) if encoded else None
    if data is None:  # the file cannot be decoded
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
    """Read an image as ``(H, W, 3)`` uint8 RGB: EXIF orientation applied, gray replicated, an
    alpha channel dropped (not composited), 16 bits reduced to 8 (OpenCV's colour mode); of an
    animated GIF, the first frame (with a warning)."""
    image = cv2.cvtColor(_read_raw(path, "image", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if path.lower().endswith(".gif"):
        _warn_if_animated(path)
    return image


@functools.lru_cache(maxsize=1024)
def _warn_if_animated(path: str) -> None:
    """Warn (once per file and process) that only the first frame of an animated GIF is used."""
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
    if frames > 1:
        logger.warning(
            "%s is an animated GIF of %d frames: its first frame is used. To use another, save "
            "that frame as a PNG.",
            path,
            frames,
        )


def read_alpha(path: str) -> np.ndarray:
    """Read an alpha matte as ``(H, W)`` float32 in [0, 1] (8-bit, 16-bit or float files)."""
    return _to_unit_range(_single_channel(_read_raw(path, "alpha"), path, "alpha"), path, "alpha")


def read_trimap(path: str) -> np.ndarray:
    """Read a trimap as ``(H, W)`` uint8, values as stored; 16-bit files are scaled to 8 bits
    unless every value fits in 8 bits (0 / 128 / 255 or class indices in a 16-bit container)."""
    data = _single_channel(_read_raw(path, "trimap"), path, "trimap")
    if data.dtype == np.uint8:
        return data
    if np.issubdtype(data.dtype, np.integer) and data.max(initial=0) <= 255:
        return data.astype(np.uint8)
    return np.round(_to_unit_range(data, path, "trimap") * 255.0).astype(np.uint8)


def read_mask(path: str) -> np.ndarray:
    """Read a mask as ``(H, W)`` bool (True = foreground): 0/1 integer files as they are, others
    foreground from half the value range (0/255, 16-bit, soft masks)."""
    data = _single_channel(_read_raw(path, "mask"), path, "mask")
    if np.issubdtype(data.dtype, np.integer) and data.max(initial=0) <= 1:
        return data.astype(bool)
    return _to_unit_range(data, path, "mask") >= 0.5


def read_image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header, as :func:`read_image` returns it
    (EXIF orientation applied); raises :class:`MattingDataError` if the header is unreadable."""
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
