"""ViTMatte's detail-capture decoder: a light conv stream on the image fused into the ViT feature.

Module and parameter names follow the official ViTMatte decoder, so its checkpoints load:
``convstream.convs.N.{conv,bn}``, ``fusion_blks.N.conv.{conv,bn}``,
``matting_head.matting_convs.{0,1,3}``.
"""

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from detectron2.layers import get_norm
from torch import nn

from .tiling import (
    ConcatRows,
    ConvRows,
    RowMap,
    StoredMap,
    TensorRows,
    TileBudget,
    UpsampledRows,
    evaluate_rows,
)

__all__ = ["DetailCapture"]

STORED_MIN_STRIDE = 4
"""Bounded inference keeps the fused maps at this stride or coarser whole (small, read by every
band); the finer ones are computed band by band and never whole."""


class ConvBNReLU(nn.Module):
    """3x3 convolution (no bias) -> BatchNorm (``norm``, a detectron2 ``get_norm`` name) -> ReLU."""

    def __init__(self, in_chans: int, out_chans: int, stride: int = 1, norm: str = "BN"):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, out_chans, 3, stride, 1, bias=False)
        self.bn = get_norm(norm, out_chans)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(feature_map)))


class ConvStream(nn.Module):
    """Stride-2 conv stages on the image; returns the image and every stage, finest first."""

    def __init__(self, in_chans: int, out_chans: Sequence[int], norm: str = "BN"):
        super().__init__()
        self.conv_chans = [in_chans, *out_chans]
        self.convs = nn.ModuleList(
            ConvBNReLU(c_in, c_out, stride=2, norm=norm)
            for c_in, c_out in zip(self.conv_chans[:-1], self.conv_chans[1:])
        )

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> [image, (B, c1, H/2, W/2), (B, c2, H/4, W/4), ...]."""
        details = [images]
        for conv in self.convs:
            details.append(conv(details[-1]))
        return details


class FusionBlock(nn.Module):
    """Upsample the coarse feature 2x (bilinear), concatenate the detail feature first, conv."""

    def __init__(self, in_chans: int, out_chans: int, norm: str = "BN"):
        super().__init__()
        self.conv = ConvBNReLU(in_chans, out_chans, stride=1, norm=norm)

    def forward(self, coarse: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
        return self.conv(torch.cat([detail, upsampled], dim=1))


class MattingHead(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv1x1 to one alpha logit channel."""

    def __init__(self, in_chans: int = 32, mid_chans: int = 16, norm: str = "BN"):
        super().__init__()
        self.matting_convs = nn.Sequential(
            nn.Conv2d(in_chans, mid_chans, 3, 1, 1),
            get_norm(norm, mid_chans),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_chans, 1, 1, 1, 0),
        )

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.matting_convs(feature_map)


class DetailCapture(nn.Module):
    """Detail-capture decoder of ViTMatte.

    Args:
        in_chans: channels of the backbone feature (384 for ViT-S, 768 for ViT-B).
        img_chans: channels of the decoder's image input (3, or 4 with a trimap channel).
        convstream_out: output channels of the stride-2 conv stages on the image.
        fusion_out: output channels of the fusion blocks, coarsest first; one more than
            ``convstream_out`` (the last fuses the image itself at full resolution).
        norm: the BatchNorm layers, a detectron2 ``get_norm`` name: ``"BN"``, or ``"SyncBN"`` /
            ``"naiveSyncBN"`` to take the statistics over the whole multi-GPU batch.
    """

    def __init__(
        self,
        in_chans: int = 384,
        img_chans: int = 3,
        convstream_out: Sequence[int] = (48, 96, 192),
        fusion_out: Sequence[int] = (256, 128, 64, 32),
        norm: str = "BN",
    ):
        super().__init__()
        if len(fusion_out) != len(convstream_out) + 1:
            raise ValueError(
                f"DetailCapture needs len(fusion_out) == len(convstream_out) + 1, got "
                f"fusion_out={list(fusion_out)} and convstream_out={list(convstream_out)}"
            )
        self.in_chans = in_chans
        self.img_chans = img_chans
        self.convstream = ConvStream(img_chans, convstream_out, norm)
        detail_chans = self.convstream.conv_chans[::-1]  # coarsest first, image last
        fusion_in = [in_chans, *fusion_out[:-1]]
        self.fusion_blks = nn.ModuleList(
            FusionBlock(coarse + detail, out, norm)
            for coarse, detail, out in zip(fusion_in, detail_chans, fusion_out)
        )
        self.matting_head = MattingHead(in_chans=fusion_out[-1], norm=norm)
        self.feature_stride = 2 ** len(fusion_out)
        self.convstream_out, self.fusion_out = tuple(convstream_out), tuple(fusion_out)

    def forward(
        self, features: torch.Tensor, images: torch.Tensor, budget: Optional[TileBudget] = None
    ) -> torch.Tensor:
        """
        Args:
            features: (B, in_chans, H/s, W/s) backbone feature, s = 2 ** len(fusion_out) (16).
            images: (B, img_chans, H, W) the (normalised) network input, H and W multiples of s.
            budget: compute the maps finer than stride 4 in bands of rows within it (inference
                in bounded memory, same output; eval mode); None: whole.

        Returns:
            alpha (B, 1, H, W) in [0, 1].
        """
        if images.shape[1] != self.img_chans:
            raise ValueError(
                f"DetailCapture(img_chans={self.img_chans}) got images with {images.shape[1]} "
                "channels; set decoder.img_chans to the model's input channels (4 with a trimap)"
            )
        height, width = images.shape[-2:]
        stride = self.feature_stride
        if (
            height % stride
            or width % stride
            or (tuple(features.shape[-2:]) != (height // stride, width // stride))
        ):
            raise ValueError(
                f"DetailCapture needs images of size H, W multiple of {self.feature_stride} and "
                f"features at 1/{self.feature_stride} of it; got images {tuple(images.shape)} and "
                f"features {tuple(features.shape)} (pad the input, as ViTMatte does)"
            )
        if budget is not None:
            return evaluate_rows(self.alpha_rows(features, images, budget), budget)
        details = self.convstream(images)[::-1]  # coarsest first, image last
        fused = features
        for fusion, detail in zip(self.fusion_blks, details):
            fused = fusion(fused, detail)
        return torch.sigmoid(self.matting_head(fused))

    def alpha_rows(
        self, features: torch.Tensor, images: torch.Tensor, budget: TileBudget
    ) -> RowMap:
        """The decoder as maps computed by rows (:mod:`.tiling`): same layers, same output."""
        height = images.shape[-2]
        details: list[RowMap] = [TensorRows(images)]
        for conv, channels in zip(self.convstream.convs, self.convstream_out):
            details.append(ConvRows(conv, details[-1], channels, stride=2))
        fused: RowMap = TensorRows(features)
        for fusion, detail, channels in zip(self.fusion_blks, details[::-1], self.fusion_out):
            fused = ConvRows(fusion.conv, ConcatRows([detail, UpsampledRows(fused)]), channels)
            if fused.height * STORED_MIN_STRIDE <= height:
                fused = StoredMap(fused, budget)
        mid_chans = self.matting_head.matting_convs[0].out_channels
        return ConvRows(self._alpha, fused, 1, work_channels=2 * mid_chans + 2)

    def _alpha(self, fused: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.matting_head(fused))

    def extra_repr(self) -> str:
        return f"in_chans={self.in_chans}, img_chans={self.img_chans}"
