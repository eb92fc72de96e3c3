"""Comparisons of finished runs (projects/SupervisionAblation: supervision_ablation/comparison)."""

import math
import os

import numpy as np
import pytest
from supervision_ablation.comparison import ddc_at_alphas, error_by_alpha

from alphafree_matting.data.io import read_alpha, write_png
from alphafree_matting.data.toy_dataset import make_toy_dataset


def test_error_by_alpha_splits_the_sad_of_a_prediction(tmp_path):
    make_toy_dataset(str(tmp_path / "data"), num_train=1, num_val=2, size=32, seed=0, workers=1)
    val = tmp_path / "data" / "val"
    opaque = tmp_path / "opaque"
    expected = 0.0
    for file in sorted(os.listdir(val / "alpha")):
        alpha = read_alpha(str(val / "alpha" / file))
        write_png(str(opaque / file), np.full(alpha.shape, 255, np.uint8))
        expected += (1 - alpha).sum() / 2 / 1000
    result = error_by_alpha(str(val), {"gt": str(val / "alpha"), "opaque": str(opaque)})
    assert all(value == 0 for value in result["gt"].values())
    parts = ("known", "unknown bg", "unknown fg", "unknown partial")
    assert sum(result["opaque"][key] for key in parts) == pytest.approx(expected, rel=1e-6)
    assert result["opaque"]["unknown fg"] < 1e-3  # the GT is >= 0.99 there
    assert result["opaque"]["partial signed"] == pytest.approx(result["opaque"]["unknown partial"])


def test_ddc_at_alphas_scores_the_gt_and_each_prediction_folder(tmp_path):
    make_toy_dataset(str(tmp_path / "data"), num_train=1, num_val=2, size=32, seed=0, workers=1)
    val = tmp_path / "data" / "val"
    hard = tmp_path / "hard"
    hard.mkdir()
    for file in sorted(os.listdir(val / "alpha")):
        alpha = read_alpha(str(val / "alpha" / file))
        write_png(str(hard / file), ((alpha > 0.5) * 255).astype("uint8"))
    result = ddc_at_alphas(str(val), {"copy": str(val / "alpha"), "hard": str(hard)}, window=5)
    assert set(result) == {"GT", "copy", "hard"}
    assert result["copy"] == result["GT"]
    assert result["hard"] != result["GT"]
    assert all(v >= 0 and math.isfinite(v) for r in result.values() for v in r.values())
