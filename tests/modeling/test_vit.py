"""ViT backbone: helpers (windows, positions, channel LayerNorm) and the module on tiny shapes."""

import pytest
import torch

from alphafree_matting.modeling import ViT
from alphafree_matting.modeling.attention import Attention, relative_position_table
from alphafree_matting.modeling.vit import (
    ChannelLayerNorm,
    ResBottleneckBlock,
    get_abs_pos,
    window_partition,
    window_unpartition,
)


def tiny_vit(**overrides) -> ViT:
    torch.manual_seed(0)
    config = dict(
        img_size=64,
        patch_size=16,
        in_chans=3,
        embed_dim=32,
        depth=4,
        num_heads=2,
        window_size=2,
        window_block_indexes=(0, 2),
        residual_block_indexes=(1, 3),
        use_rel_pos=True,
        rel_pos_zero_init=False,
        pretrain_img_size=64,
    )
    config.update(overrides)
    return ViT(**config)


def test_window_partition_pads_to_whole_windows_and_unpartition_restores_tokens():
    tokens = torch.randn(2, 5, 7, 3)
    windows, padded_hw = window_partition(tokens, 4)
    assert padded_hw == (8, 8)
    assert windows.shape == (2 * 2 * 2, 4, 4, 3)
    # The first window of the first image is its top-left 4x4 block.
    assert torch.equal(windows[0], tokens[0, :4, :4])
    # Padding is zeros: the last window of image 0 covers rows 4..7, cols 4..7 (1x3 real tokens).
    assert torch.equal(windows[3, 1:], torch.zeros(3, 4, 3))
    assert torch.equal(window_unpartition(windows, 4, padded_hw, (5, 7)), tokens)


def test_relative_position_table_indexes_offsets_when_size_matches():
    size, channels = 4, 3
    rel_pos = torch.randn(2 * size - 1, channels)
    table = relative_position_table(size, size, rel_pos)
    assert table.shape == (size, size, channels)
    for q in range(size):
        for k in range(size):
            assert torch.equal(table[q, k], rel_pos[q - k + size - 1])


def test_relative_position_table_is_interpolated_for_other_sizes():
    rel_pos = torch.ones(7, 2) * 3.0  # a constant table stays constant when resized
    table = relative_position_table(6, 6, rel_pos)
    assert table.shape == (6, 6, 2)
    assert torch.allclose(table, torch.full_like(table, 3.0))


def test_attention_rel_pos_matches_explicit_softmax_reference():
    torch.manual_seed(0)
    dim, heads, height, width = 8, 2, 3, 4
    attention = Attention(
        dim, heads, use_rel_pos=True, rel_pos_zero_init=False, input_size=(height, width)
    )
    tokens = torch.randn(1, height, width, dim)
    output = attention(tokens)

    head_dim = dim // heads
    qkv = attention.qkv(tokens).reshape(height * width, 3, heads, head_dim)
    query, key, value = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # (N, heads, head_dim)
    positions = [(i, j) for i in range(height) for j in range(width)]
    expected = torch.zeros(height * width, heads, head_dim)
    for h in range(heads):
        logits = torch.zeros(len(positions), len(positions))
        for a, (qi, qj) in enumerate(positions):
            for b, (ki, kj) in enumerate(positions):
                q = query[a, h]
                logits[a, b] = (
                    q @ key[b, h] * head_dim**-0.5
                    + q @ attention.rel_pos_h[qi - ki + height - 1]
                    + q @ attention.rel_pos_w[qj - kj + width - 1]
                )
        expected[:, h] = logits.softmax(-1) @ value[:, h]
    expected = attention.proj(expected.reshape(1, height, width, dim))
    assert torch.allclose(output, expected, atol=1e-5)


def test_get_abs_pos_drops_class_slot_and_keeps_pretraining_grid():
    pos_embed = torch.randn(1, 1 + 16, 5)
    resized = get_abs_pos(pos_embed, True, (4, 4))
    assert torch.equal(resized, pos_embed[:, 1:].reshape(1, 4, 4, 5))


def test_get_abs_pos_interpolates_to_a_rectangular_grid():
    pos_embed = torch.full((1, 16, 5), 0.25)
    resized = get_abs_pos(pos_embed, False, (3, 7))
    assert resized.shape == (1, 3, 7, 5)
    assert torch.allclose(resized, torch.full_like(resized, 0.25))


def test_get_abs_pos_rejects_non_square_grid_with_hint():
    with pytest.raises(ValueError, match="pretrain_use_cls_token"):
        get_abs_pos(torch.randn(1, 17, 5), False, (4, 4))


def test_channel_layer_norm_normalises_over_channels():
    norm = ChannelLayerNorm(6)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(6.0))
        norm.bias.fill_(0.5)
    feature_map = torch.randn(2, 6, 3, 4)
    mean = feature_map.mean(1, keepdim=True)
    var = feature_map.var(1, unbiased=False, keepdim=True)
    weight = torch.arange(6.0)[:, None, None]
    expected = (feature_map - mean) / torch.sqrt(var + 1e-6) * weight + 0.5
    assert torch.allclose(norm(feature_map), expected, atol=1e-5)


def test_residual_block_is_identity_at_init():
    block = ResBottleneckBlock(8, 4)
    feature_map = torch.randn(1, 8, 5, 5)
    assert torch.equal(block(feature_map), feature_map)


def test_vit_returns_named_stride_16_feature():
    vit = tiny_vit()
    features = vit(torch.randn(2, 3, 64, 96))
    assert list(features) == ["last_feat"]
    assert features["last_feat"].shape == (2, 32, 4, 6)
    shape = vit.output_shape()["last_feat"]
    assert (shape.channels, shape.stride) == (32, 16)


def test_vit_handles_inputs_other_than_img_size():
    # 48x80 -> a 3x5 token grid: windows need padding, global blocks interpolate rel-pos tables.
    features = tiny_vit()(torch.randn(1, 3, 48, 80))["last_feat"]
    assert features.shape == (1, 32, 3, 5)
    assert torch.isfinite(features).all()


def test_vit_blocks_follow_window_and_residual_indexes():
    vit = tiny_vit()
    assert [block.window_size for block in vit.blocks] == [2, 0, 2, 0]
    assert [block.residual is not None for block in vit.blocks] == [False, True, False, True]
    # Window blocks size their rel-pos tables for the window, global ones for img_size / patch.
    assert vit.blocks[0].attn.rel_pos_h.shape == (3, 16)
    assert vit.blocks[1].attn.rel_pos_h.shape == (7, 16)


def test_activation_checkpointing_gives_the_same_gradients():
    images = torch.randn(1, 3, 32, 32)
    grads = []
    for use_checkpoint in (False, True):
        vit = tiny_vit(use_act_checkpoint=use_checkpoint).train()
        vit(images)["last_feat"].square().mean().backward()
        grads.append(vit.patch_embed.proj.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_vit_rejects_input_with_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        tiny_vit(in_chans=4)(torch.randn(1, 3, 32, 32))


def test_vit_rejects_block_indexes_beyond_depth():
    with pytest.raises(ValueError, match="residual_block_indexes"):
        tiny_vit(residual_block_indexes=(5,))
