"""Neighbours selected in data-loader workers (the mapper's `precompute` switch) give the training
step exactly the losses and gradients of selecting them in the criterion."""

import pytest
import torch

from alphafree_matting.criterion import NeighbourSelection, TrimapCriterion
from alphafree_matting.data import MattingDatasetMapper, PadToSize, UnknownContainingCrop
from alphafree_matting.data.io import write_png
from alphafree_matting.modeling import ViTMatte
from tests.helpers.models import build_tiny_vitmatte


def tiny_model(**criterion_options) -> ViTMatte:
    criterion = TrimapCriterion(losses={"known": 1.0, "ddc": 10.0, "dc": 1.0}, **criterion_options)
    return build_tiny_vitmatte(use_rel_pos=False, criterion=criterion).train()


def random_sample(height: int, width: int, seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {
        "image": torch.rand(3, height, width, generator=generator),
        "trimap": torch.randint(0, 3, (1, height, width), generator=generator).float() / 2,
    }


def losses_and_gradients(model, batch):
    model.zero_grad()
    losses = model(batch)
    sum(losses.values()).backward()
    return losses, [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("border", ["zeros", "exclude"])
def test_precomputed_neighbours_give_the_same_losses_and_gradients_on_a_padded_batch(border):
    # Different sizes: the model pads the second sample, and the precomputed maps with it.
    samples = [random_sample(32, 32, 0), random_sample(27, 21, 1)]
    select = NeighbourSelection(window=5, border=border)
    precomputed = [{**s, **select(s["image"])} for s in samples]
    model = tiny_model(window=5, border=border)
    expected_losses, expected_grads = losses_and_gradients(model, samples)
    losses, grads = losses_and_gradients(model, precomputed)
    for name, value in expected_losses.items():
        assert losses[name].item() == pytest.approx(value.item(), rel=1e-6)
    for got, expected in zip(grads, expected_grads):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_mapper_switch_adds_neighbours_that_match_the_criterion(tmp_path):
    image = (torch.rand(40, 40, 3) * 255).byte().numpy()
    trimap = torch.full((40, 40), 128, dtype=torch.uint8).numpy()
    write_png(str(tmp_path / "a.png"), image)
    write_png(str(tmp_path / "t.png"), trimap)
    mapper = MattingDatasetMapper(
        True,
        augmentations=[UnknownContainingCrop(48), PadToSize(48)],
        precompute=NeighbourSelection(window=5),
    )
    sample = mapper(
        {"file_name": str(tmp_path / "a.png"), "trimap_file_name": str(tmp_path / "t.png")}
    )
    assert sample["neighbour_index"].shape == (5, 48, 48)
    model = tiny_model(window=5)
    with_precomputed, _ = losses_and_gradients(model, [sample])
    without = {k: v for k, v in sample.items() if not k.startswith("neighbour_")}
    selected_here, _ = losses_and_gradients(model, [without])
    assert with_precomputed["loss_ddc"].item() == pytest.approx(selected_here["loss_ddc"].item())


def test_neighbours_of_another_window_are_rejected_with_the_fix():
    sample = random_sample(32, 32, 0)
    sample.update(NeighbourSelection(window=3)(sample["image"]))
    with pytest.raises(ValueError, match="NeighbourSelection the criterion's window"):
        tiny_model(window=5)([sample])
