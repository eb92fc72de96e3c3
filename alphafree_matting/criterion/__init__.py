"""The training criterion: label losses, neighbour-consistency losses (DDC & co) and
``TrimapCriterion`` composing them; ``ddc_reference`` is the unfold formulation the tests check
the fast losses against."""

from .criterion import DEFAULT_LOSSES, LOSS_NAMES, TrimapCriterion
from .ddc import affinity_loss, dc_loss, ddc_loss
from .neighbours import (
    BORDER_MODES,
    NO_NEIGHBOUR,
    NeighbourSelection,
    pad_neighbours,
    select_neighbours,
)
from .pixel_losses import alpha_l1_loss, known_bce_loss, known_loss

__all__ = [
    "BORDER_MODES",
    "DEFAULT_LOSSES",
    "LOSS_NAMES",
    "NO_NEIGHBOUR",
    "NeighbourSelection",
    "TrimapCriterion",
    "affinity_loss",
    "alpha_l1_loss",
    "dc_loss",
    "ddc_loss",
    "known_bce_loss",
    "known_loss",
    "pad_neighbours",
    "select_neighbours",
]
