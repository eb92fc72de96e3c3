"""Fixtures of the criterion tests: a hand-checkable 1x3 strip."""

import pytest
import torch


@pytest.fixture
def strip():
    """A 1x3 strip whose red channel alone varies, so colour distances are |red_i - red_j|.

    red = [0.2, 0.5, 0.6], alpha = [0.0, 0.5, 1.0]; hand-computed values in the tests use
    window 3 (offsets 0..8 row-major, centre 4; left = 3, right = 5) and k = 3.
    """
    image = torch.zeros(1, 3, 1, 3)
    image[0, 0, 0] = torch.tensor([0.2, 0.5, 0.6])
    alpha = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3)
    return image, alpha
