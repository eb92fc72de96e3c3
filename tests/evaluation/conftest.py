"""Fixtures of the evaluation tests: the shared data folder (golden metrics, real images)."""
import os
from pathlib import Path

import pytest

# The CI checks the shared folder out next to the repository: <repo>/../shared.
_SHARED_DIR = Path(
    os.environ.get("ALPHAFREE_SHARED_DIR", Path(__file__).resolve().parents[2] / ".." / "shared")
)


def _shared_subdir(relative: str) -> Path:
    path = _SHARED_DIR / relative
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set ALPHAFREE_SHARED_DIR)")
    return path


@pytest.fixture
def metrics_golden_dir() -> Path:
    """``<shared>/metrics_golden``: four cases of the benchmark metrics with expected values."""
    return _shared_subdir("metrics_golden")


@pytest.fixture
def real_matting_dir() -> Path:
    """``<shared>/data/real_matting/alphamatting_training_lowres``: 27 images, GT and trimaps."""
    return _shared_subdir("data/real_matting/alphamatting_training_lowres")
