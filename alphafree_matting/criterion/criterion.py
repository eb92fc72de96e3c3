"""``TrimapCriterion``: weights and sums the losses a config names; the maths lives elsewhere.

Swapping a supervision policy is one config line, e.g.::

    model.criterion.losses = {"known": 1.0, "ddc": 10.0}   # the paper
    model.criterion.losses = {"known": 1.0}                # known-only ablation
    model.criterion.losses = {"alpha_l1": 1.0}             # fine-label baseline
    model.criterion.region = "unknown"                     # DDC over the unknown region only

In mixed batches (``has_trimap`` / ``has_alpha`` targets) each loss is averaged over the samples
with the label it needs (neighbour losses: trimap samples, plus alpha ones with
``neighbour_on_alpha``); with no such sample it is 0, still connected to the prediction.
"""

import logging
from collections.abc import Mapping
from typing import Optional

import torch
from torch import nn

from alphafree_matting.conventions import unknown_mask

from .ddc import check_neighbours, neighbour_loss
from .neighbours import check_border, resolve_neighbour_count, select_neighbours
from .pixel_losses import alpha_l1_loss, check_map, known_bce_loss, known_loss

logger = logging.getLogger(__name__)

# name -> (function, target key, what the dataset must provide for it)
LABEL_LOSSES = {
    "known": (known_loss, "trimap", "trimaps (trimap_file_name)"),
    "known_bce": (known_bce_loss, "trimap", "trimaps or masks (trimap_file_name)"),
    "alpha_l1": (alpha_l1_loss, "alpha", "ground-truth alphas (alpha_file_name)"),
}
NEIGHBOUR_LOSSES = ("ddc", "dc", "affinity")  # criterion.ddc.neighbour_loss(name, ...)
LOSS_NAMES = tuple(LABEL_LOSSES) + NEIGHBOUR_LOSSES
"""Every loss ``TrimapCriterion`` can compose."""
REGIONS = ("whole", "unknown")
DEFAULT_LOSSES = {"known": 1.0, "ddc": 10.0}
"""The paper's supervision: known loss + 10 x DDC."""


class TrimapCriterion(nn.Module):
    """Weighted sum of label losses (known, known_bce, alpha_l1) and neighbour losses
    (ddc, dc, affinity), each returned as ``loss_<name>``.

    Args:
        losses: ``{name: weight}`` of :data:`LOSS_NAMES`; weight 0 switches a loss off (not
            computed). ``None``: :data:`DEFAULT_LOSSES`.
        window, k, border: neighbour selection (odd K; ``k=None``: K; ``"zeros"`` reference or
            ``"exclude"``, see ``criterion.neighbours``).
        region: neighbour-loss centres: ``"whole"`` image or ``"unknown"`` region (Table 5).
        neighbour_on_alpha: in mixed batches, neighbour losses also on alpha-labelled samples.
    """

    def __init__(
        self,
        losses: Optional[Mapping] = None,
        window: int = 11,
        k: Optional[int] = None,
        border: str = "zeros",
        region: str = "whole",
        neighbour_on_alpha: bool = False,
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
        self.losses = losses  # weight-0 losses are left out: never computed
        self.window = window
        self.k = resolve_neighbour_count(window, k)
        self.border = check_border(border)
        self.region = region
        self.neighbour_on_alpha = bool(neighbour_on_alpha)
        self._warned_unused_alpha = False
        self._checked_neighbours = False  # precomputed neighbours: value check on the first batch

    def extra_repr(self) -> str:
        return (
            f"losses={self.losses}, window={self.window}, k={self.k}, border={self.border!r}, "
            f"region={self.region!r}, neighbour_on_alpha={self.neighbour_on_alpha}"
        )

    def forward(
        self, alpha_pred: torch.Tensor, image: torch.Tensor, targets: Mapping
    ) -> dict[str, torch.Tensor]:
        """``{"loss_<name>": weight * loss}`` float32 scalars of the configured losses.

        Args:
            alpha_pred: (B, 1, H, W) predicted alpha in [0, 1].
            image: (B, 3, H, W) RGB in [0, 1], un-normalised (zeros on padding).
            targets: ``trimap`` (B, 1, H, W) in {0, 0.5, 1} and/or ``alpha`` (B, 1, H, W);
                optional bool ``valid`` (B, 1, H, W), precomputed ``neighbour_index`` +
                ``neighbour_distance`` (B, k, H, W), mixed-supervision ``has_*`` (B,) bool.
        """
        image_shape = (alpha_pred.shape[0], 3, *alpha_pred.shape[2:])
        if alpha_pred.dim() != 4 or alpha_pred.shape[1] != 1 or image.shape != image_shape:
            raise ValueError(
                f"TrimapCriterion: alpha_pred must have shape (B, 1, H, W) and image "
                f"(B, 3, H, W); got {tuple(alpha_pred.shape)} and {tuple(image.shape)}"
            )
        valid = targets.get("valid")
        if valid is not None:
            check_map(valid, alpha_pred, "targets['valid']", torch.bool)
        samples = self._samples(targets, alpha_pred)
        results = {}
        neighbours = None  # selected once per batch, shared by the neighbour losses
        for name, weight in self.losses.items():
            route = "neighbour" if name in NEIGHBOUR_LOSSES else LABEL_LOSSES[name][1]
            chosen = samples.get(route)  # (B,) bool, or None: every sample
            if chosen is not None and not bool(chosen.any()):
                results[f"loss_{name}"] = _zero_loss(alpha_pred)  # no sample with that label
                continue
            chosen_valid = _restrict(valid, chosen, alpha_pred)
            if name in LABEL_LOSSES:
                function, key, needs = LABEL_LOSSES[name]
                value = function(alpha_pred, _target(targets, key, name, needs), chosen_valid)
            else:
                if neighbours is None:
                    neighbours = self._neighbours(image, targets, valid)
                value = self._neighbour_loss(
                    name, alpha_pred, image, targets, valid, neighbours, chosen
                )
            results[f"loss_{name}"] = weight * value
        return results

    def _samples(self, targets: Mapping, alpha_pred: torch.Tensor) -> dict:
        """Mixed supervision: route (label key or "neighbour") -> (B,) bool samples; {} else."""
        if "has_trimap" not in targets and "has_alpha" not in targets:
            return {}
        batch = alpha_pred.shape[0]
        routes = {}
        for key in ("trimap", "alpha"):
            has = targets.get(f"has_{key}")
            if has is None or has.dtype != torch.bool or tuple(has.shape) != (batch,):
                raise ValueError(
                    f"TrimapCriterion: mixed-supervision targets need 'has_trimap' and "
                    f"'has_alpha', bool tensors of shape ({batch},); got has_{key}="
                    f"{None if has is None else (has.dtype, tuple(has.shape))}"
                )
            routes[key] = has
        routes["neighbour"] = routes["trimap"]
        if self.neighbour_on_alpha:
            routes["neighbour"] = routes["trimap"] | routes["alpha"]
        unused = "alpha_l1" not in self.losses and not self.neighbour_on_alpha
        if unused and bool(routes["alpha"].any()) and not self._warned_unused_alpha:
            self._warned_unused_alpha = True
            logger.warning(
                "TrimapCriterion: the batch has alpha-labelled samples but no configured loss "
                "uses them (losses %s); add 'alpha_l1' to model.criterion.losses",
                sorted(self.losses),
            )
        return routes

    def _neighbour_loss(self, name, alpha_pred, image, targets, valid, neighbours, chosen=None):
        mask = None
        if self.region == "unknown":
            if chosen is not None and targets.get("trimap") is None:
                mask = torch.ones_like(alpha_pred, dtype=torch.bool)  # alpha samples only
            else:
                trimap = _target(targets, "trimap", name, _TRIMAPS, " with region='unknown'")
                mask = unknown_mask(trimap)
        if chosen is not None:  # mixed batch: centres on the chosen samples only
            chosen_map = _restrict(None, chosen, alpha_pred)
            mask = chosen_map if mask is None else mask & chosen_map
        options = dict(window=self.window, k=self.k, border=self.border, mask=mask, valid=valid)
        return neighbour_loss(name, image, alpha_pred, neighbours=neighbours, **options)

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
        if not self._checked_neighbours:  # a window mismatch is the same in every batch
            check_neighbours((index, distance), image[:, :1], self.window, self.k)
            self._checked_neighbours = True
        return index, distance


_TRIMAPS = "trimaps (trimap_file_name)"


def _zero_loss(alpha_pred: torch.Tensor) -> torch.Tensor:
    """float32 0 connected to ``alpha_pred`` (zero gradient), so every parameter gets one."""
    with torch.autocast(device_type=alpha_pred.device.type, enabled=False):
        return alpha_pred.float().sum() * 0.0


def _restrict(valid, chosen, alpha_pred):
    """``valid`` (B, 1, H, W) bool or None, further restricted to the ``chosen`` (B,) samples."""
    if chosen is None:
        return valid
    chosen_map = chosen.view(-1, 1, 1, 1).expand(alpha_pred.shape[0], 1, *alpha_pred.shape[2:])
    return chosen_map if valid is None else valid & chosen_map


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
