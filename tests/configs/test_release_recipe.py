"""configs/am2k_ddc.py trains what the authors' released code trains (github.com/poppuppy/
alpha-free-matting). Each expected value is written here with the authors' file it comes
from."""

from pathlib import Path

import pytest
import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.data import BUILTIN_SPLITS, UnknownCenteredCrop, UpscaleSmall
from alphafree_matting.data.transforms import RELEASE_INTERPOLATIONS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OVER_AM2K_DDC = sorted(
    str(path.relative_to(CONFIGS))
    for path in (CONFIGS / "ablations").glob("*.py")
    if path.name != "am2k_paper_text_aug.py"
) + ["am2k_alpha.py", "am2k_ddc_syncbn.py"]


def load(name):
    return LazyConfig.load(str(CONFIGS / name))


@pytest.fixture(scope="module")
def cfg():
    return load("am2k_ddc.py")


def test_batch_is_two_gpus_of_sixteen(cfg):
    # train.sh: --num-gpus 2; vitmatte_s_am2k_100ep.py: dataloader.train.batch_size = 16 per GPU
    assert cfg.dataloader.train.total_batch_size == 32
    assert cfg.dataloader.train.total_batch_size // 2 == 16  # what the decoder's BN sees per GPU


def test_schedule_is_100_epochs_with_steps_at_60_and_90(cfg):
    # vitmatte_s_am2k_100ep.py: max_iter = int(1800 / 16 / 2 * 100), milestones at 60 / 90 epochs,
    # values [1.0, 0.1, 0.05], warmup_length = 250 / max_iter; common/scheduler.py: factor 0.001
    assert cfg.train.max_iter == 5625
    assert cfg.train.checkpointer.period == 562  # int(1800 / 16 / 2 * 10)
    scheduler = cfg.lr_multiplier
    assert list(scheduler.scheduler.milestones) == [3375, 5062]
    assert list(scheduler.scheduler["values"]) == [1.0, 0.1, 0.05]
    assert scheduler.scheduler.num_updates == 5625
    assert scheduler.warmup_length * cfg.train.max_iter == pytest.approx(250)
    assert scheduler.warmup_factor == 0.001
    lr = instantiate(scheduler)
    assert lr(3374 / 5625) == 1.0 and lr(3375 / 5625) == pytest.approx(0.1)
    assert lr(5061 / 5625) == pytest.approx(0.1) and lr(5062 / 5625) == pytest.approx(0.05)


def test_precision_and_ddp_are_the_releases(cfg):
    # engine/mattingtrainer.py: autocast + GradScaler on every step (an AMPTrainer)
    assert cfg.train.amp.enabled is True
    # configs/common/train.py
    assert dict(cfg.train.ddp) == dict(
        broadcast_buffers=True, find_unused_parameters=False, fp16_compression=True
    )


def test_augmentation_is_the_releases_random_crop_only(cfg):
    # data/am2k_dataset.py: DataGeneratorAM2K's train transforms = [RandomCrop(512), ToTensor]
    mapper = cfg.dataloader.train.mapper
    assert mapper.label == "trimap" and not mapper.get("trimap_input", False)
    upscale, crop = instantiate(mapper.augmentations)
    assert isinstance(upscale, UpscaleSmall) and isinstance(crop, UnknownCenteredCrop)
    assert (upscale.min_size, upscale.ratio) == (512, 1.1)  # ratio = 1.1 * 512 / short side
    assert upscale.interpolations == RELEASE_INTERPOLATIONS  # maybe_random_interp
    assert crop.crop_size == (512, 512) and crop.grid == 4 and crop.min_candidates == 10
    assert crop.no_unknown == "resize"  # "does not have enough unknown area ... Resized"


def test_labels_are_alpha2trimap(cfg):
    # alpha2trimap.py: 640x640 resize with a random interpolation, fg / bg eroded by elliptic
    # kernels of np.random.randint(1, 30), nothing corrected afterwards
    recipe = BUILTIN_SPLITS[cfg.dataloader.train.dataset.names].recipe
    assert recipe.mode == "trimap" and recipe.kernel_size is None
    assert recipe.interpolation == "random" and recipe.consistent_known is False


def test_model_loss_and_optimizer_are_the_releases(cfg):
    # configs/common/model.py: ViT-S/16, window 14, global blocks 2/5/8/11, residual blocks
    backbone = cfg.model.backbone
    assert (backbone.embed_dim, backbone.depth, backbone.num_heads) == (384, 12, 6)
    assert list(backbone.window_block_indexes) == [0, 1, 3, 4, 6, 7, 9, 10]
    assert list(backbone.residual_block_indexes) == [2, 5, 8, 11] and backbone.window_size == 14
    # losses=['known', 'consistency'], the consistency (DDC) loss x 10
    assert dict(cfg.model.criterion.losses) == {"known": 1.0, "ddc": 10.0}
    assert cfg.model.criterion.window == 11
    # configs/common/optimizer.py over detectron2's common/optim.py AdamW
    assert (cfg.optimizer.lr, tuple(cfg.optimizer.betas)) == (5e-4, (0.9, 0.999))
    assert cfg.optimizer.weight_decay == 0.1
    params = cfg.optimizer.params
    assert params.weight_decay_norm == 0.0 and tuple(params.zero_weight_decay_names) == (
        "pos_embed",
    )
    assert (params.lr_decay_rate, params.num_layers) == (0.65, 12)


@pytest.mark.parametrize("name", OVER_AM2K_DDC)
def test_every_config_over_am2k_ddc_keeps_the_release_recipe(cfg, name):
    derived = load(name)
    for key in ("total_batch_size",):
        assert derived.dataloader.train[key] == cfg.dataloader.train[key]
    assert (
        derived.dataloader.train.mapper.augmentations == cfg.dataloader.train.mapper.augmentations
    )
    assert derived.train.max_iter == cfg.train.max_iter and derived.train.amp == cfg.train.amp
    assert derived.train.ddp == cfg.train.ddp and derived.lr_multiplier == cfg.lr_multiplier
    assert derived.optimizer == cfg.optimizer


def test_paper_text_variant_adds_random_scale_and_flip_around_the_release_crop(cfg):
    variant = load("ablations/am2k_paper_text_aug.py").dataloader.train.mapper.augmentations
    names = [augmentation._target_.__name__ for augmentation in variant]
    assert names == ["RandomScale", "UpscaleSmall", "UnknownCenteredCrop", "RandomHFlip"]
    assert list(variant[1:3]) == list(cfg.dataloader.train.mapper.augmentations)


def test_syncbn_config_changes_only_the_decoders_batchnorm(cfg):
    synced = load("am2k_ddc_syncbn.py")
    assert synced.model.decoder.norm == "SyncBN" and cfg.model.decoder.get("norm", "BN") == "BN"
    assert synced.dataloader.train.total_batch_size == 32 and synced.optimizer == cfg.optimizer
    assert synced.lr_multiplier == cfg.lr_multiplier and synced.train.max_iter == 5625
    synced.model.backbone.update(depth=1, window_block_indexes=[], residual_block_indexes=[])
    decoder = instantiate(synced.model.decoder)
    norms = [m for m in decoder.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    assert norms and all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
