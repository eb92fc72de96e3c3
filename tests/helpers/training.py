"""A tiny ViTMatte + TrimapCriterion and a matching training batch, for the engine tests (imported
by the test modules, and by the DDP test's worker processes)."""

import torch

from alphafree_matting.criterion import TrimapCriterion
from alphafree_matting.modeling import ViTMatte
from tests.helpers.models import build_tiny_vitmatte

TINY_DEPTH = 2
"""Transformer blocks of the tiny backbone (``num_layers`` of its optimizer groups)."""


def tiny_vitmatte(seed: int = 0) -> ViTMatte:
    """``build_tiny_vitmatte`` at 32 px (its BatchNorm layers included) with the paper's
    criterion (known + 10 x DDC, window 3)."""
    criterion = TrimapCriterion(losses={"known": 1.0, "ddc": 10.0}, window=3)
    return build_tiny_vitmatte(img_size=32, seed=seed, criterion=criterion)


def training_batch(num_images: int = 4, size: int = 32, seed: int = 0) -> list[dict]:
    """Model inputs: random RGB images and random trimaps in {0, 0.5, 1}, (size x size).

    The second half of the batch reuses the first half's trimaps mirrored left-right, so both
    halves hold the same number of known pixels (each process's known-loss mean then weighs
    pixels like the whole batch's mean does).
    """
    if num_images % 2:
        raise ValueError(f"training_batch needs an even number of images, got {num_images}")
    generator = torch.Generator().manual_seed(seed)
    half = num_images // 2
    trimaps = [
        torch.randint(0, 3, (1, size, size), generator=generator).float() / 2 for _ in range(half)
    ]
    trimaps += [trimap.flip(-1) for trimap in trimaps]
    return [
        {"image": torch.rand(3, size, size, generator=generator), "trimap": trimap}
        for trimap in trimaps
    ]
