"""Every experiment config loads, instantiates (with a tiny backbone) and reads what it claims."""

from pathlib import Path

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog

import alphafree_matting.data  # noqa: F401  (registers the built-in splits)
from alphafree_matting.criterion import TrimapCriterion
from alphafree_matting.modeling import ViTMatte
from tests.helpers.models import TINY_BACKBONE

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXPERIMENTS = sorted(
    str(path.relative_to(CONFIGS)) for path in CONFIGS.rglob("*.py") if "common" not in path.parts
)


def load(name: str):
    return LazyConfig.load(str(CONFIGS / name))


def shrink_crops(mapper, size: int) -> None:
    """Set every size argument of the mapper's augmentations to ``size``."""
    for augmentation in mapper.augmentations:
        for key in ("crop_size", "min_size", "size"):
            if key in augmentation:
                augmentation[key] = size


def test_the_paper_config_set_is_complete():
    expected = {
        "am2k_ddc.py",
        "am2k_alpha.py",
        "p3m_ddc.py",
        "p3m_alpha.py",
        "demo_ddc.py",
        "ablations/known_only.py",
        "ablations/known_affinity.py",
        "ablations/known_dc.py",
        "ablations/dc_unknown.py",
        "ablations/ddc_unknown.py",
        "ablations/trimap_k10.py",
        "ablations/trimap_k20.py",
        "ablations/trimap_k30.py",
        "ablations/masklabel_l1.py",
        "ablations/masklabel_bce.py",
        "ablations/am2k_paper_text_aug.py",
        *(f"ablations/ddc_window{w}.py" for w in (5, 7, 9, 13, 15)),
    }
    assert expected <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_instantiates_model_optimizer_schedule_and_names_registered_splits(name):
    cfg = load(name)
    cfg.model.backbone.update(TINY_BACKBONE)
    cfg.optimizer.params.num_layers = TINY_BACKBONE["depth"]
    model = instantiate(cfg.model)
    assert isinstance(model, ViTMatte) and isinstance(model.criterion, TrimapCriterion)
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    scheduler = instantiate(cfg.lr_multiplier)
    assert scheduler(0.0) < scheduler(0.5) == pytest.approx(1.0)
    registered = set(DatasetCatalog.list())
    assert cfg.dataloader.train.dataset.names in registered
    assert cfg.dataloader.test.dataset.names in registered
    # Every loss the criterion is asked for gets the targets it needs from the mapper's label.
    label = cfg.dataloader.train.mapper.label
    if label == "per_sample":  # mixed supervision: a loss for each label kind
        assert {"known", "alpha_l1"} <= set(cfg.model.criterion.losses)
    elif "alpha_l1" in cfg.model.criterion.losses:
        assert label == "alpha"
    else:
        assert label in ("trimap", "mask")


CONFIG_FILES = sorted(
    [*CONFIGS.rglob("*.py"), *(CONFIGS.parent / "projects").glob("*/configs/**/*.py")]
)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: str(p.relative_to(CONFIGS.parent)))
def test_configs_only_name_datasets_and_register_nothing(path):
    """A config is loaded more than once per run: registering at load time would either fail or
    need re-registration rules. Splits are built in (alphafree_matting.data.builtin) or nodes."""
    assert "register_" not in path.read_text()


def test_one_line_policy_changes_reach_the_criterion():
    assert load("ablations/known_only.py").model.criterion.losses == {"known": 1.0}
    ddc = load("am2k_ddc.py").model.criterion
    assert dict(ddc.losses) == {"known": 1.0, "ddc": 10.0} and ddc.window == 11
    assert load("ablations/ddc_window5.py").model.criterion.window == 5
    assert load("ablations/ddc_unknown.py").model.criterion.region == "unknown"
    assert load("ablations/trimap_k20.py").dataloader.train.dataset.names == "am2k_train_k20"
    alpha = load("am2k_alpha.py")
    assert alpha.dataloader.train.dataset.names == "am2k_train_alpha"
    assert dict(alpha.model.criterion.losses) == {"alpha_l1": 1.0}


def test_derived_configs_do_not_leak_changes_into_their_base():
    load("am2k_alpha.py")
    load("ablations/known_only.py")
    base = load("am2k_ddc.py")
    assert base.dataloader.train.dataset.names == "am2k_train"
    assert dict(base.model.criterion.losses) == {"known": 1.0, "ddc": 10.0}


@pytest.mark.parametrize(
    "name", ["am2k_ddc.py", "am2k_alpha.py", "ablations/masklabel_bce.py", "p3m_ddc.py"]
)
def test_paper_configs_train_one_step_on_miniature_datasets(name, datasets_root):
    cfg = load(name)
    cfg.model.backbone.update(TINY_BACKBONE)
    shrink_crops(cfg.dataloader.train.mapper, 64)
    cfg.dataloader.train.total_batch_size = 2
    cfg.dataloader.train.num_workers = 0
    model = instantiate(cfg.model)
    batch = next(iter(instantiate(cfg.dataloader.train)))
    losses = model(batch)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    model.eval()
    test_input = next(iter(instantiate(cfg.dataloader.test)))
    with torch.no_grad():
        (output,) = model(test_input)
    assert output["alpha"].shape[1:] == test_input[0]["image"].shape[1:]
