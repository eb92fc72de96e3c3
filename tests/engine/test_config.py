"""Command-line overrides (alphafree_matting/engine/config.py): a dict value replaces the node."""

import pytest
from omegaconf import OmegaConf

from alphafree_matting.engine import apply_overrides


def config():
    return OmegaConf.create(
        {"model": {"criterion": {"losses": {"known": 1.0, "ddc": 10.0}, "window": 11}}}
    )


def test_a_dict_value_replaces_the_dict_it_overrides():
    cfg = apply_overrides(config(), ["model.criterion.losses={known:1.0}"])
    assert dict(cfg.model.criterion.losses) == {"known": 1.0}


def test_a_dotted_key_changes_one_entry_and_leaves_the_rest():
    cfg = apply_overrides(config(), ["model.criterion.losses.ddc=0", "model.criterion.window=5"])
    assert dict(cfg.model.criterion.losses) == {"known": 1.0, "ddc": 0}
    assert cfg.model.criterion.window == 5


def test_a_key_below_a_value_that_is_not_a_config_is_refused():
    with pytest.raises(KeyError, match="model.criterion.window is a int"):
        apply_overrides(config(), ["model.criterion.window.size=3"])


def test_deleting_a_key_is_refused_with_the_key():
    with pytest.raises(ValueError, match="~model.criterion.window"):
        apply_overrides(config(), ["~model.criterion.window"])
