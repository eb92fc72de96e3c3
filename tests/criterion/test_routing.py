"""Mixed supervision in TrimapCriterion: each loss runs on the samples that have its label and is
averaged over them only (= the loss of the sub-batch of those samples); batches without one kind;
float32; weight 0 still switches a loss off."""

import logging

import pytest
import torch

from alphafree_matting.criterion import TrimapCriterion
from tests.helpers.criterion_batches import random_batch

HAS_ALPHA = torch.tensor([True, False, True, False])


def mixed_batch(seed=0, has_alpha=HAS_ALPHA):
    """4 samples of 12x14 (the last padded below row 9); ``has_alpha`` have a GT alpha, the
    others a trimap: placeholders where a sample lacks a label, as MattingModel stacks them."""
    image, alpha, mask, valid = random_batch((4, 3, 12, 14), seed=seed, valid_rows=9)
    generator = torch.Generator().manual_seed(seed + 1)
    trimap = torch.randint(0, 3, (4, 1, 12, 14), generator=generator).float() / 2
    gt_alpha = torch.rand((4, 1, 12, 14), generator=generator)
    trimap[has_alpha] = 0.5
    gt_alpha[~has_alpha] = 0.0
    targets = {
        "trimap": trimap,
        "alpha": gt_alpha,
        "valid": valid,
        "has_alpha": has_alpha,
        "has_trimap": ~has_alpha,
    }
    return image, alpha.requires_grad_(), targets


def sub_batch(image, alpha, targets, chosen, keys):
    """The criterion's arguments (alpha, image, targets) for the ``chosen`` samples alone."""
    return alpha[chosen], image[chosen], {key: targets[key][chosen] for key in keys}


MIXED = {"known": 1.0, "ddc": 10.0, "alpha_l1": 1.0}


def test_each_loss_equals_the_loss_of_the_sub_batch_it_applies_to():
    image, alpha, targets = mixed_batch()
    losses = TrimapCriterion(MIXED, window=5)(alpha, image, targets)
    trimap_only = TrimapCriterion({"known": 1.0, "ddc": 10.0}, window=5)(
        *sub_batch(image, alpha, targets, ~HAS_ALPHA, ("trimap", "valid"))
    )
    alpha_only = TrimapCriterion({"alpha_l1": 1.0}, window=5)(
        *sub_batch(image, alpha, targets, HAS_ALPHA, ("alpha", "valid"))
    )
    for name in ("loss_known", "loss_ddc"):
        torch.testing.assert_close(losses[name], trimap_only[name])
    torch.testing.assert_close(losses["loss_alpha_l1"], alpha_only["loss_alpha_l1"])


def test_alpha_samples_get_gradient_only_from_their_alpha_loss_by_default():
    image, alpha, targets = mixed_batch()
    losses = TrimapCriterion({"known": 1.0, "ddc": 10.0}, window=5)(alpha, image, targets)
    sum(losses.values()).backward()
    assert (alpha.grad[HAS_ALPHA] == 0).all() and (alpha.grad[~HAS_ALPHA] != 0).any()


def test_neighbour_on_alpha_puts_ddc_on_every_sample():
    image, alpha, targets = mixed_batch()
    criterion = TrimapCriterion(MIXED, window=5, neighbour_on_alpha=True)
    every = TrimapCriterion({"ddc": 10.0}, window=5)(alpha, image, {"valid": targets["valid"]})
    torch.testing.assert_close(criterion(alpha, image, targets)["loss_ddc"], every["loss_ddc"])


@pytest.mark.parametrize("has_alpha", [torch.ones(4, dtype=torch.bool), torch.zeros(4, dtype=bool)])
def test_a_batch_without_one_label_kind_gives_zero_for_its_losses(has_alpha):
    image, alpha, targets = mixed_batch(has_alpha=has_alpha)
    missing = "trimap" if has_alpha.all() else "alpha"
    del targets[missing]  # no sample has it: the model does not stack it
    losses = TrimapCriterion(MIXED, window=5)(alpha, image, targets)
    zero = ("loss_known", "loss_ddc") if missing == "trimap" else ("loss_alpha_l1",)
    for name, value in losses.items():
        assert value.dtype == torch.float32 and torch.isfinite(value)
        assert (value == 0) == (name in zero), name
    sum(losses.values()).backward()  # the zeros stay connected to the prediction
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all()


def test_losses_stay_float32_under_autocast_and_weight_0_is_not_computed(monkeypatch):
    image, alpha, targets = mixed_batch()
    calls = []
    monkeypatch.setattr(
        "alphafree_matting.criterion.criterion.select_neighbours",
        lambda *a, **k: calls.append(1) or pytest.fail("ddc computed with weight 0"),
    )
    criterion = TrimapCriterion({"known": 1.0, "ddc": 0.0, "alpha_l1": 1.0})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = criterion(alpha.bfloat16(), image, targets)
    assert set(losses) == {"loss_known", "loss_alpha_l1"} and not calls
    assert all(value.dtype == torch.float32 for value in losses.values())


def test_unknown_region_in_a_mixed_batch_stays_on_the_trimap_samples():
    image, alpha, targets = mixed_batch()
    losses = TrimapCriterion({"ddc": 1.0}, window=5, region="unknown")(alpha, image, targets)
    sub = TrimapCriterion({"ddc": 1.0}, window=5, region="unknown")(
        *sub_batch(image, alpha, targets, ~HAS_ALPHA, ("trimap", "valid"))
    )
    torch.testing.assert_close(losses["loss_ddc"], sub["loss_ddc"])


def test_bad_routing_masks_and_unused_alpha_samples_are_reported(caplog):
    image, alpha, targets = mixed_batch()
    with pytest.raises(ValueError, match=r"'has_trimap' and 'has_alpha'.*shape \(4,\)"):
        TrimapCriterion(MIXED)(alpha, image, {**targets, "has_alpha": HAS_ALPHA[:2]})
    with caplog.at_level(logging.WARNING):
        TrimapCriterion({"known": 1.0}, window=5)(alpha, image, targets)
    assert "add 'alpha_l1'" in caplog.text
