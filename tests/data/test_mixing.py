"""Mixed supervision on the data side (data/mixing.py and the mapper's label="per_sample"): the
seeded alpha fraction, the sampling ratio through detectron2's RepeatFactorTrainingSampler, and
per-sample label kinds."""

import itertools

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.data.samplers import RepeatFactorTrainingSampler

from alphafree_matting.data import (
    PER_SAMPLE,
    MattingDataError,
    MattingDatasetMapper,
    label_repeat_factors,
    mix_label_splits,
    register_matting_folder,
    register_mixed_split,
    sample_label_kind,
)


def _register_twin_splits(factory, tmp_path, prefix, count=20):
    """``<prefix>_alpha`` and ``<prefix>_trimap``: the same ``count`` images, one label each."""
    for index in range(count):
        folders = {"image": "image", "alpha": "alpha", "trimap": "trimap"}
        factory.write_sample(tmp_path, f"s{index:02d}", (24, 28), folders, seed=index)
    for kind in ("alpha", "trimap"):
        register_matting_folder(f"{prefix}_{kind}", str(tmp_path), labels=(kind,))
    return f"{prefix}_alpha", f"{prefix}_trimap"


def test_a_seeded_fraction_of_the_images_keeps_its_alpha_and_the_rest_its_trimap(factory, tmp_path):
    alpha_split, trimap_split = _register_twin_splits(factory, tmp_path, "mix_fraction")
    mixed = mix_label_splits(alpha_split, trimap_split, 0.25, seed=3)
    kinds = [sample_label_kind(record) for record in mixed]
    assert len(mixed) == 20 and kinds.count("alpha") == 5 and kinds.count("trimap") == 15
    for record in mixed:  # one label per dict: an alpha sample never sees a trimap, and back
        assert ("alpha_file_name" in record) != ("trimap_file_name" in record)
    assert [r["file_name"] for r in mixed] == sorted(r["file_name"] for r in mixed)
    again = mix_label_splits(alpha_split, trimap_split, 0.25, seed=3)
    other = mix_label_splits(alpha_split, trimap_split, 0.25, seed=4)
    assert again == mixed and other != mixed
    register_mixed_split("mix_fraction_25", alpha_split, trimap_split, 0.25, seed=3)
    assert DatasetCatalog.get("mix_fraction_25") == mixed


def test_splits_of_different_images_cannot_be_mixed(factory, tmp_path):
    alpha_split, _ = _register_twin_splits(factory, tmp_path / "a", "mix_other_a", count=3)
    _, trimap_split = _register_twin_splits(factory, tmp_path / "b", "mix_other_b", count=3)
    with pytest.raises(MattingDataError, match="must list the same images.*concatenate"):
        mix_label_splits(alpha_split, trimap_split, 0.1)
    with pytest.raises(ValueError, match=r"alpha_fraction must be in \[0, 1\]"):
        register_mixed_split("mix_bad", alpha_split, trimap_split, 1.5)


def test_repeat_factors_draw_each_label_kind_with_its_ratio():
    dicts = [{"file_name": f"{i}", "alpha_file_name": "a"} for i in range(10)]
    dicts += [{"file_name": f"t{i}", "trimap_file_name": "t"} for i in range(90)]
    factors = label_repeat_factors(dicts, {"alpha": 0.5, "trimap": 0.5})
    assert factors.dtype == torch.float32 and factors.sum().item() == pytest.approx(100)
    assert factors[:10].sum().item() == pytest.approx(50)
    sampler = RepeatFactorTrainingSampler(factors, seed=0)
    drawn = list(itertools.islice(iter(sampler), 4000))
    assert np.mean([index < 10 for index in drawn]) == pytest.approx(0.5, abs=0.05)
    natural = label_repeat_factors(dicts, {"alpha": 0.1, "trimap": 0.9})
    assert torch.allclose(natural, torch.ones(100))
    with pytest.raises(ValueError, match=r"missing: \['trimap'\]"):
        label_repeat_factors(dicts, {"alpha": 1.0})
    with pytest.raises(ValueError, match="weight > 0"):
        label_repeat_factors(dicts, {"alpha": 0.0, "trimap": 1.0})


def test_per_sample_mapper_gives_each_sample_its_own_label_kind(factory, tmp_path):
    alpha_split, trimap_split = _register_twin_splits(factory, tmp_path, "mix_mapper", count=4)
    mapper = MattingDatasetMapper(True, label=PER_SAMPLE)
    alpha_sample = mapper(DatasetCatalog.get(alpha_split)[0])
    trimap_sample = mapper(DatasetCatalog.get(trimap_split)[0])
    assert alpha_sample["label_kind"] == "alpha" and "trimap" not in alpha_sample
    assert alpha_sample["alpha"].shape == (1, 24, 28)
    assert trimap_sample["label_kind"] == "trimap" and "alpha" not in trimap_sample
    assert set(trimap_sample["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
    assert "label_kind" not in MattingDatasetMapper(True)(DatasetCatalog.get(trimap_split)[0])


def test_per_sample_needs_exactly_one_label_per_dict(factory, tmp_path):
    factory.write_sample(tmp_path, "both", (24, 28), {"image": "i", "alpha": "a", "trimap": "t"})
    record = {
        "file_name": str(tmp_path / "i" / "both.jpg"),
        "alpha_file_name": str(tmp_path / "a" / "both.png"),
        "trimap_file_name": str(tmp_path / "t" / "both.png"),
    }
    with pytest.raises(MattingDataError, match=r"several labels \(\['trimap', 'alpha'\]\)"):
        MattingDatasetMapper(True, label=PER_SAMPLE)(record)
    with pytest.raises(MattingDataError, match="no label"):
        sample_label_kind({"file_name": "x.png"})
    with pytest.raises(ValueError, match="trimap_input=True"):
        MattingDatasetMapper(True, label=PER_SAMPLE, trimap_input=True)
