"""TrimapCriterion: composition and weights, config errors, missing targets, region, padding,
precomputed neighbours, equality with the reference formulation, degenerate trimaps, LazyConfig
construction."""

import pytest
import torch
import torch.nn.functional as F

from alphafree_matting.criterion import (
    LOSS_NAMES,
    TrimapCriterion,
    alpha_l1_loss,
    ddc_loss,
    known_loss,
    pad_neighbours,
    select_neighbours,
)
from alphafree_matting.criterion.ddc_reference import REFERENCE_LOSSES
from tests.helpers.criterion_batches import random_batch

WINDOW = 5


def trimap_like(alpha, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 3, alpha.shape, generator=generator).float() / 2


def test_default_is_known_plus_ten_times_ddc():
    image, alpha, _, _ = random_batch((2, 3, 9, 10), seed=1)
    trimap = trimap_like(alpha)
    losses = TrimapCriterion(window=WINDOW)(alpha, image, {"trimap": trimap})
    assert set(losses) == {"loss_known", "loss_ddc"}
    assert losses["loss_known"].item() == pytest.approx(known_loss(alpha, trimap).item())
    ddc = ddc_loss(image, alpha, window=WINDOW).item()
    assert losses["loss_ddc"].item() == pytest.approx(10 * ddc, rel=1e-6)


def test_every_configured_loss_is_returned_with_its_weight():
    image, alpha, _, _ = random_batch((1, 3, 8, 8), seed=2)
    targets = {"trimap": trimap_like(alpha), "alpha": torch.rand_like(alpha)}
    criterion = TrimapCriterion(losses={name: 2.0 for name in LOSS_NAMES}, window=3)
    losses = criterion(alpha, image, targets)
    assert set(losses) == {f"loss_{name}" for name in LOSS_NAMES}
    expected = 2 * alpha_l1_loss(alpha, targets["alpha"]).item()
    assert losses["loss_alpha_l1"].item() == pytest.approx(expected)
    assert all(value.dtype == torch.float32 and value.dim() == 0 for value in losses.values())


def test_a_loss_with_weight_zero_is_switched_off_and_never_computed(monkeypatch):
    image, alpha, _, _ = random_batch((1, 3, 8, 8), seed=2)
    criterion = TrimapCriterion(losses={"known": 1.0, "ddc": 0, "affinity": 0.0}, window=3)
    assert criterion.losses == {"known": 1.0}
    monkeypatch.setattr(
        "alphafree_matting.criterion.criterion.select_neighbours",
        lambda *args, **kwargs: pytest.fail("neighbours selected for a switched-off loss"),
    )
    assert set(criterion(alpha, image, {"trimap": trimap_like(alpha)})) == {"loss_known"}
    with pytest.raises(ValueError, match="every loss has weight 0"):
        TrimapCriterion(losses={"known": 0, "ddc": 0})
    with pytest.raises(ValueError, match="weight of loss 'ddc' must be a number >= 0"):
        TrimapCriterion(losses={"known": 1.0, "ddc": -1.0})


def test_unknown_loss_name_and_bad_options_fail_at_construction():
    with pytest.raises(ValueError, match="unknown loss 'ddcc'.*'known', 'known_bce'"):
        TrimapCriterion(losses={"known": 1.0, "ddcc": 10.0})
    with pytest.raises(ValueError, match="weight of loss 'ddc' must be a number"):
        TrimapCriterion(losses={"ddc": "ten"})
    with pytest.raises(ValueError, match="region must be one of"):
        TrimapCriterion(region="fg")
    with pytest.raises(ValueError, match="window must be a positive odd integer"):
        TrimapCriterion(window=10)


@pytest.mark.parametrize(
    "losses,targets_keys,message",
    [
        ({"known": 1.0}, ["alpha"], r"loss 'known' needs targets\['trimap'\].*trimap_file_name"),
        ({"alpha_l1": 1.0}, ["trimap"], r"loss 'alpha_l1' needs targets\['alpha'\].*alpha_file"),
    ],
)
def test_missing_target_names_the_loss_the_key_and_the_dataset_fix(losses, targets_keys, message):
    image, alpha, _, _ = random_batch((1, 3, 6, 6), seed=3)
    targets = {key: torch.rand_like(alpha) for key in targets_keys}
    with pytest.raises(KeyError, match=message):
        TrimapCriterion(losses=losses)(alpha, image, targets)


def test_unknown_region_restricts_ddc_centres_to_the_trimap_unknown_pixels():
    image, alpha, _, _ = random_batch((2, 3, 9, 11), seed=4)
    trimap = trimap_like(alpha, seed=4)
    criterion = TrimapCriterion(losses={"ddc": 1.0}, window=WINDOW, region="unknown")
    value = criterion(alpha, image, {"trimap": trimap})["loss_ddc"]
    expected = ddc_loss(image, alpha, window=WINDOW, mask=trimap == 0.5)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert value.item() != pytest.approx(ddc_loss(image, alpha, window=WINDOW).item(), rel=1e-3)
    with pytest.raises(KeyError, match="region='unknown'"):
        criterion(alpha, image, {"alpha": alpha})


@pytest.mark.parametrize("border", ["zeros", "exclude"])
def test_batch_padding_marked_invalid_leaves_every_loss_unchanged(border):
    image, alpha, _, _ = random_batch((1, 3, 10, 13), seed=5)
    trimap = trimap_like(alpha, seed=5)
    losses = {"known": 1.0, "known_bce": 1.0, "ddc": 10.0, "dc": 1.0, "affinity": 1.0}
    criterion = TrimapCriterion(losses=losses, window=WINDOW, border=border)
    expected = criterion(alpha, image, {"trimap": trimap})
    padding = (0, 3, 0, 6)  # to 16 x 16, the way the model pads a batch
    padded_targets = {
        "trimap": F.pad(trimap, padding, value=0.5),
        "valid": F.pad(torch.ones_like(alpha, dtype=torch.bool), padding, value=False),
    }
    padded_alpha = F.pad(alpha, padding, value=0.9)
    padded = criterion(padded_alpha, F.pad(image, padding), padded_targets)
    for name, value in expected.items():
        assert padded[name].item() == pytest.approx(value.item(), rel=1e-6), name


def test_precomputed_neighbours_from_workers_are_used():
    image, alpha, _, _ = random_batch((2, 3, 8, 9), seed=6)
    trimap = trimap_like(alpha, seed=6)
    criterion = TrimapCriterion(losses={"ddc": 1.0, "affinity": 1.0}, window=WINDOW)
    expected = criterion(alpha, image, {"trimap": trimap})
    # Per-crop selection, as a data-loader worker would do, then padded to the batch size.
    per_crop = [select_neighbours(crop, window=WINDOW) for crop in image]
    index = torch.stack([pad_neighbours(*pair, 8, 9)[0] for pair in per_crop])
    distance = torch.stack([pad_neighbours(*pair, 8, 9)[1] for pair in per_crop])
    targets = {"trimap": trimap, "neighbour_index": index, "neighbour_distance": distance}
    assert criterion(alpha, image, targets)["loss_ddc"].item() == expected["loss_ddc"].item()
    # They are really used: neighbours of another image change the loss.
    other = select_neighbours(torch.rand_like(image), window=WINDOW)
    targets.update(neighbour_index=other[0], neighbour_distance=other[1])
    assert criterion(alpha, image, targets)["loss_ddc"].item() != expected["loss_ddc"].item()
    del targets["neighbour_distance"]
    with pytest.raises(KeyError, match="no 'neighbour_distance'"):
        criterion(alpha, image, targets)


def test_neighbours_of_a_larger_window_are_an_error_at_the_first_batch():
    """The mapper's NeighbourSelection and the criterion disagree on the window: same k, so the
    shapes fit; the offsets' range is checked once (the mismatch is the same in every batch)."""
    image, alpha, _, _ = random_batch((1, 3, 8, 9), seed=6)
    index, distance = select_neighbours(image, window=7, k=3)
    criterion = TrimapCriterion(losses={"ddc": 1.0}, window=3)
    targets = {
        "trimap": trimap_like(alpha),
        "neighbour_index": index,
        "neighbour_distance": distance,
    }
    with pytest.raises(ValueError, match="selected with a larger window"):
        criterion(alpha, image, targets)


def test_losses_and_gradients_equal_the_reference_formulation():
    """The criterion's fast neighbour losses against the unfold reference (ddc_reference)."""
    image, alpha, _, valid = random_batch((2, 3, 9, 10), seed=7, valid_rows=6)
    targets = {"trimap": trimap_like(alpha, seed=7), "valid": valid}
    weights = {"known": 1.0, "ddc": 10.0, "dc": 1.0, "affinity": 1.0}
    fast_alpha = alpha.clone().requires_grad_(True)
    fast = TrimapCriterion(losses=weights, window=WINDOW)(fast_alpha, image, targets)
    sum(fast.values()).backward()
    reference_alpha = alpha.clone().requires_grad_(True)
    reference = {"loss_known": known_loss(reference_alpha, targets["trimap"], valid)}
    for name in ("ddc", "dc", "affinity"):
        value = REFERENCE_LOSSES[name](image, reference_alpha, window=WINDOW, valid=valid)
        reference[f"loss_{name}"] = weights[name] * value
    sum(reference.values()).backward()
    for name, value in reference.items():
        assert fast[name].item() == pytest.approx(value.item(), rel=1e-5), name
    torch.testing.assert_close(fast_alpha.grad, reference_alpha.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("trimap_value", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("region", ["whole", "unknown"])
def test_all_known_or_all_unknown_trimap_gives_finite_losses_and_gradients(trimap_value, region):
    image, alpha, _, _ = random_batch((1, 3, 7, 7), seed=8)
    alpha = alpha.round().requires_grad_(True)  # saturated alphas too
    trimap = torch.full_like(alpha, trimap_value)
    losses = {"known": 1.0, "known_bce": 1.0, "ddc": 10.0, "dc": 1.0, "affinity": 1.0}
    criterion = TrimapCriterion(losses=losses, window=3, region=region)
    values = criterion(alpha, image, {"trimap": trimap})
    assert all(torch.isfinite(value) for value in values.values())
    sum(values.values()).backward()
    assert torch.isfinite(alpha.grad).all()


def test_builds_from_lazy_config_with_a_one_line_policy_swap():
    from detectron2.config import LazyCall as L
    from detectron2.config import instantiate

    config = L(TrimapCriterion)(losses={"known": 1.0, "ddc": 10.0}, window=WINDOW)
    config.losses = {"known": 1.0}
    criterion = instantiate(config)
    image, alpha, _, _ = random_batch((1, 3, 6, 6), seed=9)
    assert set(criterion(alpha, image, {"trimap": trimap_like(alpha)})) == {"loss_known"}
