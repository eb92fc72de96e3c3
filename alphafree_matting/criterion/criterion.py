"""``TrimapCriterion``: weights and sums the losses a config names; the maths lives elsewhere.

Swapping a supervision policy is one config line, e.g.::

    model.criterion.losses = {"known": 1.0, "ddc": 10.0}   # the paper
    model.criterion.losses = {"known": 1.0}                # known-only ablation
    model.criterion.losses = {"alpha_l1": 1.0}             # fine-label baseline
    model.criterion.region = "unknown"                     # DDC over the unknown region only
"""

import logging
from collections.abc import Mapping
from typing import Optional

import torch
from torch import nn

from alphafree_matting.conventions import unknown_mask

from .ddc import affinity_loss, dc_loss, ddc_loss
from .ddc_reference import REFERENCE_LOSSES
from .neighbours import check_border, resolve_neighbour_count, select_neighbours
from .pixel_losses import alpha_l1_loss, check_map, known_bce_loss, known_loss

logger = logging.getLogger(__name__)

# name -> (function, target key, what the dataset must provide for it)
LABEL_LOSSES = {
    "known": (known_loss, "trimap", "trimaps (trimap_file_name)"),
    "known_bce": (known_bce_loss, "trimap", "trimaps or masks (trimap_file_name)"),
    "alpha_l1": (alpha_l1_loss, "alpha", "ground-truth alphas (alpha_file_name)"),
}
NEIGHBOUR_LOSSES = {"ddc": ddc_loss, "dc": dc_loss, "affinity": affinity_loss}
LOSS_NAMES = tuple(LABEL_LOSSES) + tuple(NEIGHBOUR_LOSSES)
"""Every loss ``TrimapCriterion`` can compose."""
REGIONS = ("whole", "unknown")
IMPLEMENTATIONS = ("fast", "reference")
DEFAULT_LOSSES = {"known": 1.0, "ddc": 10.0}
"""The paper's supervision: known loss + 10 x DDC."""


class TrimapCriterion(nn.Module):
    """Weighted sum of label losses (known, known_bce, alpha_l1) and neighbour losses
    (ddc, dc, affinity), each returned as ``loss_<name>``.

    Args:
        losses: ``{name: weight}``; names from :data:`LOSS_NAMES`; a weight of 0 switches a loss
            off (it is not computed). ``None`` means :data:`DEFAULT_LOSSES`.
        window: neighbour window side K (odd).
        k: neighbours per pixel; ``None`` means ``k = window``.
        border: ``"zeros"`` (reference) or ``"exclude"`` (see ``criterion.neighbours``).
        region: centre pixels of the neighbour losses: ``"whole"`` image or ``"unknown"``
            trimap region only (Table 5 ablation).
        implementation: ``"fast"`` (compact indices, custom autograd) or ``"reference"``
            (the unfold formulation; slow, for checks).
    """

    def __init__(
        self,
        losses: Optional[Mapping] = None,
        window: int = 11,
        k: Optional[int] = None,
        border: str = "zeros",
        region: str = "whole",
        implementation: str = "fast",
    ):
        super().__init__()
        losses = dict(DEFAULT_LOSSES if losses is None else losses)
        if not losses:
            raise ValueError("TrimapCriterion needs at least one loss, e.g. {'known': 1.0}")
        for name, weight in losses.items():
            if name not in LOSS_NAMES:
                raise ValueError(
                    f"TrimapCriterion: unknown loss {name!r} in `losses`; choose from {LOSS_NAMES}"
                )
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(
                    f"TrimapCriterion: weight of loss {name!r} must be a number >= 0, "
                    f"got {weight!r}"
                )
        losses = {name: float(weight) for name, weight in losses.items() if weight != 0}
        if not losses:
            raise ValueError("TrimapCriterion: every loss has weight 0; give one a weight > 0")
        if region not in REGIONS:
            raise ValueError(f"TrimapCriterion: region must be one of {REGIONS}, got {region!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"TrimapCriterion: implementation must be one of {IMPLEMENTATIONS}, "
                f"got {implementation!r}"
            )
        self.losses = losses  # weight-0 losses are left out: never computed
        self.window = window
        self.k = resolve_neighbour_count(window, k)
        self.border = check_border(border)
        self.region = region
        self.implementation = implementation

    def extra_repr(self) -> str:
        return (
            f"losses={self.losses}, window={self.window}, k={self.k}, border={self.border!r}, "
            f"region={self.region!r}, implementation={self.implementation!r}"
        )

    def forward(
        self, alpha_pred: torch.Tensor, image: torch.Tensor, targets: Mapping
    ) -> dict[str, torch.Tensor]:
        """Compute the configured losses.

        Args:
            alpha_pred: (B, 1, H, W) predicted alpha in [0, 1].
            image: (B, 3, H, W) RGB in [0, 1], un-normalised (zeros on padding).
            targets: dict with ``trimap`` (B, 1, H, W) in {0, 0.5, 1} and/or ``alpha``
                (B, 1, H, W), optional ``valid`` (B, 1, H, W) bool (False on padding), optional
                ``neighbour_index`` + ``neighbour_distance`` (B, k, H, W) from
                ``select_neighbours`` (used instead of re-selecting, fast implementation only).

        Returns:
            ``{"loss_<name>": weight * loss}``, float32 scalars.
        """
        if alpha_pred.dim() != 4 or alpha_pred.shape[1] != 1:
            raise ValueError(
                f"TrimapCriterion: alpha_pred must have shape (B, 1, H, W), "
                f"got {tuple(alpha_pred.shape)}"
            )
        valid = targets.get("valid")
        if valid is not None:
            check_map(valid, alpha_pred, "targets['valid']", torch.bool)
        results = {}
        neighbours = None  # selected once per batch, shared by the neighbour losses
        for name, weight in self.losses.items():
            if name in LABEL_LOSSES:
                function, key, needs = LABEL_LOSSES[name]
                value = function(alpha_pred, _target(targets, key, name, needs), valid)
            else:
                if neighbours is None and self.implementation == "fast":
                    neighbours = self._neighbours(image, targets, valid)
                value = self._neighbour_loss(name, alpha_pred, image, targets, valid, neighbours)
            results[f"loss_{name}"] = weight * value
        return results

    def _neighbour_loss(self, name, alpha_pred, image, targets, valid, neighbours):
        mask = None
        if self.region == "unknown":
            trimap = _target(targets, "trimap", name, _TRIMAPS, " with region='unknown'")
            mask = unknown_mask(trimap)
        options = dict(window=self.window, k=self.k, border=self.border, mask=mask, valid=valid)
        if self.implementation == "reference":
            return REFERENCE_LOSSES[name](image, alpha_pred, **options)
        return NEIGHBOUR_LOSSES[name](image, alpha_pred, neighbours=neighbours, **options)

    def _neighbours(self, image, targets, valid):
        """The batch's precomputed neighbours if present, else freshly selected ones."""
        index = targets.get("neighbour_index")
        if index is None:
            return select_neighbours(
                image, window=self.window, k=self.k, border=self.border, valid=valid
            )
        distance = targets.get("neighbour_distance")
        if distance is None:
            raise MissingTargetError(
                "TrimapCriterion: targets has 'neighbour_index' but no 'neighbour_distance'; "
                "pass both outputs of select_neighbours"
            )
        if index.shape[1] != self.k or index.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"TrimapCriterion(window={self.window}, k={self.k}): precomputed neighbours have "
                f"shape {tuple(index.shape)} for images {tuple(image.shape)}; give the mapper's "
                "NeighbourSelection the criterion's window, k and border"
            )
        return index, distance


_TRIMAPS = "trimaps (trimap_file_name)"


class MissingTargetError(KeyError):
    """A configured loss needs a target the batch does not have."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


def _target(targets: Mapping, key: str, loss: str, needs: str, context: str = "") -> torch.Tensor:
    if targets.get(key) is None:
        raise MissingTargetError(
            f"TrimapCriterion: loss {loss!r}{context} needs targets[{key!r}], which this batch "
            f"lacks; the dataset must provide {needs} so the mapper adds {key!r} to each "
            f"training dict, or change model.criterion.losses / model.criterion.region"
        )
    return targets[key]
