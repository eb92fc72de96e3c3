"""Per-pixel losses: the known loss (trimap), its BCE variant and the alpha L1.

All take (B, 1, H, W) ``alpha`` in [0, 1], a (B, 1, H, W) target and optional bool ``valid``
(False on padding), and return a float32 scalar (autocast off). Over no pixels a loss is 0,
never NaN, and stays connected to ``alpha``, so such a batch still back-propagates.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import torch
import torch.nn.functional as F

from alphafree_matting.conventions import known_mask

logger = logging.getLogger(__name__)


@contextmanager
def float32_math(reference: torch.Tensor) -> Iterator[None]:
    """Disable autocast on ``reference``'s device, so loss maths runs in float32 as written."""
    with torch.autocast(device_type=reference.device.type, enabled=False):
        yield


def check_map(tensor: torch.Tensor, like: torch.Tensor, name: str, dtype=None) -> None:
    """Raise a ValueError unless ``tensor`` is (B, 1, H, W) like ``like`` (and of ``dtype``)."""
    expected = (like.shape[0], 1, *like.shape[2:])
    if tuple(tensor.shape) != expected or (dtype is not None and tensor.dtype != dtype):
        wanted = f"{dtype} " if dtype is not None else ""
        raise ValueError(
            f"{name} must be a {wanted}tensor of shape {expected} (matching alpha), "
            f"got {tensor.dtype} {tuple(tensor.shape)}"
        )


def masked_mean(values: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``values`` where the broadcastable bool ``mask`` (None: all) is True; 0 if none."""
    if mask is None:
        return values.mean()
    mask = mask.expand_as(values)
    total = torch.where(mask, values, values.new_zeros(())).sum()
    return total / mask.sum().clamp_min(1)


def _mean_over_known(per_pixel, alpha, trimap, valid) -> torch.Tensor:
    """Mean of ``per_pixel(alpha, trimap)`` over the known and valid pixels, in float32."""
    check_map(trimap, alpha, "trimap")
    if valid is not None:
        check_map(valid, alpha, "valid", torch.bool)
    with float32_math(alpha):
        alpha, trimap = alpha.float(), trimap.float()
        mask = known_mask(trimap) if valid is None else known_mask(trimap) & valid
        return masked_mean(per_pixel(alpha, trimap), mask)


def _absolute_error(alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (alpha - target).abs()


def _binary_cross_entropy(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    # Unknown pixels keep their 0.5 target: finite, and masked out of the mean.
    return F.binary_cross_entropy(alpha.clamp(0, 1), trimap, reduction="none")


def known_loss(
    alpha: torch.Tensor, trimap: torch.Tensor, valid: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Mean ``|alpha - trimap|`` over the known and valid pixels; ``trimap`` targets are
    {0, 0.5, 1} (0.5 = unknown, see ``conventions``)."""
    return _mean_over_known(_absolute_error, alpha, trimap, valid)


def known_bce_loss(
    alpha: torch.Tensor, trimap: torch.Tensor, valid: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Mean BCE of ``alpha`` against the known pixels of a {0, 0.5, 1} trimap (mask labels); log
    terms are clamped at -100, as ``F.binary_cross_entropy`` does, so 0 and 1 are finite."""
    return _mean_over_known(_binary_cross_entropy, alpha, trimap, valid)


def alpha_l1_loss(
    alpha: torch.Tensor, gt_alpha: torch.Tensor, valid: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Mean ``|alpha - gt_alpha|`` over valid pixels (the fine-label baseline)."""
    check_map(gt_alpha, alpha, "gt_alpha")
    with float32_math(alpha):
        alpha, gt_alpha = alpha.float(), gt_alpha.float()
        if valid is not None:
            check_map(valid, alpha, "valid", torch.bool)
        return masked_mean(_absolute_error(alpha, gt_alpha), valid)
