"""Attention with decomposed relative positions (MViTv2 / ViTDet), whole or in query chunks.

The plain path builds the (B, N, N) bias at once; :func:`chunked_attention` gives each chunk of
queries only its slice of it, so memory is bounded by a
:class:`~alphafree_matting.modeling.tiling.TileBudget` instead of growing as N^2.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from .tiling import TileBudget, split_range

__all__ = [
    "Attention",
    "relative_position_table",
    "decomposed_rel_pos_bias",
    "rel_pos_bias",
    "grid_chunks",
    "attention_chunks",
    "chunked_attention",
]

BYTES_PER_SCORE = 8
"""Working bytes per (query, key) pair of a chunk: a float32 bias entry and the kernel's copy."""


def relative_position_table(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """(q_size, k_size, C) embeddings of every (query, key) pair along one axis.

    ``rel_pos`` is the (L, C) learnt table, L = 2 * size - 1 for the size it was built for;
    it is linearly interpolated for other sizes, so any input size works.
    """
    num_offsets = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != num_offsets:
        # (L, C) -> (1, C, L) -> (1, C, num_offsets) -> (num_offsets, C)
        rel_pos = F.interpolate(
            rel_pos.t().unsqueeze(0), size=num_offsets, mode="linear", align_corners=False
        )[0].t()
    if q_size == k_size:  # self-attention: integer offsets (no float sizes, so it exports)
        positions = torch.arange(q_size, device=rel_pos.device)
        return rel_pos[positions[:, None] - positions[None, :] + (k_size - 1)]
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    offsets = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[offsets.long()]


def decomposed_rel_pos_bias(
    query: torch.Tensor,
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
    q_hw: tuple[int, int],
    k_hw: tuple[int, int],
) -> torch.Tensor:
    """(B, q_h * q_w, k_h * k_w) bias of decomposed relative positions, added to the logits.

    Args:
        query: (B, q_h * q_w, C) unscaled queries (B includes the heads).
        rel_pos_h, rel_pos_w: (Lh, C) and (Lw, C) tables along height and width.
        q_hw, k_hw: (q_h, q_w) query grid and (k_h, k_w) key grid.
    """
    q_h, q_w = q_hw
    k_h, k_w = k_hw
    table_h = relative_position_table(q_h, k_h, rel_pos_h).to(query.dtype)  # (q_h, k_h, C)
    table_w = relative_position_table(q_w, k_w, rel_pos_w).to(query.dtype)  # (q_w, k_w, C)
    batch, _, channels = query.shape
    return rel_pos_bias(query.reshape(batch, q_h, q_w, channels), table_h, table_w)


def rel_pos_bias(
    query_grid: torch.Tensor,
    table_h: torch.Tensor,
    table_w: torch.Tensor,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """(B, q_h * q_w, k_h * k_w) additive bias of decomposed relative positions.

    Args:
        query_grid: (B, q_h, q_w, C) unscaled queries on their grid (B includes the heads).
        table_h, table_w: (q_h, k_h, C) and (q_w, k_w, C) of :func:`relative_position_table`.
        out: optional flat buffer of >= B * q_h * q_w * k_h * k_w elements, reused across chunks.
    """
    batch, q_h, q_w, _ = query_grid.shape
    k_h, k_w = table_h.shape[1], table_w.shape[1]
    bias_h = torch.einsum("bhwc,hkc->bhwk", query_grid, table_h)  # (B, q_h, q_w, k_h)
    bias_w = torch.einsum("bhwc,wkc->bhwk", query_grid, table_w)  # (B, q_h, q_w, k_w)
    if out is None:
        bias = bias_h[:, :, :, :, None] + bias_w[:, :, :, None, :]  # (B, q_h, q_w, k_h, k_w)
    else:
        bias = out[: batch * q_h * q_w * k_h * k_w].view(batch, q_h, q_w, k_h, k_w)
        torch.add(bias_h[:, :, :, :, None], bias_w[:, :, :, None, :], out=bias)
    return bias.reshape(batch, q_h * q_w, k_h * k_w)


def grid_chunks(grid_hw: tuple[int, int], max_queries: int) -> list[tuple[slice, slice]]:
    """(row slice, column slice) chunks, row-major, of at most ``max_queries`` (>= 1) queries of
    a (q_h, q_w) grid: bands of whole rows, or pieces of one row when a row holds more."""
    q_h, q_w = grid_hw
    if max_queries >= q_w:
        return [(slice(a, b), slice(0, q_w)) for a, b in split_range(q_h, max_queries // q_w)]
    pieces = split_range(q_w, max_queries)
    return [(slice(row, row + 1), slice(a, b)) for row in range(q_h) for (a, b) in pieces]


def attention_chunks(
    items: int, grid_hw: tuple[int, int], keys: int, budget_bytes: int
) -> list[tuple[slice, slice, slice]]:
    """(item, row, column) slices of the chunks of ``items`` query grids (batch x heads) over
    ``keys``: whole grids of several items if one fits the budget (windowed attention), else one
    band of queries of every item (global attention)."""
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
    """``F.scaled_dot_product_attention`` with bias ``rel_pos_bias(query grid, *tables)`` (none
    if ``tables`` is None), in chunks of queries sized by ``budget`` (told of each chunk).

    Args:
        query: (B, q_h * q_w, C) row-major queries of the ``grid_hw`` grid (B includes heads).
        key, value: (B, N, C) and (B, N, C_v).

    Returns:
        (B, q_h * q_w, C_v).
    """
    items, _, channels = query.shape
    q_h, q_w = grid_hw
    query_grid = query.reshape(items, q_h, q_w, channels)
    chunks = attention_chunks(items, grid_hw, key.shape[1], budget.memory_bytes)
    attended, buffer = None, None
    for batch, rows, cols in chunks:
        chunk = query_grid[batch, rows, cols]  # (b, r, c, C)
        bias = None
        if tables is not None:
            bias = rel_pos_bias(chunk, tables[0][rows], tables[1][cols], out=buffer)
            if buffer is None and len(chunks) > 1:  # the later chunks reuse one buffer
                largest = max(query_grid[b, r, c, 0].numel() for b, r, c in chunks)
                buffer = bias.new_empty(largest * key.shape[1])
        chunk_out = F.scaled_dot_product_attention(
            chunk.reshape(chunk.shape[0], -1, channels), key[batch], value[batch], attn_mask=bias
        )
        if attended is None:  # the kernel's dtype (autocast may lower it)
            attended = chunk_out.new_empty(items, q_h, q_w, chunk_out.shape[-1])
        attended[batch, rows, cols] = chunk_out.view(chunk.shape[:3] + chunk_out.shape[-1:])
        del bias, chunk_out
        budget.tile_done()
    return attended.view(items, q_h * q_w, -1)


class Attention(nn.Module):
    """Multi-head self-attention on a (B, H, W, C) token map, optional decomposed rel-pos bias."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        input_size: Optional[tuple[int, int]] = None,
    ):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            if input_size is None:
                raise ValueError("use_rel_pos=True needs input_size (the token grid of the block)")
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))
            if not rel_pos_zero_init:
                trunc_normal_(self.rel_pos_h, std=0.02)
                trunc_normal_(self.rel_pos_w, std=0.02)

    def forward(self, tokens: torch.Tensor, budget: Optional[TileBudget] = None) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C); with a ``budget``, in query chunks (bounded memory)."""
        batch, height, width, _ = tokens.shape
        # (B, H*W, 3, heads, head_dim) -> (3, B*heads, H*W, head_dim)
        qkv = self.qkv(tokens).reshape(batch, height * width, 3, self.num_heads, -1)
        qkv = qkv.permute(2, 0, 3, 1, 4).reshape(3, batch * self.num_heads, height * width, -1)
        query, key, value = qkv.unbind(0)
        if budget is not None:
            tables = None
            if self.use_rel_pos:
                tables = (
                    relative_position_table(height, height, self.rel_pos_h).to(query.dtype),
                    relative_position_table(width, width, self.rel_pos_w).to(query.dtype),
                )
            attended = chunked_attention(query, key, value, (height, width), tables, budget)
        else:
            bias = None
            if self.use_rel_pos:
                bias = decomposed_rel_pos_bias(
                    query, self.rel_pos_h, self.rel_pos_w, (height, width), (height, width)
                )
            attended = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
        # (B*heads, H*W, head_dim) -> (B, H, W, heads*head_dim)
        attended = attended.view(batch, self.num_heads, height, width, -1)
        attended = attended.permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1)
        return self.proj(attended)
