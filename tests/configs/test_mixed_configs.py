"""configs/am2k_mixed.py and the CPU study's mixed_alpha10.py (projects/SupervisionAblation):
mixed supervision is a few lines over the trimap configs, and a mixed batch trains through
detectron2's loader."""

from pathlib import Path

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.samplers import RepeatFactorTrainingSampler

from alphafree_matting.data import register_mixed_split
from tests.helpers.models import TINY_BACKBONE

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MIXED_LOSSES = {"known": 1.0, "ddc": 10.0, "alpha_l1": 1.0}


def load(name):
    return LazyConfig.load(str(CONFIGS / name))


def test_am2k_mixed_is_the_release_recipe_with_ten_percent_alphas():
    base, cfg = load("am2k_ddc.py"), load("am2k_mixed.py")
    assert cfg.dataloader.train.dataset.names == "am2k_train_alpha10"
    assert "am2k_train_alpha10" in DatasetCatalog.list()
    assert cfg.dataloader.train.mapper.label == "per_sample"
    assert dict(cfg.model.criterion.losses) == MIXED_LOSSES
    ratios = cfg.dataloader.train.sampler.repeat_factors.ratios
    assert dict(ratios) == {"alpha": 0.1, "trimap": 0.9}
    assert cfg.dataloader.train.mapper.augmentations == base.dataloader.train.mapper.augmentations
    assert (cfg.train.max_iter, cfg.optimizer, cfg.lr_multiplier) == (
        base.train.max_iter,
        base.optimizer,
        base.lr_multiplier,
    )
    assert cfg.dataloader.test == base.dataloader.test


def test_toy_mixed_policy_changes_only_the_split_label_and_losses_of_the_base():
    study = "../projects/SupervisionAblation/configs"
    base, cfg = load(f"{study}/known_ddc.py"), load(f"{study}/mixed_alpha10.py")
    assert cfg.dataloader.train.dataset.names == "toy_ablation_train_alpha10"
    assert cfg.dataloader.train.mapper.label == "per_sample"
    assert dict(cfg.model.criterion.losses) == MIXED_LOSSES
    assert cfg.train.output_dir == "./output/ablation/mixed_alpha10"
    assert cfg.dataloader.train.mapper.augmentations == base.dataloader.train.mapper.augmentations
    assert (cfg.train.max_iter, cfg.train.seed) == (base.train.max_iter, base.train.seed)
    assert (cfg.optimizer, cfg.lr_multiplier) == (base.optimizer, base.lr_multiplier)
    assert cfg.dataloader.test == base.dataloader.test and "sampler" not in cfg.dataloader.train


@pytest.fixture
def half_alpha_split():
    """A mixed split of the miniature AM-2K: half of the images keep their alpha."""
    name = "am2k_train_half_alpha"
    register_mixed_split(name, "am2k_train_alpha", "am2k_train", 0.5)
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_am2k_mixed_trains_a_step_with_both_label_kinds_through_the_ratio_sampler(
    datasets_root, half_alpha_split
):
    cfg = load("am2k_mixed.py")
    cfg.dataloader.train.dataset.names = half_alpha_split  # 2 of the 3 miniature images
    cfg.dataloader.train.sampler.repeat_factors.ratios = {"alpha": 0.5, "trimap": 0.5}
    cfg.dataloader.train.sampler.seed = 0
    cfg.dataloader.train.update(total_batch_size=6, num_workers=0)
    for augmentation in cfg.dataloader.train.mapper.augmentations:
        augmentation.update({k: 32 for k in ("crop_size", "min_size") if k in augmentation})
    cfg.model.backbone.update(TINY_BACKBONE)
    assert isinstance(instantiate(cfg.dataloader.train.sampler), RepeatFactorTrainingSampler)
    batch = next(iter(instantiate(cfg.dataloader.train)))
    assert {item["label_kind"] for item in batch} == {"alpha", "trimap"}
    model = instantiate(cfg.model).train()
    losses = model(batch)
    assert set(losses) == {"loss_known", "loss_ddc", "loss_alpha_l1"}
    assert all(torch.isfinite(value) and value > 0 for value in losses.values())
    sum(losses.values()).backward()


def test_the_coco_example_changes_only_the_training_split_of_am2k_ddc():
    base, cfg = load("am2k_ddc.py"), load("coco_animals_ddc.py")
    assert cfg.dataloader.train.dataset.names == "coco_animals_train"
    assert "coco_animals_train" in DatasetCatalog.list()
    cfg.dataloader.train.dataset.names = base.dataloader.train.dataset.names
    cfg.train.output_dir = base.train.output_dir
    for key in ("dataloader", "lr_multiplier", "train"):
        assert cfg[key] == base[key], key
    assert cfg.model.criterion == base.model.criterion  # (norm_layer partials do not compare)
