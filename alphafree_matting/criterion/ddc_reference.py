"""The authors' unfold + topk + gather formulation of the neighbour losses, O(K*K*H*W) memory.

Ground truth for the fast :mod:`.ddc` and baseline of ``tools/benchmark_ddc.py``. ``norm="torch"``
is the authors' ``torch.norm``; ``"sum_sqrt"`` equals it to float32 rounding, faster on CPU.
"""

import logging
import math
from functools import partial
from typing import Optional

import torch
import torch.nn.functional as F

from .ddc import affinity_weights, dc_terms, ddc_terms
from .neighbours import check_border, resolve_neighbour_count
from .pixel_losses import float32_math, masked_mean

logger = logging.getLogger(__name__)


def reference_neighbour_alphas(
    image: torch.Tensor,
    alpha: torch.Tensor,
    *,
    window: int = 11,
    k: Optional[int] = None,
    border: str = "zeros",
    valid: Optional[torch.Tensor] = None,
    norm: str = "torch",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distances and alphas of the k nearest window neighbours, by unfolding.

    Args:
        image: (B, 3, H, W) RGB in [0, 1].
        alpha: (B, 1, H, W) alpha (gradients flow through the result).
        window, k, border, valid: as in :func:`alphafree_matting.criterion.ddc_loss`.
        norm: ``"torch"`` (``torch.norm``, the authors' code) or ``"sum_sqrt"``.

    Returns:
        ``(distance, alpha_neighbour, pair_valid)``, each (B, k, H, W): the colour distances
        (``inf`` for empty slots), the neighbours' alphas (0 outside the image) and a bool mask
        of the non-empty slots.
    """
    k = resolve_neighbour_count(window, k)
    check_border(border)
    batch, _, height, width = image.shape
    offsets = window * window
    padding = window // 2
    image, alpha = image.float(), alpha.float()
    if valid is not None:
        image, alpha = image * valid, alpha * valid
    unfolded_image = F.unfold(image, window, padding=padding).view(batch, 3, offsets, height, width)
    difference = image.unsqueeze(2) - unfolded_image  # (B, 3, K*K, H, W)
    if norm == "torch":
        distance = torch.norm(difference, 2, dim=1)  # (B, K*K, H, W)
    elif norm == "sum_sqrt":
        distance = difference.pow(2).sum(dim=1).sqrt()
    else:
        raise ValueError(f"norm must be 'torch' or 'sum_sqrt', got {norm!r}")
    del difference, unfolded_image
    if border == "exclude":
        inside = torch.ones_like(alpha) if valid is None else valid.float()
        inside = F.unfold(inside, window, padding=padding).view(batch, offsets, height, width)
        distance = distance.masked_fill(inside == 0, math.inf)
    distance, index = torch.topk(distance, k, dim=1, largest=False)
    unfolded_alpha = F.unfold(alpha, window, padding=padding).view(batch, offsets, height, width)
    alpha_neighbour = torch.gather(unfolded_alpha, 1, index)
    return distance, alpha_neighbour, torch.isfinite(distance)


def reference_loss(
    name: str,
    image: torch.Tensor,
    alpha: torch.Tensor,
    *,
    window: int = 11,
    k: Optional[int] = None,
    border: str = "zeros",
    mask: Optional[torch.Tensor] = None,
    valid: Optional[torch.Tensor] = None,
    norm: str = "torch",
) -> torch.Tensor:
    """Unfold formulation of the neighbour loss ``name`` ("ddc", "dc" or "affinity").

    Same arguments as :func:`alphafree_matting.criterion.ddc_loss` (without precomputed
    neighbours), plus ``norm`` (see :func:`reference_neighbour_alphas`).
    """
    with float32_math(alpha):
        distance, alpha_neighbour, pair_valid = reference_neighbour_alphas(
            image, alpha, window=window, k=k, border=border, valid=valid, norm=norm
        )
        alpha_centre = alpha.float() if valid is None else alpha.float() * valid
        centre = torch.ones_like(alpha_centre, dtype=torch.bool)
        for restriction in (mask, valid):
            if restriction is not None:
                centre = centre & restriction
        if name == "affinity":
            weights = affinity_weights(distance, pair_valid)
            error = alpha_centre - (weights * alpha_neighbour).sum(dim=1, keepdim=True)
            return masked_mean(error.abs(), centre)
        terms = {"ddc": ddc_terms, "dc": dc_terms}[name]
        return masked_mean(terms(distance, alpha_centre, alpha_neighbour), pair_valid & centre)


reference_ddc_loss = partial(reference_loss, "ddc")
reference_dc_loss = partial(reference_loss, "dc")
reference_affinity_loss = partial(reference_loss, "affinity")

REFERENCE_LOSSES = {
    "ddc": reference_ddc_loss,
    "dc": reference_dc_loss,
    "affinity": reference_affinity_loss,
}
"""Reference loss functions by name (the tests' and the benchmark's oracle)."""
