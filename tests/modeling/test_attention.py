"""Chunked attention: the chunk plan covers every query once within the budget, and the chunked
attention (each chunk with its own slice of the rel-pos bias) equals the whole attention."""

import pytest
import torch
import torch.nn.functional as F

from alphafree_matting.modeling.attention import (
    BYTES_PER_SCORE,
    Attention,
    attention_chunks,
    chunked_attention,
    decomposed_rel_pos_bias,
    grid_chunks,
    rel_pos_bias,
)
from alphafree_matting.modeling.tiling import TileBudget


@pytest.mark.parametrize(
    "grid_hw, max_queries", [((5, 7), 100), ((5, 7), 14), ((5, 7), 9), ((5, 7), 3), ((4, 3), 0)]
)
def test_grid_chunks_cover_every_query_once_within_the_limit(grid_hw, max_queries):
    covered = torch.zeros(grid_hw, dtype=torch.int64)
    for rows, cols in grid_chunks(grid_hw, max_queries):
        covered[rows, cols] += 1
        assert covered[rows, cols].numel() <= max(max_queries, 1)
    assert (covered == 1).all()


@pytest.mark.parametrize("budget_scores", [10_000, 500, 98, 40, 6])
def test_attention_chunks_cover_every_item_and_query_once_within_the_budget(budget_scores):
    items, grid_hw, keys = 6, (4, 5), 20
    covered = torch.zeros(items, *grid_hw, dtype=torch.int64)
    for batch, rows, cols in attention_chunks(
        items, grid_hw, keys, budget_scores * BYTES_PER_SCORE
    ):
        covered[batch, rows, cols] += 1
        # Within the budget, down to one query of every item per chunk.
        assert covered[batch, rows, cols].numel() * keys <= max(budget_scores, items * keys)
    assert (covered == 1).all()


def random_tables(grid_hw, keys_hw, channels, generator):
    return (
        torch.randn(grid_hw[0], keys_hw[0], channels, generator=generator),
        torch.randn(grid_hw[1], keys_hw[1], channels, generator=generator),
    )


@pytest.mark.parametrize("budget_scores", [10**6, 700, 150, 30, 1])
@pytest.mark.parametrize("with_bias", [True, False])
def test_chunked_attention_equals_attention_with_the_whole_bias(budget_scores, with_bias):
    generator = torch.Generator().manual_seed(0)
    items, grid_hw, channels = 4, (5, 7), 8
    query, key, value = (torch.randn(items, 35, channels, generator=generator) for _ in range(3))
    tables = random_tables(grid_hw, grid_hw, channels, generator) if with_bias else None
    bias = rel_pos_bias(query.view(items, *grid_hw, channels), *tables) if with_bias else None
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)

    budget = TileBudget(budget_scores * BYTES_PER_SCORE)
    attended = chunked_attention(query, key, value, grid_hw, tables, budget)
    torch.testing.assert_close(attended, expected, atol=1e-6, rtol=1e-5)
    assert budget.done == len(attention_chunks(items, grid_hw, 35, budget.memory_bytes))


def test_rel_pos_bias_is_the_decomposed_bias_of_the_attention_module():
    generator = torch.Generator().manual_seed(0)
    rel_pos_h, rel_pos_w = (
        torch.randn(5, 4, generator=generator),
        torch.randn(9, 4, generator=generator),
    )
    query = torch.randn(3, 3 * 5, 4, generator=generator)
    bias = decomposed_rel_pos_bias(query, rel_pos_h, rel_pos_w, (3, 5), (3, 5))
    # Entry (q, k) = <q, R_h[q_row - k_row + 2]> + <q, R_w[q_col - k_col + 4]>.
    q, k = 7, 11  # q at (1, 2), k at (2, 1)
    expected = query[:, q] @ rel_pos_h[1 - 2 + 2] + query[:, q] @ rel_pos_w[2 - 1 + 4]
    torch.testing.assert_close(bias[:, q, k], expected)
    assert bias.shape == (3, 15, 15)


@pytest.mark.parametrize("grid_hw", [(3, 4), (6, 2)])
def test_attention_module_with_a_budget_equals_its_whole_attention(grid_hw):
    torch.manual_seed(0)
    attention = Attention(8, 2, use_rel_pos=True, rel_pos_zero_init=False, input_size=(4, 4))
    tokens = torch.randn(3, *grid_hw, 8)
    with torch.no_grad():
        whole = attention(tokens)
        budget = TileBudget(memory_bytes=5 * 12 * BYTES_PER_SCORE)  # a few queries per chunk
        chunked = attention(tokens, budget)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=1e-5)
    assert budget.done > 3


def test_chunked_attention_under_bfloat16_autocast_is_close_to_whole_autocast_attention():
    torch.manual_seed(0)
    attention = Attention(16, 2, use_rel_pos=True, rel_pos_zero_init=False, input_size=(6, 6))
    tokens = torch.randn(1, 6, 6, 16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        whole = attention(tokens)
        chunked = attention(tokens, TileBudget(memory_bytes=36 * 5 * BYTES_PER_SCORE))
    assert chunked.dtype == whole.dtype
    torch.testing.assert_close(chunked.float(), whole.float(), atol=2e-2, rtol=2e-2)
