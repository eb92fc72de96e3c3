"""Fixtures of the projects/ tests: tiny toy data on disk."""

from pathlib import Path

import pytest

from alphafree_matting.data.toy_dataset import make_toy_dataset


@pytest.fixture(scope="session")
def toy_datasets(tmp_path_factory) -> Path:
    """A ``$DETECTRON2_DATASETS`` folder holding toy_matting: 6 train / 3 val images of 64 px,
    with image, trimap and alpha folders in both splits."""
    root = tmp_path_factory.mktemp("project_datasets")
    make_toy_dataset(str(root / "toy_matting"), num_train=6, num_val=3, size=64, seed=5)
    return root
