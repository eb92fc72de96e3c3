"""DDC, DC and affinity losses: hand-computed values, the sign convention, the symmetric-pair
minimum, fast == reference (value and gradient), padding, precomputed neighbours, autocast."""

import math

import pytest
import torch
import torch.nn.functional as F

from alphafree_matting.criterion import affinity_loss, dc_loss, ddc_loss, select_neighbours
from alphafree_matting.criterion.ddc_reference import REFERENCE_LOSSES
from tests.helpers.criterion_batches import random_batch

FAST_LOSSES = {"ddc": ddc_loss, "dc": dc_loss, "affinity": affinity_loss}
SQRT3 = math.sqrt(3)


def two_pixel_pair(distance, alpha_left, alpha_right):
    """1x2 image at colour distance ``distance``; with window 3, k = 2 and border "exclude"
    each pixel selects itself and the other: four ordered pairs, two of them (i, i)."""
    image = torch.zeros(1, 3, 1, 2)
    image[0, 0, 0, 1] = distance
    alpha = torch.tensor([alpha_left, alpha_right]).view(1, 1, 1, 2)
    return image, alpha


PAIR = dict(window=3, k=2, border="exclude")


def test_ddc_hand_computed_on_strip_with_zero_border(strip):
    image, alpha = strip
    # Pairs (see test_neighbours): pixel 0: self 0, black |0.2 - 0| twice;
    # pixel 1: self, right |0.1 - (0.5 - 1)| = 0.6, left |0.3 - 0.5| = 0.2;
    # pixel 2: self, left |0.1 - (1 - 0.5)| = 0.4, black |0.6 - 1| = 0.4. 9 pairs.
    assert ddc_loss(image, alpha, window=3).item() == pytest.approx(2.0 / 9)


def test_ddc_hand_computed_on_strip_with_excluded_border(strip):
    image, alpha = strip
    # pixel 0: self, right |0.3 - (0 - 0.5)| = 0.8; pixel 1 as above 0.8; pixel 2: 0.4. 7 pairs.
    assert ddc_loss(image, alpha, window=3, border="exclude").item() == pytest.approx(2.0 / 7)


def test_dc_hand_computed_on_strip(strip):
    image, alpha = strip
    # pixel 0: 0.2 + 0.2; pixel 1: |0.1 - 0.5| + |0.3 - 0.5|; pixel 2: |0.1 - 0.5| + |0.6 - 1|.
    assert dc_loss(image, alpha, window=3).item() == pytest.approx(1.8 / 9)


def test_affinity_hand_computed_on_strip(strip):
    image, alpha = strip

    def error(alpha_centre, distances, alphas):
        similarity = [1 - d / SQRT3 for d in distances]
        return abs(alpha_centre - sum(s * a for s, a in zip(similarity, alphas)) / sum(similarity))

    expected = (
        error(0.0, [0, 0.2, 0.2], [0.0, 0.0, 0.0])
        + error(0.5, [0, 0.1, 0.3], [0.5, 1.0, 0.0])
        + error(1.0, [0, 0.1, 0.6], [1.0, 0.5, 0.0])
    ) / 3
    assert affinity_loss(image, alpha, window=3).item() == pytest.approx(expected, rel=1e-6)


def test_ddc_keeps_the_sign_of_the_alpha_difference():
    image, alpha = two_pixel_pair(0.3, 0.0, 0.3)
    # (0 -> 1): |0.3 - (0 - 0.3)| = 0.6, (1 -> 0): |0.3 - 0.3| = 0; DC sees |a_i - a_j| only.
    assert ddc_loss(image, alpha, **PAIR).item() == pytest.approx(0.6 / 4)
    assert dc_loss(image, alpha, **PAIR).item() == pytest.approx(0.0, abs=1e-7)


def test_symmetric_pair_is_minimal_exactly_while_alpha_step_within_colour_distance():
    distance = 0.3
    values = {}
    for step in torch.linspace(-0.6, 0.6, 25).tolist():
        image, alpha = two_pixel_pair(distance, 0.5, 0.5 + step)
        values[step] = ddc_loss(image, alpha, **PAIR).item()
    minimum = 2 * distance / 4  # |d - s| + |d + s| >= 2d over the four pairs
    for step, value in values.items():
        if abs(step) <= distance + 1e-6:
            assert value == pytest.approx(minimum, abs=1e-6)
        else:
            assert value == pytest.approx(2 * abs(step) / 4, abs=1e-6)
            assert value > minimum


@pytest.mark.parametrize("name", ["ddc", "dc", "affinity"])
@pytest.mark.parametrize("border", ["zeros", "exclude"])
@pytest.mark.parametrize(
    "window,shape",
    [(3, (2, 3, 7, 9)), (5, (3, 3, 11, 8)), (11, (2, 3, 13, 17)), (5, (2, 3, 1, 4))],
)
def test_fast_matches_reference_value_and_gradient(name, border, window, shape):
    # The last case has windows larger than the image: empty slots with border="exclude".
    image, alpha, mask, valid = random_batch(shape, seed=window, valid_rows=max(1, shape[2] - 2))
    options = dict(window=window, border=border, mask=mask, valid=valid)
    fast_alpha = alpha.clone().requires_grad_(True)
    reference_alpha = alpha.clone().requires_grad_(True)
    fast = FAST_LOSSES[name](image, fast_alpha, **options)
    reference = REFERENCE_LOSSES[name](image, reference_alpha, **options)
    fast.backward()
    reference.backward()
    assert fast.item() == pytest.approx(reference.item(), rel=1e-5)
    scale = reference_alpha.grad.abs().max().item()
    torch.testing.assert_close(fast_alpha.grad, reference_alpha.grad, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("name", ["ddc", "dc", "affinity"])
def test_fast_matches_reference_without_mask_and_with_k_other_than_window(name):
    image, alpha, _, _ = random_batch((1, 3, 9, 12), seed=7)
    for k in (1, 4, 25):
        fast = FAST_LOSSES[name](image, alpha, window=5, k=k)
        reference = REFERENCE_LOSSES[name](image, alpha, window=5, k=k)
        assert fast.item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("border", ["zeros", "exclude"])
@pytest.mark.parametrize("name", ["ddc", "dc", "affinity"])
def test_padding_marked_invalid_changes_neither_value_nor_gradient(name, border):
    image, alpha, _, _ = random_batch((1, 3, 9, 11), seed=8)
    crop_alpha = alpha.clone().requires_grad_(True)
    expected = FAST_LOSSES[name](image, crop_alpha, window=5, border=border)
    expected.backward()
    padded_alpha = F.pad(alpha, (0, 5, 0, 7), value=0.7).requires_grad_(True)
    valid = F.pad(torch.ones_like(alpha, dtype=torch.bool), (0, 5, 0, 7), value=False)
    padded_image = F.pad(image, (0, 5, 0, 7))
    padded = FAST_LOSSES[name](padded_image, padded_alpha, window=5, border=border, valid=valid)
    padded.backward()
    assert padded.item() == pytest.approx(expected.item(), rel=1e-6)
    torch.testing.assert_close(padded_alpha.grad[..., :9, :11], crop_alpha.grad)
    assert torch.all(padded_alpha.grad[~valid] == 0)


def test_precomputed_neighbours_are_used_instead_of_the_image():
    image, alpha, _, _ = random_batch((2, 3, 8, 9), seed=9)
    neighbours = select_neighbours(image, window=5)
    fresh = ddc_loss(image, alpha, window=5)
    assert ddc_loss(None, alpha, window=5, neighbours=neighbours).item() == fresh.item()
    other = select_neighbours(torch.rand(2, 3, 8, 9), window=5)
    assert ddc_loss(image, alpha, window=5, neighbours=other).item() != fresh.item()


def test_empty_mask_gives_zero_connected_to_alpha():
    image, alpha, _, _ = random_batch((1, 3, 5, 6), seed=10)
    alpha.requires_grad_(True)
    for loss in FAST_LOSSES.values():
        value = loss(image, alpha, window=3, mask=torch.zeros_like(alpha, dtype=torch.bool))
        assert value.item() == 0.0
        value.backward()
        assert torch.all(alpha.grad == 0)


def test_gradient_is_deterministic_on_cpu():
    image, alpha, _, _ = random_batch((2, 3, 16, 16), seed=11)
    grads = []
    for _ in range(2):
        leaf = alpha.clone().requires_grad_(True)
        ddc_loss(image, leaf, window=7).backward()
        grads.append(leaf.grad)
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("name", ["ddc", "dc", "affinity"])
def test_autocast_bf16_inputs_give_the_float32_value(name):
    image, alpha, _, _ = random_batch((1, 3, 7, 8), seed=12)
    image, alpha = image.bfloat16(), alpha.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = FAST_LOSSES[name](image, alpha, window=3)
    assert value.dtype == torch.float32
    assert value.item() == FAST_LOSSES[name](image.float(), alpha.float(), window=3).item()
    value.backward()
    assert alpha.grad.dtype == torch.bfloat16


def test_bad_arguments_are_clear_errors():
    image, alpha, _, _ = random_batch((1, 3, 5, 5), seed=13)
    with pytest.raises(ValueError, match=r"alpha must have shape \(B, 1, H, W\)"):
        ddc_loss(image, alpha[:, 0])
    with pytest.raises(ValueError, match="image must have shape"):
        ddc_loss(image[:, :, :4], alpha)
    with pytest.raises(ValueError, match="mask must be a torch.bool tensor"):
        ddc_loss(image, alpha, mask=torch.ones_like(alpha))
    neighbours = select_neighbours(image, window=5)
    with pytest.raises(ValueError, match="pad_neighbours"):
        ddc_loss(image, alpha, window=5, k=4, neighbours=neighbours)
    with pytest.raises(ValueError, match="selected with a larger window"):
        ddc_loss(image, alpha, window=3, k=5, neighbours=neighbours)


@pytest.mark.parametrize("name", ["ddc", "dc", "affinity"])
def test_result_does_not_depend_on_how_slots_are_chunked(name, monkeypatch):
    import alphafree_matting.criterion.ddc as ddc_module

    image, alpha, mask, valid = random_batch((2, 3, 8, 9), seed=14, valid_rows=5)
    results = []
    for chunk_elements in (1, 3 * 2 * 8 * 9, 1 << 21):  # one slot, three slots, all slots
        monkeypatch.setattr(ddc_module, "_CHUNK_ELEMENTS", chunk_elements)
        leaf = alpha.clone().requires_grad_(True)
        value = FAST_LOSSES[name](image, leaf, window=5, mask=mask, valid=valid)
        value.backward()
        results.append((value.item(), leaf.grad))
    for value, grad in results[1:]:
        assert value == pytest.approx(results[0][0], rel=1e-6)
        torch.testing.assert_close(grad, results[0][1], rtol=1e-5, atol=1e-9)
