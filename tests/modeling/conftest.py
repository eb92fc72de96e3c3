"""Fixtures of the modeling tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run torch on one thread: tiled inference on tiny shapes is thousands of tiny operations,
    which two threads slow down many times over on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
