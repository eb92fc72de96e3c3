"""projects/SupervisionAblation/configs/: each policy config changes only the supervision of
the base (known_ddc.py), as configs/ablations/ do over am2k_ddc.py."""

import pytest
from detectron2.config import LazyConfig, instantiate
from supervision_ablation.report import POLICIES

from tests.helpers.train_net import PROJECTS

CONFIGS = PROJECTS / "SupervisionAblation" / "configs"
SUPERVISION = {
    "known_only": ({"known": 1.0}, "trimap"),
    "known_affinity": ({"known": 1.0, "affinity": 10.0}, "trimap"),
    "known_dc": ({"known": 1.0, "dc": 10.0}, "trimap"),
    "known_ddc": ({"known": 1.0, "ddc": 10.0}, "trimap"),
    "alpha_l1": ({"alpha_l1": 1.0}, "alpha"),
}


def load(name):
    return LazyConfig.load(str(CONFIGS / f"{name}.py"))


def test_every_reported_policy_has_a_config():
    assert sorted(path.stem for path in CONFIGS.glob("*.py")) == sorted(POLICIES)


@pytest.mark.parametrize("name", list(SUPERVISION))
def test_policy_config_changes_only_the_supervision_of_the_base(name):
    base, cfg = load("known_ddc"), load(name)
    losses, label = SUPERVISION[name]
    assert dict(cfg.model.criterion.losses) == losses
    assert cfg.dataloader.train.mapper.label == label
    assert cfg.dataloader.train.dataset.names == (
        "toy_ablation_train_alpha" if label == "alpha" else "toy_ablation_train"
    )
    assert cfg.train.output_dir == f"./output/ablation/{name}"
    for part in ("backbone", "decoder"):  # norm_layer is a functools.partial: compare the rest
        assert {k: v for k, v in cfg.model[part].items() if k != "norm_layer"} == {
            k: v for k, v in base.model[part].items() if k != "norm_layer"
        }
    assert cfg.model.criterion.window == base.model.criterion.window == 11
    assert cfg.dataloader.train.mapper.augmentations == base.dataloader.train.mapper.augmentations
    assert cfg.lr_multiplier == base.lr_multiplier and cfg.optimizer == base.optimizer
    assert (cfg.train.max_iter, cfg.train.seed) == (base.train.max_iter, base.train.seed)
    assert cfg.dataloader.test == base.dataloader.test


def test_the_schedule_steps_at_60_and_90_percent_of_any_max_iter():
    schedule = instantiate(load("known_ddc").lr_multiplier)
    for max_iter in (800, 300):
        assert schedule((int(0.6 * max_iter) - 1) / max_iter) == 1.0
        assert schedule(int(0.6 * max_iter) / max_iter) == pytest.approx(0.1)
        assert schedule(int(0.9 * max_iter) / max_iter) == pytest.approx(0.05)
