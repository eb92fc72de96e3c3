"""Attention with decomposed relative positions, whole or in query chunks of bounded memory.

The plain path builds the (B, N, N) additive bias of decomposed relative positions (MViTv2 /
ViTDet) at once. :func:`chunked_attention` computes the same attention for chunks of queries (a
band of rows of the query grid, or part of one row), each with only its own slice of the bias,
through ``F.scaled_dot_product_attention`` (fused kernels on CUDA and CPU), so its memory is
bounded by a :class:`~alphafree_matting.modeling.tiling.TileBudget` instead of growing as N^2.
"""

from typing import Optional

import torch
import torch.nn.functional as F

from .tiling import TileBudget, split_range

__all__ = ["rel_pos_bias", "grid_chunks", "attention_chunks", "chunked_attention"]

BYTES_PER_SCORE = 8
"""Working bytes per (query, key) pair of a chunk: its float32 bias entry and as much again for
the attention kernel (a copy of the mask or scores); for chunk sizing."""


def rel_pos_bias(
    query_grid: torch.Tensor, table_h: torch.Tensor, table_w: torch.Tensor
) -> torch.Tensor:
    """Additive attention bias of decomposed relative positions.

    Args:
        query_grid: (B, q_h, q_w, C) unscaled queries on their grid (B includes the heads).
        table_h: (q_h, k_h, C) relative-position embeddings of every (query row, key row).
        table_w: (q_w, k_w, C) same along the width.

    Returns:
        bias (B, q_h * q_w, k_h * k_w).
    """
    batch, q_h, q_w, _ = query_grid.shape
    bias_h = torch.einsum("bhwc,hkc->bhwk", query_grid, table_h)  # (B, q_h, q_w, k_h)
    bias_w = torch.einsum("bhwc,wkc->bhwk", query_grid, table_w)  # (B, q_h, q_w, k_w)
    bias = bias_h[:, :, :, :, None] + bias_w[:, :, :, None, :]  # (B, q_h, q_w, k_h, k_w)
    return bias.reshape(batch, q_h * q_w, table_h.shape[1] * table_w.shape[1])


def grid_chunks(grid_hw: tuple[int, int], max_queries: int) -> list[tuple[slice, slice]]:
    """Split a (q_h, q_w) query grid into chunks of at most ``max_queries`` (at least one query):
    bands of whole rows, or pieces of one row when a row holds more.

    Returns:
        (row slice, column slice) per chunk, in row-major order.
    """
    q_h, q_w = grid_hw
    if max_queries >= q_w:
        return [(slice(a, b), slice(0, q_w)) for a, b in split_range(q_h, max_queries // q_w)]
    pieces = split_range(q_w, max_queries)
    return [(slice(row, row + 1), slice(a, b)) for row in range(q_h) for (a, b) in pieces]


def attention_chunks(
    items: int, grid_hw: tuple[int, int], keys: int, budget_bytes: int
) -> list[tuple[slice, slice, slice]]:
    """Plan the chunks of an attention of ``items`` query grids (batch x heads) over ``keys``.

    A chunk holds whole grids of several items when one grid fits the budget (windowed attention),
    else one band of queries of every item (global attention).

    Returns:
        (item slice, row slice, column slice) per chunk.
    """
    q_h, q_w = grid_hw
    queries = max(1, budget_bytes // (keys * BYTES_PER_SCORE))  # (item, query) pairs per chunk
    if queries >= q_h * q_w:
        group = queries // (q_h * q_w)
        whole = (slice(0, q_h), slice(0, q_w))
        return [(slice(a, b), *whole) for a, b in split_range(items, group)]
    every_item = slice(0, items)
    return [(every_item, rows, cols) for rows, cols in grid_chunks(grid_hw, queries // items)]


def chunked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    grid_hw: tuple[int, int],
    tables: Optional[tuple[torch.Tensor, torch.Tensor]],
    budget: TileBudget,
) -> torch.Tensor:
    """Scaled dot-product attention of every query over all keys, in chunks of queries.

    Equals ``F.scaled_dot_product_attention(query, key, value, attn_mask=bias)`` with the whole
    bias ``rel_pos_bias(query grid, *tables)`` (no bias when ``tables`` is None).

    Args:
        query: (B, q_h * q_w, C) queries of a (q_h, q_w) grid, row-major (B includes the heads).
        key, value: (B, N, C) and (B, N, C_v).
        grid_hw: (q_h, q_w).
        tables: (table_h, table_w) of :func:`rel_pos_bias` for the whole grid, or None.
        budget: sizes the chunks; hears of each.

    Returns:
        (B, q_h * q_w, C_v).
    """
    items, _, channels = query.shape
    q_h, q_w = grid_hw
    query_grid = query.view(items, q_h, q_w, channels)
    attended = None
    for batch, rows, cols in attention_chunks(items, grid_hw, key.shape[1], budget.memory_bytes):
        chunk = query_grid[batch, rows, cols]  # (b, r, c, C)
        bias = None
        if tables is not None:
            bias = rel_pos_bias(chunk, tables[0][rows], tables[1][cols])
        chunk_out = F.scaled_dot_product_attention(
            chunk.reshape(chunk.shape[0], -1, channels), key[batch], value[batch], attn_mask=bias
        )
        if attended is None:  # the kernel's dtype (autocast may lower it)
            attended = chunk_out.new_empty(items, q_h, q_w, chunk_out.shape[-1])
        attended[batch, rows, cols] = chunk_out.view(chunk.shape[:3] + chunk_out.shape[-1:])
        del bias, chunk_out
        budget.tile_done()
    return attended.view(items, q_h * q_w, -1)
