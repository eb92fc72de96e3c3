"""The neighbour-consistency losses: DDC (the paper's), DC and affinity (ablations).

For every centre pixel ``i`` and each of its selected neighbours ``j`` (see
:mod:`alphafree_matting.criterion.neighbours`), with ``d = d(i, j)`` the colour distance:

* DDC: ``|d - (a_i - a_j)|`` -- the alpha difference keeps its sign, so summed over a symmetric
  pair the minimum is reached wherever ``|a_i - a_j| <= d``;
* DC: ``|d - |a_i - a_j||``;
* affinity: ``|a_i - sum_j w_ij a_j|`` per centre, ``w_ij`` the row-normalised similarities
  ``1 - d / sqrt(3)`` of the selected neighbours.

DDC and DC average over the non-empty pairs whose centre is in ``mask`` and ``valid``, affinity
over those centres; unweighted (the criterion applies the weight). A custom autograd function
computes loss and gradient in one pass over the k slots, in O(B*k*H*W) memory;
:mod:`.ddc_reference` is the plain unfold version (equal to float32 rounding and up to ties).
"""

import logging
import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from .neighbours import (
    NO_NEIGHBOUR,
    check_border,
    offset_flat_steps,
    resolve_neighbour_count,
    select_neighbours,
)
from .pixel_losses import check_map, float32_math

logger = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 1 << 20  # (centre, neighbour) pairs per tensor operation: bounds temporaries

Neighbours = tuple[torch.Tensor, torch.Tensor]
"""``(neighbour_index, neighbour_distance)`` as returned by ``select_neighbours``."""


# --- the terms, shared with the reference implementation ------------------------------------
def ddc_terms(distance: torch.Tensor, alpha_centre: torch.Tensor, alpha_neighbour: torch.Tensor):
    """DDC term ``|d - (a_i - a_j)|`` (broadcasting tensors)."""
    return (distance - (alpha_centre - alpha_neighbour)).abs()


def dc_terms(distance: torch.Tensor, alpha_centre: torch.Tensor, alpha_neighbour: torch.Tensor):
    """DC term ``|d - |a_i - a_j||`` (broadcasting tensors)."""
    return (distance - (alpha_centre - alpha_neighbour).abs()).abs()


def _ddc_term_grads(distance, alpha_centre, alpha_neighbour):
    """(d term / d a_i, d term / d a_j), with autograd's convention sign(0) = 0."""
    sign = torch.sign(distance - (alpha_centre - alpha_neighbour))
    return -sign, sign


def _dc_term_grads(distance, alpha_centre, alpha_neighbour):
    alpha_difference = alpha_centre - alpha_neighbour
    sign = torch.sign(distance - alpha_difference.abs()) * torch.sign(alpha_difference)
    return -sign, sign


_PAIR_TERMS: dict[str, tuple[Callable, Callable]] = {
    "ddc": (ddc_terms, _ddc_term_grads),
    "dc": (dc_terms, _dc_term_grads),
}


def affinity_weights(neighbour_distance: torch.Tensor, pair_valid: torch.Tensor) -> torch.Tensor:
    """(B, k, H, W) weights ``1 - d / sqrt(3)`` of the (B, k, H, W) distances, 0 where
    ``pair_valid`` is False, normalised to sum 1 over each pixel's slots."""
    similarity = (1.0 - neighbour_distance / math.sqrt(3.0)).clamp_min(0.0)
    similarity = torch.where(pair_valid, similarity, similarity.new_zeros(()))
    return similarity / similarity.sum(dim=1, keepdim=True).clamp_min(1e-12)


# --- slot-wise evaluation from compact indices -----------------------------------------------
class _SlotGather:
    """Gathers neighbour alphas slot by slot from the flat (B*(H+2r)*(W+2r),) zero-padded
    (B, 1, H, W) float32 ``alpha``, by the (B, k, H, W) ``neighbour_index`` offsets of ``window``.
    """

    def __init__(self, alpha: torch.Tensor, neighbour_index: torch.Tensor, window: int):
        batch, _, height, width = alpha.shape
        radius = window // 2
        self.shape = alpha.shape
        self.radius = radius
        self.index = neighbour_index
        self.padded = F.pad(alpha, (radius,) * 4).reshape(-1)  # (B*(H+2r)*(W+2r),)
        dtype = torch.int32 if self.padded.numel() < 2**31 else torch.int64
        padded_width = width + 2 * radius
        device = alpha.device
        rows = torch.arange(radius, radius + height, device=device) * padded_width
        columns = torch.arange(radius, radius + width, device=device)
        images = torch.arange(batch, device=device) * (self.padded.numel() // batch)
        self.centre_flat = (images[:, None] + (rows[:, None] + columns).reshape(1, -1)).to(dtype)
        # shifted by one: entry 0 serves empty slots (pointing at the centre)
        steps = offset_flat_steps(window, padded_width, device)
        self.steps = torch.cat([steps.new_zeros(1), steps]).to(dtype)

    def slots(self, first: int, last: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices into ``padded`` and validity (bool) of slots ``first:last``, both
        (B, last - first, H*W)."""
        offset = self.index[:, first:last].reshape(self.shape[0], last - first, -1)
        filled = offset != NO_NEIGHBOUR
        shifted = offset.to(self.steps.dtype) + 1
        flat = self.steps.index_select(0, shifted.view(-1)).view_as(shifted)
        return flat.add_(self.centre_flat[:, None]), filled

    def chunks(self):
        """``(first, last)`` slot ranges of about ``_CHUNK_ELEMENTS`` pairs each."""
        per_slot = max(1, self.shape[0] * self.shape[2] * self.shape[3])
        size = max(1, _CHUNK_ELEMENTS // per_slot)
        slots = self.index.shape[1]
        return [(first, min(slots, first + size)) for first in range(0, slots, size)]

    def gather(self, flat: torch.Tensor) -> torch.Tensor:
        return self.padded.index_select(0, flat.view(-1)).view_as(flat)

    def new_padded_grad(self) -> torch.Tensor:
        return torch.zeros_like(self.padded)

    @staticmethod
    def scatter_add(grad_padded: torch.Tensor, flat: torch.Tensor, values: torch.Tensor) -> None:
        grad_padded.index_add_(0, flat.view(-1), values.reshape(-1))

    def to_alpha_grad(self, grad_padded: torch.Tensor) -> torch.Tensor:
        """Crop a flat padded gradient back to (B, 1, H, W) (the border is constant)."""
        batch, _, height, width = self.shape
        r = self.radius
        grad = grad_padded.view(batch, 1, height + 2 * r, width + 2 * r)
        return grad[:, :, r : r + height, r : r + width]


def _pair_loss_and_grad(
    alpha, neighbour_index, neighbour_distance, centre_mask, window, term, with_grad
):
    """Mean pair term over the selected pairs and, if ``with_grad``, its gradient w.r.t. alpha
    (at the centre directly, at the neighbours by index-add), in one pass over the slots."""
    terms, term_grads = _PAIR_TERMS[term]
    gather = _SlotGather(alpha, neighbour_index, window)
    batch = alpha.shape[0]
    alpha_centre = alpha.reshape(batch, 1, -1)
    centre = centre_mask.reshape(batch, 1, -1)
    zero = alpha.new_zeros(())
    total = alpha.new_zeros(())
    count = torch.zeros((), dtype=torch.int64, device=alpha.device)
    grad_centre = torch.zeros_like(alpha_centre) if with_grad else None
    grad_padded = gather.new_padded_grad() if with_grad else None
    for first, last in gather.chunks():
        flat, filled = gather.slots(first, last)  # (B, n, H*W)
        pair = filled & centre
        distance = neighbour_distance[:, first:last].reshape(flat.shape)
        alpha_neighbour = gather.gather(flat)
        total += torch.where(pair, terms(distance, alpha_centre, alpha_neighbour), zero).sum()
        count += pair.sum()
        if with_grad:
            grad_i, grad_j = term_grads(distance, alpha_centre, alpha_neighbour)
            grad_centre += torch.where(pair, grad_i, zero).sum(dim=1, keepdim=True)
            gather.scatter_add(grad_padded, flat, torch.where(pair, grad_j, zero))
    count = count.clamp_min(1)
    if not with_grad:
        return total / count, None
    grad = grad_centre.view_as(alpha) + gather.to_alpha_grad(grad_padded)
    return total / count, grad / count


def _affinity_loss_and_grad(
    alpha, neighbour_index, neighbour_distance, centre_mask, window, with_grad
):
    """Mean affinity error over the centres and, if ``with_grad``, its gradient w.r.t. alpha."""
    gather = _SlotGather(alpha, neighbour_index, window)
    batch = alpha.shape[0]
    weights = affinity_weights(neighbour_distance, neighbour_index != NO_NEIGHBOUR)
    weights = weights.reshape(batch, weights.shape[1], -1)  # (B, k, H*W)
    weighted_alpha = torch.zeros_like(alpha).reshape(batch, 1, -1)
    for first, last in gather.chunks():
        flat, _ = gather.slots(first, last)
        weighted_alpha += (weights[:, first:last] * gather.gather(flat)).sum(dim=1, keepdim=True)
    error = alpha.reshape(batch, 1, -1) - weighted_alpha
    centre = centre_mask.reshape(batch, 1, -1)
    count = centre.sum().clamp_min(1)
    loss = torch.where(centre, error.abs(), error.new_zeros(())).sum() / count
    if not with_grad:
        return loss, None
    grad_error = torch.where(centre, torch.sign(error), error.new_zeros(())) / count
    grad_padded = gather.new_padded_grad()
    for first, last in gather.chunks():
        flat, _ = gather.slots(first, last)
        gather.scatter_add(grad_padded, flat, -grad_error * weights[:, first:last])
    return loss, grad_error.view_as(alpha) + gather.to_alpha_grad(grad_padded)


class _LossWithGradient(torch.autograd.Function):
    """Autograd wrapper of a ``*_loss_and_grad`` function: the gradient is computed with the value
    and only scaled on backward (nothing of size k*H*W kept; no double backward)."""

    @staticmethod
    def forward(ctx, loss_and_grad, alpha, *arguments):
        loss, grad = loss_and_grad(alpha, *arguments, with_grad=ctx.needs_input_grad[1])
        ctx.save_for_backward(grad)
        ctx.num_arguments = len(arguments)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return (None, grad * grad_output) + (None,) * ctx.num_arguments


# --- public functions ------------------------------------------------------------------------
def check_neighbours(neighbours: Neighbours, alpha: torch.Tensor, window: int, k: int) -> None:
    """Raise a ValueError unless ``neighbours`` fit ``alpha`` and the window/k configuration."""
    if not isinstance(neighbours, (tuple, list)) or len(neighbours) != 2:
        raise ValueError("neighbours must be a pair (neighbour_index, neighbour_distance)")
    index, distance = neighbours
    expected = (alpha.shape[0], k, *alpha.shape[2:])
    if tuple(index.shape) != expected or tuple(distance.shape) != expected:
        raise ValueError(
            f"neighbour_index/neighbour_distance must have shape {expected} (B, k, H, W) for "
            f"k={k} and alpha {tuple(alpha.shape)}, got {tuple(index.shape)} and "
            f"{tuple(distance.shape)}; select them with the same window/k as the loss and pad "
            f"them to the batch size with pad_neighbours"
        )
    if index.dtype.is_floating_point or index.dtype == torch.bool:
        raise ValueError(f"neighbour_index must be an integer tensor, got {index.dtype}")
    if index.numel() and int(index.max()) >= window * window:
        raise ValueError(
            f"neighbour_index holds window offsets up to {int(index.max())}, more than a "
            f"{window}x{window} window has; neighbours were selected with a larger window"
        )


def check_neighbour_inputs(
    image: Optional[torch.Tensor],
    alpha: torch.Tensor,
    window: int,
    k: Optional[int],
    border: str,
    mask: Optional[torch.Tensor],
    valid: Optional[torch.Tensor],
    neighbours: Optional[Neighbours],
) -> int:
    """Raise a ValueError unless the arguments of a neighbour loss fit together; return k."""
    k = resolve_neighbour_count(window, k)
    check_border(border)
    if alpha.dim() != 4 or alpha.shape[1] != 1:
        raise ValueError(f"alpha must have shape (B, 1, H, W), got {tuple(alpha.shape)}")
    for map_name, value in (("mask", mask), ("valid", valid)):
        if value is not None:
            check_map(value, alpha, map_name, torch.bool)
    if neighbours is not None:
        check_neighbours(neighbours, alpha, window, k)
    elif image is None or tuple(image.shape) != (alpha.shape[0], 3, *alpha.shape[2:]):
        shape = None if image is None else tuple(image.shape)
        raise ValueError(
            f"image must have shape (B, 3, H, W) matching alpha {tuple(alpha.shape)}, got {shape}"
        )
    return k


def neighbour_loss(
    name: str,
    image: Optional[torch.Tensor],
    alpha: torch.Tensor,
    *,
    window: int,
    k: int,
    border: str,
    mask: Optional[torch.Tensor] = None,
    valid: Optional[torch.Tensor] = None,
    neighbours: Optional[Neighbours] = None,
) -> torch.Tensor:
    """The neighbour loss ``name`` ("ddc", "dc" or "affinity") of arguments already checked
    (:func:`check_neighbour_inputs`; ``k`` resolved): the criterion's unchecked hot path."""
    centre_mask = torch.ones_like(alpha, dtype=torch.bool)
    for value in (mask, valid):
        if value is not None:
            centre_mask = centre_mask & value
    with float32_math(alpha):
        if neighbours is None:
            neighbours = select_neighbours(image, window=window, k=k, border=border, valid=valid)
        neighbour_index, neighbour_distance = neighbours
        alpha = alpha.float()
        if valid is not None:
            alpha = alpha * valid  # pixels outside `valid` act as outside the image: alpha 0
        neighbour_distance = neighbour_distance.float()
        arguments = (neighbour_index, neighbour_distance, centre_mask, window)
        if name == "affinity":
            loss_and_grad = _affinity_loss_and_grad
        else:
            loss_and_grad, arguments = _pair_loss_and_grad, (*arguments, name)
        if not (torch.is_grad_enabled() and alpha.requires_grad):  # value only, no gradient
            return loss_and_grad(alpha, *arguments, with_grad=False)[0]
        return _LossWithGradient.apply(loss_and_grad, alpha, *arguments)


_SIGNATURE_DOC = """
    Args:
        image: (B, 3, H, W) RGB in [0, 1], un-normalised (used only to select neighbours; may be
            None when ``neighbours`` is given).
        alpha: (B, 1, H, W) predicted alpha in [0, 1]; any float dtype, maths in float32.
        window: odd window side K (11 in the paper).
        k: neighbours per pixel; ``None`` means ``k = window``.
        border: ``"zeros"`` (reference: outside pixels are black with alpha 0) or ``"exclude"``.
        mask: optional bool (B, 1, H, W) restricting the centre pixels (e.g. the unknown region).
        valid: optional bool (B, 1, H, W); pixels outside it (padding) are neither centres nor
            neighbours -- they act like pixels outside the image.
        neighbours: optional precomputed ``select_neighbours`` output for the same window/k/border.

    Returns:
        float32 scalar (0, still connected to ``alpha``, when no centre is selected).
"""


def _public_loss(name: str, summary: str):
    """The public function of one neighbour loss; the three share one signature."""

    def loss(
        image: Optional[torch.Tensor],
        alpha: torch.Tensor,
        *,
        window: int = 11,
        k: Optional[int] = None,
        border: str = "zeros",
        mask: Optional[torch.Tensor] = None,
        valid: Optional[torch.Tensor] = None,
        neighbours: Optional[Neighbours] = None,
    ) -> torch.Tensor:
        options = dict(window=window, border=border, mask=mask, valid=valid, neighbours=neighbours)
        k = check_neighbour_inputs(image, alpha, k=k, **options)
        return neighbour_loss(name, image, alpha, k=k, **options)

    loss.__name__ = loss.__qualname__ = f"{name}_loss"
    loss.__doc__ = summary + _SIGNATURE_DOC
    return loss


ddc_loss = _public_loss("ddc", "Mean DDC term ``|d(i,j) - (a_i - a_j)|`` over the pairs.")
dc_loss = _public_loss("dc", "Mean DC term ``|d(i,j) - |a_i - a_j||`` over the pairs.")
affinity_loss = _public_loss(
    "affinity", "Mean over centres of ``|a_i - sum_j w_ij a_j|`` (similarity-weighted neighbours)."
)
