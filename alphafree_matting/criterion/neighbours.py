"""The ``k`` RGB-nearest pixels in each pixel's K x K window, for the DDC / DC / affinity losses.

Neighbours are row-major window offsets ``o`` in ``[0, K*K)`` (centre ``K*K // 2``), sorted by
distance, then offset. Border ``"zeros"`` (the authors'): pixels outside the image or ``valid`` are
black with alpha 0; ``"exclude"``: never selected, leaving ``NO_NEIGHBOUR`` / ``inf`` slots.
"""

import logging
import math
import sys
from typing import Optional

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

BORDER_MODES = ("zeros", "exclude")
"""Accepted values of ``border``."""

NO_NEIGHBOUR = -1
"""Index of an empty neighbour slot (``border="exclude"`` only); its distance is ``inf``."""

_TILE_ELEMENTS = 1 << 21  # candidates (B * rows * W * K*K) per row tile: bounds working memory
_HIGH_WORD = 1 if sys.byteorder == "little" else 0  # int32 word of an int64's high 32 bits


def resolve_neighbour_count(window: int, k: Optional[int]) -> int:
    """Check the odd window side K and ``k`` in ``[1, K*K]``; return ``k`` (None: K, the paper)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer (e.g. 11), got {window!r}")
    if k is None:
        return window
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= window * window:
        raise ValueError(
            f"k must be an integer in [1, window*window] = [1, {window * window}] "
            f"(or None for k = window), got {k!r}"
        )
    return k


def check_border(border: str) -> str:
    """Return ``border`` if it is one of :data:`BORDER_MODES`, else raise a ValueError."""
    if border not in BORDER_MODES:
        raise ValueError(f"border must be one of {BORDER_MODES}, got {border!r}")
    return border


def index_dtype(window: int) -> torch.dtype:
    """Smallest signed integer dtype that holds every window offset of a K x K window."""
    return torch.int16 if window * window <= torch.iinfo(torch.int16).max else torch.int32


def offset_flat_steps(window: int, padded_width: int, device=None) -> torch.Tensor:
    """(K*K,) int64 flat-index step of each window offset ``o`` in a row-major array of width
    ``padded_width``: ``(o // K - K // 2) * padded_width + (o % K - K // 2)``."""
    radius = window // 2
    steps = torch.arange(-radius, radius + 1, device=device, dtype=torch.int64)
    return (steps[:, None] * padded_width + steps[None, :]).reshape(-1)


def _as_batch(tensor: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4 or tensor.shape[1] != channels:
        raise ValueError(
            f"{name} must have shape (B, {channels}, H, W) or ({channels}, H, W), "
            f"got {tuple(tensor.shape)}"
        )
    return tensor


class _RowTiles:
    """Reusable buffers of the row-tiled selection (tiles of at most ``rows`` image rows).

    Planar distances (B, K*K, R, W) are transposed into the high words of int64 keys
    (B, R, W, K*K) whose low words hold the offsets, so ``topk`` runs on the last dim.
    """

    def __init__(self, batch: int, rows: int, width: int, window: int, device):
        offsets = window * window
        self.shape = (batch, offsets, rows, width)
        # `scratch` holds one channel's differences, then the transposed distances.
        self.scratch = torch.empty(batch * offsets * rows * width, device=device)
        self.planar = torch.empty(batch * offsets * rows * width, device=device)
        self.keys = torch.empty(batch * rows * width * offsets, dtype=torch.int64, device=device)
        words = self.keys.view(torch.int32).view(-1, 2)
        words[:, 1 - _HIGH_WORD] = torch.arange(offsets, dtype=torch.int32, device=device).repeat(
            batch * rows * width
        )
        self.key_high = words[:, _HIGH_WORD].view(torch.float32)

    def squared_distances(self, windows, centre, selectable) -> torch.Tensor:
        """(B, R, W, K*K) int64 keys (squared distance bits, offset) of one tile.

        Args:
            windows: (B, 3, K, K, R, W) sliding-window view of the padded image.
            centre: (B, 3, R, W) centre colours.
            selectable: (B, K, K, R, W) bool, False where a candidate is never chosen; or None.
        """
        batch, offsets, _, width = self.shape
        rows = centre.shape[2]
        size = batch * offsets * rows * width
        planar = self.planar[:size].view(batch, offsets, rows, width)
        difference = self.scratch[:size].view(windows[:, 0].shape)
        for channel in range(3):
            torch.sub(windows[:, channel], centre[:, channel, None, None], out=difference)
            flat_difference = difference.view(planar.shape)
            if channel == 0:
                torch.mul(flat_difference, flat_difference, out=planar)
            else:
                planar.addcmul_(flat_difference, flat_difference)
        if selectable is not None:
            planar.masked_fill_(~selectable.reshape(planar.shape), math.inf)
        channel_last = self.scratch[:size].view(batch, rows * width, offsets)
        for image_index in range(batch):  # 2-D transposes take PyTorch's cache-blocked path
            channel_last[image_index].copy_(planar[image_index].view(offsets, -1).t())
        self.key_high[:size].copy_(channel_last.view(-1))
        return self.keys[:size].view(batch, rows, width, offsets)


@torch.no_grad()
def select_neighbours(
    image: torch.Tensor,
    *,
    window: int = 11,
    k: Optional[int] = None,
    border: str = "zeros",
    valid: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most similar pixels in every pixel's K x K window, in O(B*k*H*W) memory.

    Args:
        image: (B, 3, H, W) or (3, H, W) RGB in [0, 1] (any float dtype; distances are float32).
        window: odd window side K.
        k: neighbours per pixel; ``None`` means ``k = window``.
        border: ``"zeros"`` or ``"exclude"`` (see module docstring).
        valid: optional bool (B, 1, H, W) or (1, H, W); pixels outside it count as outside.

    Returns:
        ``(neighbour_index, neighbour_distance)``: window offsets, int16 (int32 for K > 181),
        and float32 colour distances, both (B, k, H, W) -- (k, H, W) for a (3, H, W) input --
        sorted by distance then offset; empty slots hold ``NO_NEIGHBOUR`` / ``inf``.
    """
    k = resolve_neighbour_count(window, k)
    check_border(border)
    single = image.dim() == 3
    image = _as_batch(image, 3, "image")
    batch, _, height, width = image.shape
    if valid is not None:
        valid = _as_batch(valid, 1, "valid")
        if valid.dtype != torch.bool or valid.shape != (batch, 1, height, width):
            raise ValueError(
                f"valid must be a bool tensor of shape {(batch, 1, height, width)}, "
                f"got {valid.dtype} {tuple(valid.shape)}"
            )
    radius = window // 2
    device = image.device

    with torch.autocast(device_type=device.type, enabled=False):
        image = image.float()
        if valid is not None:
            image = image * valid
        # Sliding-window *view* (no copy), planar: (B, 3, K, K, H, W).
        windows = _planar_windows(F.pad(image, (radius,) * 4), window)
        selectable_windows = None
        if border == "exclude":
            inside = valid if valid is not None else image.new_ones((batch, 1, height, width))
            # (B, K, K, H, W): True where the candidate lies in the image and in `valid`.
            padded_inside = F.pad(inside.float(), (radius,) * 4) > 0
            selectable_windows = _planar_windows(padded_inside, window)[:, 0]

        rows = max(1, min(height, _TILE_ELEMENTS // (batch * width * window * window)))
        tiles = _RowTiles(batch, rows, width, window, device)
        neighbour_index = torch.empty(
            (batch, k, height, width), dtype=index_dtype(window), device=device
        )
        neighbour_distance = torch.empty((batch, k, height, width), device=device)
        for top in range(0, height, rows):
            bottom = min(height, top + rows)
            selectable = None
            if selectable_windows is not None:
                selectable = selectable_windows[..., top:bottom, :]
            keys = tiles.squared_distances(
                windows[..., top:bottom, :], image[:, :, top:bottom], selectable
            )
            # Distances are >= 0, so their float bits order like the floats: the int64 keys
            # order by (distance, offset) exactly, with no ties left.
            best_words = torch.topk(keys, k, dim=-1, largest=False).values.view(torch.int32)
            best_squared = best_words[..., _HIGH_WORD::2].view(torch.float32)  # (B, R, W, k)
            best_offset = best_words[..., 1 - _HIGH_WORD :: 2]
            if border == "exclude":
                best_offset = best_offset.masked_fill(torch.isinf(best_squared), NO_NEIGHBOUR)
            neighbour_index[:, :, top:bottom] = best_offset.permute(0, 3, 1, 2)
            neighbour_distance[:, :, top:bottom] = best_squared.sqrt().permute(0, 3, 1, 2)

    if single:
        return neighbour_index[0], neighbour_distance[0]
    return neighbour_index, neighbour_distance


def _planar_windows(padded: torch.Tensor, window: int) -> torch.Tensor:
    """(B, C, H+K-1, W+K-1) -> view (B, C, K, K, H, W): element [..., dy, dx, y, x] is
    ``padded[..., y + dy, x + dx]``."""
    return padded.unfold(2, window, 1).unfold(3, window, 1).permute(0, 1, 4, 5, 2, 3)


def pad_neighbours(
    neighbour_index: torch.Tensor, neighbour_distance: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (..., k, h, w) neighbour maps at the bottom/right to (..., k, height, width) with
    empty slots; offsets are position-independent, so per-crop maps then batch like images."""
    pad_bottom = height - neighbour_index.shape[-2]
    pad_right = width - neighbour_index.shape[-1]
    if pad_bottom < 0 or pad_right < 0:
        raise ValueError(
            f"cannot pad neighbour maps of size {tuple(neighbour_index.shape[-2:])} "
            f"to the smaller size {(height, width)}"
        )
    padding = (0, pad_right, 0, pad_bottom)
    index = F.pad(neighbour_index, padding, value=NO_NEIGHBOUR)
    distance = F.pad(neighbour_distance, padding, value=math.inf)
    return index, distance


class NeighbourSelection:
    """:func:`select_neighbours` in data-loader workers, on each training crop::

        dataloader.train.mapper.precompute = L(NeighbourSelection)(window=11)

    ``TrimapCriterion`` uses the batched maps; ``window``, ``k``, ``border`` (as for
    :func:`select_neighbours`) must equal its own.
    """

    def __init__(self, window: int = 11, k: Optional[int] = None, border: str = "zeros"):
        self.window = window
        self.k = resolve_neighbour_count(window, k)
        self.border = check_border(border)

    def __call__(
        self, image: torch.Tensor, valid: Optional[torch.Tensor] = None
    ) -> dict[str, torch.Tensor]:
        """(3, H, W) RGB in [0, 1] and optional bool (1, H, W) ``valid`` (False on the mapper's
        padding) -> ``{"neighbour_index": (k, H, W), "neighbour_distance": (k, H, W)}``."""
        index, distance = select_neighbours(
            image, window=self.window, k=self.k, border=self.border, valid=valid
        )
        return {"neighbour_index": index, "neighbour_distance": distance}

    def __repr__(self) -> str:
        return f"NeighbourSelection(window={self.window}, k={self.k}, border={self.border!r})"
