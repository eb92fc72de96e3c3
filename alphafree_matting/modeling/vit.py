"""Plain ViT backbone of ViTMatte (ViTDet-style windowed attention + conv residual blocks).

Constructor arguments and state-dict keys (``patch_embed.proj.*``, ``pos_embed``,
``blocks.N.{norm1,attn.qkv,attn.proj,attn.rel_pos_h,...}``, ``blocks.N.residual.*``) are those of
upstream detectron2's ``modeling.backbone.vit.ViT`` (absent from 0.6) and of the official ViTMatte
checkpoints, so their configs and weights load here. Attention is in :mod:`.attention`.
"""

import logging
import math
from collections.abc import Sequence
from typing import Optional

import fvcore.nn.weight_init as weight_init
import torch
import torch.nn.functional as F
from detectron2.modeling.backbone import Backbone
from timm.layers import DropPath, Mlp, trunc_normal_
from torch import nn
from torch.utils.checkpoint import checkpoint

from .attention import Attention, attention_chunks
from .tiling import TileBudget

logger = logging.getLogger(__name__)

__all__ = ["ViT", "ChannelLayerNorm", "window_partition", "window_unpartition", "get_abs_pos"]


# --- pure helpers ------------------------------------------------------------------------------
def window_partition(
    tokens: torch.Tensor, window_size: int
) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) -> windows (B * num_windows, window_size, window_size, C) and the padded size
    (Hp, Wp); the map is zero-padded to a multiple of the window."""
    batch, height, width, channels = tokens.shape
    pad_h = -height % window_size  # this form keeps symbolic shapes simple (ONNX export)
    pad_w = -width % window_size
    if pad_h or pad_w:
        tokens = F.pad(tokens, (0, 0, 0, pad_w, 0, pad_h))
    padded_h, padded_w = height + pad_h, width + pad_w
    # (B, Hp/ws, ws, Wp/ws, ws, C) -> (B, Hp/ws, Wp/ws, ws, ws, C)
    tokens = tokens.view(
        batch, padded_h // window_size, window_size, padded_w // window_size, window_size, channels
    )
    windows = tokens.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, channels)
    return windows, (padded_h, padded_w)


def window_unpartition(
    windows: torch.Tensor, window_size: int, padded_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * num_windows, ws, ws, C) -> (B, H, W, C), the
    padding of ``padded_hw`` (Hp, Wp) cropped to ``hw`` (H, W)."""
    padded_h, padded_w = padded_hw
    height, width = hw
    windows_per_image = (padded_h // window_size) * (padded_w // window_size)
    batch = windows.shape[0] // windows_per_image
    tokens = windows.view(
        batch, padded_h // window_size, padded_w // window_size, window_size, window_size, -1
    )
    tokens = tokens.permute(0, 1, 3, 2, 4, 5).reshape(batch, padded_h, padded_w, -1)
    return tokens[:, :height, :width, :].contiguous()


def get_abs_pos(pos_embed: torch.Tensor, has_cls_token: bool, hw: tuple[int, int]) -> torch.Tensor:
    """(1, N, C) pretrained position embeddings on a square grid (N = [1 +] side ** 2, the
    class-token slot dropped if ``has_cls_token``), bicubic-resized to (1, H, W, C) for ``hw``."""
    if has_cls_token:
        pos_embed = pos_embed[:, 1:]
    side = int(math.isqrt(pos_embed.shape[1]))
    if side * side != pos_embed.shape[1]:
        raise ValueError(
            f"pos_embed holds {pos_embed.shape[1]} positions, not a square grid; check "
            f"pretrain_use_cls_token (={has_cls_token}) against the checkpoint."
        )
    grid = pos_embed.reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, C, side, side)
    if (side, side) != tuple(hw):
        grid = F.interpolate(grid, size=hw, mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) map (detectron2's ``get_norm("LN")``)."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        channels_last = feature_map.permute(0, 2, 3, 1)
        normed = F.layer_norm(
            channels_last, (channels_last.shape[-1],), self.weight, self.bias, self.eps
        )
        return normed.permute(0, 3, 1, 2)


# --- modules -----------------------------------------------------------------------------------
class PatchEmbed(nn.Module):
    """Non-overlapping patch projection: (B, C, H, W) -> (B, H/p, W/p, D)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).permute(0, 2, 3, 1)


class ResBottleneckBlock(nn.Module):
    """Conv residual block 1x1 -> 3x3 -> 1x1 with channel LayerNorm, identity at init."""

    def __init__(self, channels: int, bottleneck_channels: int, act_layer=nn.GELU):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, bottleneck_channels, 1, bias=False)
        self.norm1 = ChannelLayerNorm(bottleneck_channels)
        self.act1 = act_layer()
        self.conv2 = nn.Conv2d(bottleneck_channels, bottleneck_channels, 3, padding=1, bias=False)
        self.norm2 = ChannelLayerNorm(bottleneck_channels)
        self.act2 = act_layer()
        self.conv3 = nn.Conv2d(bottleneck_channels, channels, 1, bias=False)
        self.norm3 = ChannelLayerNorm(channels)
        for conv in (self.conv1, self.conv2, self.conv3):
            weight_init.c2_msra_fill(conv)
        # The last norm starts at zero: the block is the identity until it learns otherwise.
        nn.init.zeros_(self.norm3.weight)
        nn.init.zeros_(self.norm3.bias)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        branch = self.act1(self.norm1(self.conv1(feature_map)))
        branch = self.act2(self.norm2(self.conv2(branch)))
        branch = self.norm3(self.conv3(branch))
        return feature_map + branch


class Block(nn.Module):
    """Transformer block (window or global attention), then optionally a conv residual block."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_layer=nn.LayerNorm,
        act_layer=nn.GELU,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        window_size: int = 0,
        use_residual_block: bool = False,
        input_size: Optional[tuple[int, int]] = None,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            rel_pos_zero_init=rel_pos_zero_init,
            input_size=input_size if window_size == 0 else (window_size, window_size),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer)
        self.window_size = window_size
        self.residual = (
            ResBottleneckBlock(dim, dim // 2, act_layer=act_layer) if use_residual_block else None
        )

    def attention_tiles(self, batch: int, grid_hw: tuple[int, int], budget: TileBudget) -> int:
        """Number of chunks of the bounded attention on a (batch, *grid_hw) token map."""
        if self.window_size > 0:
            windows = math.prod(-(-side // self.window_size) for side in grid_hw)
            items, grid_hw = batch * windows, (self.window_size, self.window_size)
        else:
            items = batch
        keys = grid_hw[0] * grid_hw[1]
        return len(
            attention_chunks(items * self.attn.num_heads, grid_hw, keys, budget.memory_bytes)
        )

    def forward(self, tokens: torch.Tensor, budget: Optional[TileBudget] = None) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C); ``budget``: see :meth:`Attention.forward`."""
        shortcut = tokens
        tokens = self.norm1(tokens)
        if self.window_size > 0:
            height, width = tokens.shape[1], tokens.shape[2]
            windows, padded_hw = window_partition(tokens, self.window_size)
            tokens = window_unpartition(
                self.attn(windows, budget), self.window_size, padded_hw, (height, width)
            )
        else:
            tokens = self.attn(tokens, budget)
        tokens = shortcut + self.drop_path(tokens)
        tokens = tokens + self.drop_path(self.mlp(self.norm2(tokens)))
        if self.residual is not None:
            tokens = self.residual(tokens.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return tokens


class ViT(Backbone):
    """Plain ViT backbone (ViTDet / ViTMatte): one feature map at stride ``patch_size``.

    Args:
        img_size: input size the global blocks' rel-pos tables are built for (others interpolate).
        patch_size: patch size (= output stride).
        in_chans: input channels (3 for RGB, 4 for RGB + trimap).
        drop_path_rate: stochastic-depth rate of the last block (linear from 0).
        use_abs_pos: add pretrained absolute position embeddings (interpolated to the input).
        use_rel_pos, rel_pos_zero_init: decomposed relative position biases; tables start at 0.
        window_size, window_block_indexes: window side and the blocks using window attention.
        residual_block_indexes: blocks followed by a conv residual bottleneck block.
        use_act_checkpoint: recompute block activations in backward (saves training memory).
        pretrain_img_size, pretrain_use_cls_token: the ``pos_embed`` grid and its class-token slot.
    """

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        norm_layer=nn.LayerNorm,
        act_layer=nn.GELU,
        use_abs_pos: bool = True,
        use_rel_pos: bool = False,
        rel_pos_zero_init: bool = True,
        window_size: int = 0,
        window_block_indexes: Sequence[int] = (),
        residual_block_indexes: Sequence[int] = (),
        use_act_checkpoint: bool = False,
        pretrain_img_size: int = 224,
        pretrain_use_cls_token: bool = True,
        out_feature: str = "last_feat",
    ):
        super().__init__()
        for name, indexes in (
            ("window_block_indexes", window_block_indexes),
            ("residual_block_indexes", residual_block_indexes),
        ):
            bad = [i for i in indexes if not 0 <= i < depth]
            if bad:
                raise ValueError(f"ViT {name} {list(bad)} out of range for depth={depth}")
        self.in_chans = in_chans
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.use_act_checkpoint = use_act_checkpoint
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        if use_abs_pos:
            num_patches = (pretrain_img_size // patch_size) ** 2
            num_positions = num_patches + 1 if pretrain_use_cls_token else num_patches
            self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, embed_dim))
        else:
            self.pos_embed = None

        drop_path_rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=drop_path_rates[i],
                norm_layer=norm_layer,
                act_layer=act_layer,
                use_rel_pos=use_rel_pos,
                rel_pos_zero_init=rel_pos_zero_init,
                window_size=window_size if i in window_block_indexes else 0,
                use_residual_block=i in residual_block_indexes,
                input_size=(img_size // patch_size, img_size // patch_size),
            )
            for i in range(depth)
        )
        self._out_feature_channels = {out_feature: embed_dim}
        self._out_feature_strides = {out_feature: patch_size}
        self._out_features = [out_feature]

        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(
        self, images: torch.Tensor, budget: Optional[TileBudget] = None
    ) -> dict[str, torch.Tensor]:
        """(B, in_chans, H, W) normalised input (H, W multiples of ``patch_size``) ->
        ``{out_feature: (B, embed_dim, H / patch_size, W / patch_size)}``; with a ``budget``,
        attention runs in query chunks (bounded memory, same output)."""
        if images.dim() != 4 or images.shape[1] != self.in_chans:
            raise ValueError(
                f"ViT expects (B, {self.in_chans}, H, W) input, got {tuple(images.shape)}"
            )
        tokens = self.patch_embed(images)  # (B, H/p, W/p, D)
        if self.pos_embed is not None:
            tokens = tokens + get_abs_pos(
                self.pos_embed, self.pretrain_use_cls_token, (tokens.shape[1], tokens.shape[2])
            )
        if budget is not None:
            grid_hw = (tokens.shape[1], tokens.shape[2])
            budget.announce(
                sum(block.attention_tiles(len(tokens), grid_hw, budget) for block in self.blocks)
            )
        for block in self.blocks:
            if self.use_act_checkpoint and self.training and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens, use_reentrant=False)
            else:
                tokens = block(tokens, budget)
        return {self._out_features[0]: tokens.permute(0, 3, 1, 2)}
