"""Command-line overrides (alphafree_matting/engine/config.py): a dict value replaces the node."""

import pytest
from omegaconf import OmegaConf

from alphafree_matting.engine import apply_overrides
from alphafree_matting.engine.config import ConfigKeyError, check_config


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


def lazy_config():
    """A config like the repo's: LazyCall nodes with and without written defaults, a list of
    LazyCall nodes, the train dict."""
    from detectron2.config import LazyCall as L

    from alphafree_matting.criterion import TrimapCriterion
    from alphafree_matting.data import MattingDatasetMapper, UnknownCenteredCrop

    cfg = OmegaConf.create(
        {
            "model": {"criterion": L(TrimapCriterion)(losses={"known": 1.0}, window=11)},
            "dataloader": {
                "mapper": L(MattingDatasetMapper)(
                    is_train=True, augmentations=[L(UnknownCenteredCrop)(crop_size=512)]
                )
            },
            "train": {"max_iter": 400, "checkpointer": {"period": 200}},
        },
        flags={"allow_objects": True},
    )
    return cfg


@pytest.mark.parametrize(
    "override",
    [
        "model.criterion.border=exclude",  # a constructor default the config does not write
        "model.criterion.losses.dc=1.0",  # an entry of a dict handed to the constructor
        "dataloader.mapper.augmentations.0.crop_size=64",  # a list index
        "dataloader.mapper.trimap_values=[0,1,2]",
        "train.max_iter=5",
        "train.cudnn_benchmark=True",  # read by detectron2's default_setup
        "train.checkpointer.max_to_keep=2",  # PeriodicCheckpointer's arguments
        "train.ddp.gradient_as_bucket_view=True",  # DistributedDataParallel's arguments
    ],
)
def test_overrides_of_keys_that_are_read_are_accepted(override):
    apply_overrides(lazy_config(), [override])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_itr=5", r"unknown config key train\.max_itr .*did you mean train\.max_iter\?"),
        (
            "model.criterion.windw=5",
            r"model\.criterion\.windw: TrimapCriterion takes no argument 'windw'; did you mean "
            r"model\.criterion\.window\?",
        ),
        ("train.checkpointer.max_to_kep=3", r"did you mean train\.checkpointer\.max_to_keep"),
        ("dataloader.mapper.augmentations.3.crop_size=64", r"list of 1 entries; use an index"),
        ("dataloader.maper.is_train=False", r"dataloader\.maper .*did you mean dataloader\.mapper"),
        ("modle.criterion.window=3", r"unknown config key modle .*did you mean model\?"),
    ],
)
def test_an_unknown_key_is_an_error_naming_it_and_its_close_matches(override, message):
    with pytest.raises(ConfigKeyError, match=message):
        apply_overrides(lazy_config(), [override])


def test_check_config_names_the_path_of_a_bad_constructor_argument_and_unknown_train_keys():
    cfg = lazy_config()
    cfg.model.criterion.windw = 5  # as a config file could write it
    cfg.train.max_itr = 5
    with pytest.raises(ConfigKeyError) as error:
        check_config(cfg)
    message = str(error.value)
    assert "model.criterion.windw: TrimapCriterion takes no argument 'windw'" in message
    assert "unknown config key train.max_itr: did you mean train.max_iter?" in message


def test_every_config_of_the_repository_passes_the_key_check():
    from pathlib import Path

    from detectron2.config import LazyConfig

    repo = Path(__file__).resolve().parents[2]
    files = [*repo.glob("configs/**/*.py"), *repo.glob("projects/*/configs/**/*.py")]
    files = [path for path in files if "common" not in path.parts]
    assert len(files) > 20
    for path in files:
        check_config(LazyConfig.load(str(path)))
