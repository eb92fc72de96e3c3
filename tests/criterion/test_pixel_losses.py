"""Known loss, its BCE variant and the alpha L1: hand values, empty sets, padding, autocast."""

import math

import pytest
import torch

from alphafree_matting.criterion import alpha_l1_loss, known_bce_loss, known_loss


def maps(values):
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def test_known_loss_is_mean_abs_error_over_known_pixels_only():
    alpha = maps([0.2, 0.7, 0.4, 0.9])
    trimap = maps([0.0, 1.0, 0.5, 0.5])
    assert known_loss(alpha, trimap).item() == pytest.approx((0.2 + 0.3) / 2)


def test_known_loss_ignores_pixels_outside_valid():
    alpha = maps([0.2, 0.7, 0.4])
    trimap = maps([0.0, 1.0, 1.0])
    valid = torch.tensor([True, True, False]).view(1, 1, 1, 3)
    assert known_loss(alpha, trimap, valid).item() == pytest.approx((0.2 + 0.3) / 2)


@pytest.mark.parametrize("loss", [known_loss, known_bce_loss])
def test_no_known_pixel_gives_zero_connected_to_alpha_not_nan(loss):
    alpha = maps([0.0, 0.3, 1.0]).requires_grad_(True)
    value = loss(alpha, maps([0.5, 0.5, 0.5]))
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(alpha.grad, torch.zeros_like(alpha))


def test_known_bce_loss_hand_value_and_finite_at_saturated_alpha():
    alpha = maps([0.2, 0.7, 0.1])
    trimap = maps([0.0, 1.0, 0.5])
    expected = (-math.log(0.8) - math.log(0.7)) / 2
    assert known_bce_loss(alpha, trimap).item() == pytest.approx(expected, rel=1e-6)
    assert torch.isfinite(known_bce_loss(maps([1.0, 0.0]), maps([0.0, 1.0])))


def test_alpha_l1_loss_is_mean_abs_error_over_valid_pixels():
    alpha = maps([0.2, 0.7, 0.4])
    gt_alpha = maps([0.0, 0.5, 1.0])
    assert alpha_l1_loss(alpha, gt_alpha).item() == pytest.approx((0.2 + 0.2 + 0.6) / 3)
    valid = torch.tensor([True, True, False]).view(1, 1, 1, 3)
    assert alpha_l1_loss(alpha, gt_alpha, valid).item() == pytest.approx(0.2)


def test_shape_mismatch_names_the_argument_and_expected_shape():
    with pytest.raises(ValueError, match=r"trimap must be a tensor of shape \(1, 1, 1, 3\)"):
        known_loss(maps([0.1, 0.2, 0.3]), maps([0.0, 1.0]))
    with pytest.raises(ValueError, match="valid must be a torch.bool tensor"):
        known_loss(maps([0.1]), maps([0.0]), valid=maps([1.0]))


@pytest.mark.parametrize("loss", [known_loss, known_bce_loss, alpha_l1_loss])
def test_autocast_bf16_inputs_give_the_float32_value(loss):
    generator = torch.Generator().manual_seed(0)
    alpha = torch.rand(2, 1, 6, 7, generator=generator).bfloat16()
    target = (torch.randint(0, 3, (2, 1, 6, 7), generator=generator) / 2).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(alpha, target)
    assert value.dtype == torch.float32
    assert value.item() == loss(alpha.float(), target.float()).item()
