"""projects/TrimapViTMatte: trimap-input ViTMatte configs (alpha-supervised vs known + DDC),
official-checkpoint loading, and the toy config through the stock training script."""

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from alphafree_matting.checkpoint import load_pretrained
from alphafree_matting.evaluation import UNKNOWN_REGION_KEYS
from alphafree_matting.modeling import ViTMatte
from tests.helpers.models import TINY_BACKBONE
from tests.helpers.train_net import FEW_STEPS, PROJECTS, metrics_lines, run_tool

CONFIGS = PROJECTS / "TrimapViTMatte" / "configs"
EXPERIMENTS = ("toy_ddc", "toy_alpha", "am2k_ddc", "am2k_alpha")


def load_config(name: str):
    return LazyConfig.load(str(CONFIGS / f"{name}.py"))


def flatten(node, prefix: str = "") -> dict:
    """Config leaves as ``{"a.b.c": repr(value)}``, interpolations left unresolved."""
    if isinstance(node, (DictConfig, ListConfig)):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return {prefix: repr(node)}
    leaves = {}
    for key, child in items:
        leaves.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_feeds_the_trimap_to_model_and_mappers_and_scores_the_unknown_region(name):
    cfg = load_config(name)
    cfg.model.backbone.update(TINY_BACKBONE)
    model = instantiate(cfg.model)
    assert isinstance(model, ViTMatte) and model.trimap_input
    assert model.backbone.in_chans == 4 and model.decoder.img_chans == 4
    assert cfg.dataloader.train.mapper.trimap_input and cfg.dataloader.test.mapper.trimap_input
    assert cfg.dataloader.evaluator.protocol == "unknown_region"
    with torch.no_grad():
        output = model.eval()([{"image": torch.rand(3, 40, 50), "trimap": torch.ones(1, 40, 50)}])
    assert output[0]["alpha"].shape == (1, 40, 50)


@pytest.mark.parametrize("dataset", ["toy", "am2k"])
def test_alpha_config_differs_from_the_ddc_config_only_in_the_supervision(dataset):
    ddc = flatten(load_config(f"{dataset}_ddc"))
    alpha = flatten(load_config(f"{dataset}_alpha"))
    changed = {key for key in ddc.keys() | alpha.keys() if ddc.get(key) != alpha.get(key)}
    changed = {
        key.split(".dataset.")[0] + ".dataset" if ".dataset." in key else key for key in changed
    }
    assert changed == {
        "model.criterion.losses.known",
        "model.criterion.losses.ddc",
        "model.criterion.losses.alpha_l1",
        "dataloader.train.mapper.label",
        "dataloader.train.dataset",
        "train.output_dir",
    }
    cfg = load_config(f"{dataset}_alpha")
    assert dict(cfg.model.criterion.losses) == {"alpha_l1": 1.0}
    assert cfg.dataloader.train.mapper.label == "alpha"


def test_am2k_alpha_config_reads_generated_trimaps_as_input_and_gt_alphas_as_labels(
    datasets_root,
):
    cfg = load_config("am2k_alpha")
    dataset_dicts = instantiate(cfg.dataloader.train.dataset)
    assert len(dataset_dicts) == 3
    for record in dataset_dicts:
        assert record["file_name"].startswith(str(datasets_root / "AM-2K" / "train" / "original"))
        assert "/train/trimap/" in record["trimap_file_name"]
        assert "/train/mask/" in record["alpha_file_name"]
    upscale, crop = cfg.dataloader.train.mapper.augmentations  # the authors' crop, at 32 px
    upscale.min_size, crop.crop_size = 32, 32
    sample = instantiate(cfg.dataloader.train.mapper)(dataset_dicts[0])
    assert sample["trimap"].shape == sample["alpha"].shape == (1, 32, 32)


def test_toy_alpha_config_trains_one_step_from_its_own_loader(toy_datasets, monkeypatch):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(toy_datasets))
    cfg = load_config("toy_alpha")
    cfg.dataloader.train.update(total_batch_size=2, num_workers=0)
    cfg.dataloader.train.mapper.augmentations[0].crop_size = 64
    batch = next(iter(instantiate(cfg.dataloader.train)))
    assert all("trimap" in item and "alpha" in item for item in batch)
    model = instantiate(cfg.model).train()
    losses = model(batch)
    assert set(losses) == {"loss_alpha_l1"} and torch.isfinite(losses["loss_alpha_l1"])


# --- official ViTMatte-S checkpoints -----------------------------------------------------------
@pytest.fixture(scope="module")
def official_stand_in(tmp_path_factory):
    """A file laid out like an official ViTMatte-S checkpoint (``{"model": ...}``, backbone +
    decoder keys of a 4-channel ViT-S at img_size 512), with random values."""
    model = instantiate(load_config("am2k_ddc").model)
    generator = torch.Generator().manual_seed(0)
    state_dict = {
        key: torch.rand(value.shape, generator=generator) + 0.5
        if value.is_floating_point()
        else value + 3
        for key, value in model.state_dict().items()
    }
    path = tmp_path_factory.mktemp("official") / "ViTMatte_S_Com.pth"
    torch.save({"model": state_dict}, path)
    return path, state_dict


def test_project_model_has_the_official_vitmatte_s_key_layout(official_stand_in):
    _, state_dict = official_stand_in
    assert {key.split(".")[0] for key in state_dict} == {"backbone", "decoder"}
    assert state_dict["backbone.patch_embed.proj.weight"].shape == (384, 4, 16, 16)
    assert state_dict["backbone.pos_embed"].shape == (1, 197, 384)
    assert state_dict["backbone.blocks.0.attn.rel_pos_h"].shape == (27, 64)  # window 14
    assert state_dict["backbone.blocks.2.attn.rel_pos_h"].shape == (63, 64)  # img_size 512
    assert state_dict["decoder.convstream.convs.0.conv.weight"].shape == (48, 4, 3, 3)


def test_official_checkpoint_loads_with_no_missing_key(official_stand_in):
    path, state_dict = official_stand_in
    model = instantiate(load_config("am2k_ddc").model)
    report = load_pretrained(
        model, path, require_prefixes=("backbone.", "decoder."), allow_missing=()
    )
    assert report.missing == [] and report.unexpected == [] and report.incorrect_shapes == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_dict[key]), key


def test_official_checkpoint_evaluates_through_the_documented_eval_only_command(
    official_stand_in, toy_datasets, tmp_path
):
    path, _ = official_stand_in
    log = run_tool(
        [
            "--eval-only",
            f"train.init_checkpoint={path}",
            f"train.output_dir={tmp_path}",
            "train.device=cpu",
            "dataloader.test.dataset.names=toy_matting_val",
            "dataloader.test.num_workers=0",
        ],
        toy_datasets,
        config=CONFIGS / "am2k_ddc.py",
    )
    assert "missing in the checkpoint" not in log and "unused from the checkpoint" not in log
    evaluated = metrics_lines(tmp_path)[-1]
    assert {f"matting/{key}" for key in UNKNOWN_REGION_KEYS} <= set(evaluated)


# --- through the stock training script -------------------------------------------------------
@pytest.fixture(scope="module")
def trained_toy_run(toy_datasets, tmp_path_factory):
    output = tmp_path_factory.mktemp("trimap_vitmatte_toy")
    run_tool(
        [*FEW_STEPS, f"train.output_dir={output}"], toy_datasets, config=CONFIGS / "toy_ddc.py"
    )
    return output


def test_toy_config_trains_from_trimaps_and_scores_the_unknown_region(trained_toy_run):
    records = metrics_lines(trained_toy_run)
    losses = [record for record in records if "loss_ddc" in record]
    assert len(losses) == 3 and {"loss_known", "loss_ddc"} <= set(losses[-1])
    evaluated = [record for record in records if "matting/SAD(unknown)" in record]
    assert evaluated and {f"matting/{key}" for key in UNKNOWN_REGION_KEYS} == {
        key for key in evaluated[-1] if key.startswith("matting/")
    }


def test_eval_only_reproduces_the_final_evaluation(trained_toy_run, toy_datasets, tmp_path):
    final_eval = [r for r in metrics_lines(trained_toy_run) if "matting/SAD(unknown)" in r][-1]
    run_tool(
        [
            "--eval-only",
            f"train.init_checkpoint={trained_toy_run / 'model_final.pth'}",
            f"train.output_dir={tmp_path}",
            "dataloader.test.num_workers=0",
        ],
        toy_datasets,
        config=CONFIGS / "toy_ddc.py",
    )
    evaluated = metrics_lines(tmp_path)[-1]
    for key in UNKNOWN_REGION_KEYS:
        assert evaluated[f"matting/{key}"] == pytest.approx(final_eval[f"matting/{key}"], rel=1e-5)


def test_bounded_inference_of_the_config_model_gives_the_plain_alpha_on_odd_sizes():
    cfg = load_config("toy_ddc")
    cfg.model.backbone.update(TINY_BACKBONE, window_size=3)
    cfg.model.decoder.update(convstream_out=[4, 6, 8], fusion_out=[10, 8, 6, 4])
    cfg.model.inference_memory_mb = 0.003  # attention in bands and pieces of token rows
    torch.manual_seed(0)
    model = instantiate(cfg.model).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # attention far from uniform, BatchNorm not the identity
        for name, tensor in model.state_dict().items():
            if "rel_pos" in name or "attn.qkv.weight" in name:
                tensor.normal_(0, 0.5, generator=generator)
            elif "running_var" in name:
                tensor.uniform_(0.5, 1.5, generator=generator)
        model.decoder.matting_head.matting_convs[-1].weight.mul_(10.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny tiles: one thread is faster
    try:
        for height, width in [(45, 37), (29, 130)]:
            item = {
                "image": torch.rand(3, height, width, generator=generator),
                "trimap": torch.randint(0, 3, (1, height, width), generator=generator) / 2,
            }
            with torch.no_grad():
                model.bounded_inference = False
                plain = model([item])[0]["alpha"]
                model.bounded_inference = True
                bounded = model([item])[0]["alpha"]
            assert plain.std() > 0.05
            assert (bounded - plain).abs().max() <= 1e-5, (height, width)
    finally:
        torch.set_num_threads(threads)
