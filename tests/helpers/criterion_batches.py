"""Small random batches for the criterion tests (imported by the test modules)."""

import torch


def random_batch(shape, seed=0, valid_rows=None):
    """Continuous random image (B, 3, H, W), alpha (B, 1, H, W), random mask and valid maps.

    ``valid_rows``: if given, image 1 (when B > 1) is valid only in its first rows, like a
    batch padded to a common size.
    """
    batch, _, height, width = shape
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(shape, generator=generator)
    alpha = torch.rand((batch, 1, height, width), generator=generator)
    mask = torch.rand((batch, 1, height, width), generator=generator) > 0.3
    valid = torch.ones((batch, 1, height, width), dtype=torch.bool)
    if valid_rows is not None and batch > 1:
        valid[1, :, valid_rows:] = False
        image[1, :, valid_rows:] = 0.0
    return image, alpha, mask, valid
