"""Exact evaluation of conv decoders in row tiles, for inference in bounded memory.

A :class:`RowMap` is a (B, C, H, W) map whose rows [start, stop) are computed on demand, exactly
as the whole map holds them: each map asks its sources for the rows its output sees (the halo),
so zero padding is applied only at the true border. A :class:`StoredMap` is computed once and
kept (coarse maps every tile reads). Tile heights follow a :class:`TileBudget`.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = [
    "TileBudget",
    "split_range",
    "conv_input_rows",
    "upsample_input_rows",
    "RowMap",
    "TensorRows",
    "ConvRows",
    "UpsampledRows",
    "ConcatRows",
    "StoredMap",
    "evaluate_rows",
]

ESTIMATE_ELEMENT_SIZE = 4
"""Bytes per element assumed when sizing tiles (float32; conservative under autocast)."""


@dataclass
class TileBudget:
    """Working memory of one tile of bounded inference, and progress over the tiles.

    Attributes:
        memory_bytes: target size of one tile's intermediates (not of the input, stored maps
            or output, which are kept whole).
        progress: ``progress(done, total)`` after every tile; ``total``: tiles announced so far.
    """

    memory_bytes: int
    progress: Optional[Callable[[int, int], None]] = None
    done: int = 0
    total: int = 0

    def announce(self, tiles: int) -> None:
        self.total += tiles

    def tile_done(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))


# --- row arithmetic ------------------------------------------------------------------------------
def split_range(length: int, max_size: int) -> list[tuple[int, int]]:
    """Split [0, length) into the fewest near-equal (start, stop) pieces of at most max_size."""
    count = max(1, math.ceil(length / max(1, max_size)))
    bounds = [round(i * length / count) for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def conv_input_rows(
    start: int, stop: int, kernel: int, stride: int, padding: int, input_height: int
) -> tuple[int, int, int]:
    """(first, last, offset): convolving input rows [first, last) (same padding) gives output
    rows [start, stop) at [offset, offset + stop - start); ``first`` is a multiple of ``stride``,
    so the crop's output grid is the map's."""
    first = max(start * stride - padding, 0) // stride * stride
    last = min((stop - 1) * stride - padding + kernel, input_height)
    return first, last, start - first // stride


def upsample_input_rows(start: int, stop: int, input_height: int) -> tuple[int, int, int]:
    """(first, last, offset) of output rows [start, stop) of a 2x bilinear (align_corners=False)
    upsampling, as :func:`conv_input_rows`; row y reads input floor(y / 2 - 1/4) and the next."""
    first = max((start - 1) // 2, 0)
    last = min(stop // 2 + 1, input_height)
    return first, last, start - 2 * first


# --- maps ----------------------------------------------------------------------------------------
class RowMap:
    """A (batch, channels, height, width) map computed by rows from the ``sources`` it reads."""

    def __init__(self, batch: int, channels: int, height: int, width: int, sources=()):
        self.batch, self.channels, self.height, self.width = batch, channels, height, width
        self.sources: tuple[RowMap, ...] = tuple(sources)

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop): (batch, channels, stop - start, width)."""
        raise NotImplementedError

    def row_bytes(self) -> float:
        """Estimated bytes of the intermediates that computing one row creates (sources too)."""
        raise NotImplementedError

    def _bytes(self, channels: int) -> float:
        return self.batch * channels * self.width * ESTIMATE_ELEMENT_SIZE


class TensorRows(RowMap):
    """Rows of a tensor that is already whole: (B, C, H, W)."""

    def __init__(self, tensor: torch.Tensor):
        super().__init__(*tensor.shape)
        self.tensor = tensor

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return self.tensor[:, :, start:stop]

    def row_bytes(self) -> float:
        return 0.0


class ConvRows(RowMap):
    """``module(source)`` for one k x k, stride s, zero-padded conv + pointwise layers (eval mode).

    Args:
        channels: its output channels.
        work_channels: channels of the intermediates held at once, for tile sizing (default
            2 x channels: conv + BN outputs).
        kernel, stride, padding: of its convolution.
    """

    def __init__(
        self,
        module: Callable[[torch.Tensor], torch.Tensor],
        source: RowMap,
        channels: int,
        work_channels: Optional[int] = None,
        kernel: int = 3,
        stride: int = 1,
        padding: int = 1,
    ):
        height = (source.height + 2 * padding - kernel) // stride + 1
        width = (source.width + 2 * padding - kernel) // stride + 1
        super().__init__(source.batch, channels, height, width, (source,))
        self.module, self.source = module, source
        self.work_channels = 2 * channels if work_channels is None else work_channels
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def rows(self, start: int, stop: int) -> torch.Tensor:
        first, last, offset = conv_input_rows(
            start, stop, self.kernel, self.stride, self.padding, self.source.height
        )
        output = self.module(self.source.rows(first, last))
        return output[:, :, offset : offset + stop - start]

    def row_bytes(self) -> float:
        return self._bytes(self.work_channels) + self.stride * self.source.row_bytes()


class UpsampledRows(RowMap):
    """2x bilinear upsampling (align_corners=False) of a map, as ``F.interpolate`` computes it."""

    def __init__(self, source: RowMap):
        super().__init__(
            source.batch, source.channels, 2 * source.height, 2 * source.width, (source,)
        )
        self.source = source

    def rows(self, start: int, stop: int) -> torch.Tensor:
        first, last, offset = upsample_input_rows(start, stop, self.source.height)
        output = F.interpolate(
            self.source.rows(first, last), scale_factor=2, mode="bilinear", align_corners=False
        )
        return output[:, :, offset : offset + stop - start]

    def row_bytes(self) -> float:
        return self._bytes(self.channels) + self.source.row_bytes() / 2


class ConcatRows(RowMap):
    """Channel concatenation of maps of one height and width, in the order given."""

    def __init__(self, sources: Sequence[RowMap]):
        first = sources[0]
        if any(
            (s.height, s.width, s.batch) != (first.height, first.width, first.batch)
            for s in sources
        ):
            sizes = [(s.batch, s.height, s.width) for s in sources]
            raise ValueError(f"ConcatRows needs maps of one batch and size, got {sizes}")
        channels = sum(source.channels for source in sources)
        super().__init__(first.batch, channels, first.height, first.width, sources)

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return torch.cat([source.rows(start, stop) for source in self.sources], dim=1)

    def row_bytes(self) -> float:
        return self._bytes(self.channels) + sum(source.row_bytes() for source in self.sources)


class StoredMap(RowMap):
    """A map computed whole on its first read, in tiles of
    ``budget.memory_bytes / source.row_bytes()`` rows (each reported to ``budget``), and kept."""

    def __init__(self, source: RowMap, budget: TileBudget):
        super().__init__(source.batch, source.channels, source.height, source.width, (source,))
        self.source, self.budget = source, budget
        self.tensor: Optional[torch.Tensor] = None

    def tiles(self) -> list[tuple[int, int]]:
        """(start, stop) of the tiles it is computed in."""
        tile_rows = int(self.budget.memory_bytes // max(self.source.row_bytes(), 1.0))
        return split_range(self.height, tile_rows)

    def compute(self) -> torch.Tensor:
        """The whole map (B, C, H, W), computed once."""
        if self.tensor is None:
            for start, stop in self.tiles():
                tile = self.source.rows(start, stop)
                if self.tensor is None:
                    shape = (self.batch, self.channels, self.height, self.width)
                    self.tensor = tile.new_empty(shape)
                self.tensor[:, :, start:stop] = tile
                del tile
                self.budget.tile_done()
        return self.tensor

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return self.compute()[:, :, start:stop]

    def row_bytes(self) -> float:
        return 0.0


def _stored_maps(output: RowMap) -> list[StoredMap]:
    found: dict[int, StoredMap] = {}
    pending = [output]
    while pending:
        current = pending.pop()
        if isinstance(current, StoredMap) and id(current) not in found:
            found[id(current)] = current
        pending.extend(current.sources)
    return list(found.values())


def evaluate_rows(output: RowMap, budget: TileBudget) -> torch.Tensor:
    """(B, C, H, W) ``output``, tile by tile within ``budget``, to which it announces all tiles."""
    final = output if isinstance(output, StoredMap) else StoredMap(output, budget)
    budget.announce(sum(len(stored.tiles()) for stored in _stored_maps(final)))
    return final.compute()
