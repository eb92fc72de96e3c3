"""A light U-Net decoder for CNN backbones: upsample 2x, concatenate the skip, conv; down to full
resolution, where the skips come from a small conv stream on the image itself.

In bounded inference (a ``budget``) the maps finer than stride 4 are computed in bands of rows
(:mod:`alphafree_matting.modeling.tiling`), with the same output.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Optional

import fvcore.nn.weight_init as weight_init
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, get_norm
from detectron2.utils.logger import log_first_n
from torch import nn

from alphafree_matting.modeling.tiling import (
    ConcatRows,
    ConvRows,
    RowMap,
    StoredMap,
    TensorRows,
    TileBudget,
    UpsampledRows,
    evaluate_rows,
)

__all__ = ["UNetDecoder"]

ROWWISE_NORMS = ("", "BN", "SyncBN", "naiveSyncBN", "FrozenBN")
"""Norms that act on each pixel alone in eval mode: bands of rows give the whole map's values."""
STORED_MIN_STRIDE = 4
"""Bounded inference keeps the decoded maps at this stride or coarser whole."""


def conv_norm_relu(in_chans: int, out_chans: int, norm: str, stride: int = 1) -> Conv2d:
    """3x3 convolution (bias only without norm) -> norm -> ReLU, MSRA-initialised."""
    conv = Conv2d(
        in_chans,
        out_chans,
        kernel_size=3,
        stride=stride,
        padding=1,
        bias=not norm,
        norm=get_norm(norm, out_chans),
        activation=F.relu,
    )
    weight_init.c2_msra_fill(conv)
    return conv


class UNetDecoder(nn.Module):
    """Decode multi-scale backbone features into an alpha matte at the input resolution.

    Starting from the coarsest feature, every step upsamples 2x (bilinear), concatenates the
    next finer skip and applies a 3x3 conv-norm-ReLU. The skips are the backbone features
    ``in_features[1:]``, then the outputs of ``detail_channels`` stride-2 conv stages run on
    the network input (finest last) and finally the network input itself at full resolution;
    so the finest backbone feature must have stride ``2 ** (len(detail_channels) + 1)``
    (4 for detectron2's ResNet ``res2``, with one detail stage).

    Args:
        in_features: backbone feature names, coarsest first (e.g. res5, res4, res3, res2).
        in_channels: their channels, same order.
        fuse_channels: output channels of each step, one per skip:
            ``len(in_features) - 1 + len(detail_channels) + 1`` entries.
        detail_channels: output channels of the stride-2 conv stages on the input.
        img_chans: channels of the network input (3 for RGB).
        norm: detectron2 norm name for every conv ("BN", "SyncBN", "GN", "" for none).
    """

    def __init__(
        self,
        *,
        in_features: Sequence[str] = ("res5", "res4", "res3", "res2"),
        in_channels: Sequence[int] = (512, 256, 128, 64),
        fuse_channels: Sequence[int] = (256, 128, 64, 32, 16),
        detail_channels: Sequence[int] = (32,),
        img_chans: int = 3,
        norm: str = "BN",
    ):
        super().__init__()
        if len(in_channels) != len(in_features):
            raise ValueError(
                f"UNetDecoder: in_channels {list(in_channels)} needs one entry per feature of "
                f"in_features {list(in_features)}"
            )
        num_steps = len(in_features) - 1 + len(detail_channels) + 1
        if len(fuse_channels) != num_steps:
            raise ValueError(
                f"UNetDecoder: fuse_channels needs {num_steps} entries (one per skip: "
                f"{len(in_features) - 1} backbone features, {len(detail_channels)} detail stages, "
                f"the input), got {list(fuse_channels)}"
            )
        self.in_features = tuple(in_features)
        self.in_channels = tuple(in_channels)
        self.fuse_channels, self.detail_channels = tuple(fuse_channels), tuple(detail_channels)
        self.img_chans = img_chans
        self.rowwise = norm in ROWWISE_NORMS
        # The stride the finest backbone feature must have: every step doubles the resolution.
        self.finest_stride = 2 ** (len(detail_channels) + 1)
        detail_in = [img_chans, *detail_channels[:-1]]
        self.detail_convs = nn.ModuleList(
            conv_norm_relu(c_in, c_out, norm, stride=2)
            for c_in, c_out in zip(detail_in, detail_channels)
        )
        skip_channels = [*in_channels[1:], *reversed(detail_channels), img_chans]
        coarse_channels = [in_channels[0], *fuse_channels[:-1]]
        self.fuse_convs = nn.ModuleList(
            conv_norm_relu(coarse + skip, out, norm)
            for coarse, skip, out in zip(coarse_channels, skip_channels, fuse_channels)
        )
        self.head = nn.Conv2d(fuse_channels[-1], 1, kernel_size=3, padding=1)
        weight_init.c2_msra_fill(self.head)

    def forward(
        self,
        features: Mapping[str, torch.Tensor],
        images: torch.Tensor,
        budget: Optional[TileBudget] = None,
    ) -> torch.Tensor:
        """
        Args:
            features: backbone outputs by name; ``in_features[i]`` has stride
                ``finest_stride * 2 ** (len(in_features) - 1 - i)``.
            images: (B, img_chans, H, W) the normalised network input, H and W multiples of the
                coarsest stride.
            budget: compute the fine maps in bands of rows within it (eval mode, row-wise norms
                and H, W multiples of the coarsest stride); None: whole.

        Returns:
            alpha (B, 1, H, W) in [0, 1].
        """
        self._check_features(features, images)
        if budget is not None:
            coarsest = features[self.in_features[0]].shape[-2:]
            scale = self.finest_stride * 2 ** (len(self.in_features) - 1)
            if self.rowwise and tuple(images.shape[-2:]) == (
                scale * coarsest[0],
                scale * coarsest[1],
            ):
                return evaluate_rows(self.alpha_rows(features, images, budget), budget)
            log_first_n(logging.INFO, "UNetDecoder: norm or input size without row bands: plain")
        details = [images]
        for conv in self.detail_convs:
            details.append(conv(details[-1]))
        skips = [features[name] for name in self.in_features[1:]] + details[::-1]
        decoded = features[self.in_features[0]]
        for fuse, skip in zip(self.fuse_convs, skips):
            # size= rather than scale_factor=2: exact even when a feature map has odd size.
            upsampled = F.interpolate(
                decoded, size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            decoded = fuse(torch.cat([upsampled, skip], dim=1))
        return torch.sigmoid(self.head(decoded))

    def alpha_rows(
        self, features: Mapping[str, torch.Tensor], images: torch.Tensor, budget: TileBudget
    ) -> RowMap:
        """The decoder as maps computed by rows (:mod:`alphafree_matting.modeling.tiling`)."""
        details: list[RowMap] = [TensorRows(images)]
        for conv, channels in zip(self.detail_convs, self.detail_channels):
            details.append(ConvRows(conv, details[-1], channels, stride=2))
        skips = [TensorRows(features[name]) for name in self.in_features[1:]] + details[::-1]
        decoded: RowMap = TensorRows(features[self.in_features[0]])
        for fuse, skip, channels in zip(self.fuse_convs, skips, self.fuse_channels):
            decoded = ConvRows(fuse, ConcatRows([UpsampledRows(decoded), skip]), channels)
            if decoded.height * STORED_MIN_STRIDE <= images.shape[-2]:
                decoded = StoredMap(decoded, budget)
        return ConvRows(self._alpha, decoded, 1, work_channels=2)

    def _alpha(self, decoded: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(decoded))

    def _check_features(self, features: Mapping[str, torch.Tensor], images: torch.Tensor):
        """Fail with the config fix when the backbone's features do not fit this decoder."""
        missing = [name for name in self.in_features if name not in features]
        if missing:
            raise ValueError(
                f"UNetDecoder: in_features {list(self.in_features)} names {missing}, which the "
                f"backbone does not output (it gives {sorted(features)}); set "
                "backbone.out_features"
            )
        channels = [features[name].shape[1] for name in self.in_features]
        if channels != list(self.in_channels):
            raise ValueError(
                f"UNetDecoder: in_channels={list(self.in_channels)} but the backbone's "
                f"{list(self.in_features)} have {channels} channels; set "
                f"decoder.in_channels={channels}"
            )
        strides = [images.shape[-1] // features[name].shape[-1] for name in self.in_features]
        count = len(strides)
        expected = [self.finest_stride * 2 ** (count - 1 - i) for i in range(count)]
        if strides != expected:
            raise ValueError(
                f"UNetDecoder: it upsamples 2x per step down to stride {self.finest_stride}, so "
                f"in_features {list(self.in_features)} need strides {expected}; the backbone "
                f"gives {strides}"
            )
