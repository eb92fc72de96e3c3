"""transformers ViTMatte in and out: random models built from configs (no download), imported with
tools/convert_pretrained.py, compared alpha for alpha with the project's ViTMatte, exported back."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.checkpoint import (
    CheckpointLoadError,
    convert_hf_vitmatte,
    load_pretrained,
    override_strings,
    read_hf_vitmatte,
    to_hf_state_dict,
)
from alphafree_matting.checkpoint.hf_export import hf_processor_config, save_hf_vitmatte
from alphafree_matting.conventions import target_to_trimap
from tests.helpers.hf_models import VITMATTE_S_BACKBONE, hf_vitmatte, tiny_hf_vitmatte
from tests.helpers.models import vitmatte_of_size
from tools.convert_pretrained import TRIMAP_VITMATTE_CONFIG
from tools.convert_pretrained import main as convert_main

transformers = pytest.importorskip("transformers")

HEIGHT, WIDTH = 70, 90  # not multiples of 32: the padding is compared too
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tiny_hf_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("hf_tiny")
    tiny_hf_vitmatte().save_pretrained(directory)
    return directory


def project_model(overrides: dict) -> torch.nn.Module:
    """projects/TrimapViTMatte's model with the sizes of a converted checkpoint, eval mode."""
    cfg = LazyConfig.load(str(TRIMAP_VITMATTE_CONFIG))
    LazyConfig.apply_overrides(cfg, override_strings(overrides))
    return instantiate(cfg.model).eval()


def sample(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(3, HEIGHT, WIDTH, generator=generator)
    trimap = torch.randint(0, 3, (1, HEIGHT, WIDTH), generator=generator).float() / 2
    return {"image": image, "trimap": trimap}


def hf_alpha(hf_model, network_input: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return hf_model(network_input).alphas[0, :, :HEIGHT, :WIDTH]


def project_alpha_and_input(model, item: dict) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        alpha = model([item])[0]["alpha"]
    return alpha, model.preprocess([item], with_targets=False).inputs


def convert(tmp_path: Path, source: Path, *args: str) -> Path:
    output = tmp_path / "converted.pth"
    assert convert_main([str(source), str(output), *args]) == 0
    return output


def test_hf_vitmatte_imports_and_gives_the_hf_alpha(tiny_hf_dir, tmp_path, capsys):
    converted = convert(tmp_path, tiny_hf_dir)
    assert "loads completely into" in capsys.readouterr().out
    _, report = read_hf_vitmatte(tiny_hf_dir)
    model = project_model(report.overrides)
    load = load_pretrained(model, converted, require_prefixes=("",), allow_missing=())
    assert load.missing == [] and load.unexpected == [] and load.incorrect_shapes == []

    alpha, network_input = project_alpha_and_input(model, sample())
    expected = hf_alpha(
        transformers.VitMatteForImageMatting.from_pretrained(tiny_hf_dir), network_input
    )
    assert alpha.std() > 0.1  # a varied alpha, not a saturated one
    assert (alpha - expected).abs().max() <= TOLERANCE


def test_exported_model_loads_in_transformers_and_gives_the_same_alpha(tiny_hf_dir, tmp_path):
    state_dict, report = read_hf_vitmatte(tiny_hf_dir)
    model = project_model(report.overrides)
    model.load_state_dict(state_dict)
    info = save_hf_vitmatte(model, str(tmp_path / "exported"))
    assert not any(info.values()), info
    exported = transformers.VitMatteForImageMatting.from_pretrained(tmp_path / "exported")
    alpha, network_input = project_alpha_and_input(model, sample(seed=1))
    assert (alpha - hf_alpha(exported, network_input)).abs().max() <= TOLERANCE
    original = transformers.VitMatteForImageMatting.from_pretrained(tiny_hf_dir).state_dict()
    for key, value in exported.state_dict().items():
        assert torch.equal(value, original[key]), key


def test_exported_preprocessor_config_reproduces_the_project_preprocessing(tiny_hf_dir, tmp_path):
    state_dict, report = read_hf_vitmatte(tiny_hf_dir)
    model = project_model(report.overrides)
    model.load_state_dict(state_dict)
    save_hf_vitmatte(model, str(tmp_path / "exported"))
    saved = json.loads((tmp_path / "exported" / "preprocessor_config.json").read_text())
    assert saved["image_mean"] == pytest.approx(hf_processor_config(model)["image_mean"])
    processor = transformers.VitMatteImageProcessor.from_pretrained(tmp_path / "exported")
    item = sample(seed=2)
    item["image"] = torch.round(item["image"] * 255) / 255  # what an 8-bit file holds
    image_u8 = (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    trimap_u8 = target_to_trimap(item["trimap"][0].numpy())  # stored values 0 / 128 / 255
    alpha, network_input = project_alpha_and_input(model, item)

    # 8-bit trimaps: the unknown value becomes 128/255, not 0.5; the image channels are exact.
    pixels = processor(images=image_u8, trimaps=trimap_u8, return_tensors="pt").pixel_values
    assert pixels.shape == network_input.shape
    assert (pixels[:, :3] - network_input[:, :3]).abs().max() < 1e-5
    assert (pixels[:, 3:] - network_input[:, 3:]).abs().max() == pytest.approx(0.5 / 255, abs=1e-6)
    # Trimaps given as 0 / 127.5 / 255 floats: the same input, hence the same alpha.
    trimap_float = item["trimap"][0].numpy() * 255
    pixels = processor(images=image_u8, trimaps=trimap_float, return_tensors="pt").pixel_values
    assert (pixels - network_input).abs().max() < 1e-5
    exported = transformers.VitMatteForImageMatting.from_pretrained(tmp_path / "exported")
    assert (alpha - hf_alpha(exported, pixels)).abs().max() <= 1e-4


def test_vitmatte_s_layout_converts_with_no_missing_or_unexpected_key(tmp_path, capsys):
    decoder = dict(convstream_hidden_sizes=[48, 96, 192], fusion_hidden_sizes=[256, 128, 64, 32])
    hf_vitmatte(VITMATTE_S_BACKBONE, decoder).save_pretrained(tmp_path / "vitmatte-s")
    converted = convert(tmp_path, tmp_path / "vitmatte-s" / "model.safetensors")
    message = capsys.readouterr().out
    assert message.rstrip().endswith(f"loads completely into {TRIMAP_VITMATTE_CONFIG}"), message
    cfg = LazyConfig.load(str(TRIMAP_VITMATTE_CONFIG))  # the config as is, no override
    report = load_pretrained(
        instantiate(cfg.model), converted, require_prefixes=("",), allow_missing=()
    )
    assert report.missing == [] and report.unexpected == [] and report.incorrect_shapes == []


def original_to_hf_names(state_dict: dict) -> dict:
    """The renaming of transformers' convert_vitmatte_to_hf.py (original .pth -> transformers),
    restated as the reference the converter is checked against."""
    stem = {
        "backbone.pos_embed": "backbone.embeddings.position_embeddings",
        "backbone.patch_embed.proj.weight": "backbone.embeddings.projection.weight",
        "backbone.patch_embed.proj.bias": "backbone.embeddings.projection.bias",
    }
    renamed = {}
    for key, value in state_dict.items():
        new = key.replace("backbone.blocks", "backbone.encoder.layer").replace("attn", "attention")
        new = new.replace("fusion_blks", "fusion_blocks").replace("bn", "batch_norm")
        renamed[stem.get(key, new)] = value
    return renamed


def test_hf_import_equals_the_original_format_loader_for_the_same_weights(tmp_path):
    official = vitmatte_of_size(384, 3, 6, trimap_input=True)  # the official ViTMatte layout (.pth)
    generator = torch.Generator().manual_seed(3)
    weights = {
        key: torch.randn(value.shape, generator=generator) if value.is_floating_point() else value
        for key, value in official.state_dict().items()
    }
    torch.save({"model": weights}, tmp_path / "ViTMatte_S_Com.pth")
    from_pth = vitmatte_of_size(384, 3, 6, trimap_input=True)
    load_pretrained(
        from_pth, tmp_path / "ViTMatte_S_Com.pth", require_prefixes=("",), allow_missing=()
    )

    hf_weights = original_to_hf_names(weights)
    assert sorted(hf_weights) == sorted(to_hf_state_dict(weights))
    hf_model = hf_vitmatte(
        dict(
            VITMATTE_S_BACKBONE,
            image_size=64,
            num_hidden_layers=3,
            window_block_indices=[0, 1],
            residual_block_indices=[2],
            out_features=["stage3"],
        ),
        dict(convstream_hidden_sizes=[48, 96, 192], fusion_hidden_sizes=[256, 128, 64, 32]),
    )
    hf_model.load_state_dict(hf_weights, strict=True)  # a valid transformers state dict
    hf_model.save_pretrained(tmp_path / "hf")
    imported, _ = read_hf_vitmatte(tmp_path / "hf")
    expected = from_pth.state_dict()
    assert sorted(imported) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(imported[key], value), key


def test_key_rules_map_every_tensor_both_ways_one_to_one(tiny_hf_dir):
    hf_state = tiny_hf_vitmatte().state_dict()
    project = convert_hf_vitmatte(hf_state)
    _, report = read_hf_vitmatte(tiny_hf_dir)
    assert sorted(project) == sorted(project_model(report.overrides).state_dict())
    assert sorted(to_hf_state_dict(project)) == sorted(hf_state)


# --- bad input ---------------------------------------------------------------------------------
def convert_fails(tmp_path: Path, source: Path, capsys, *args: str) -> str:
    assert convert_main([str(source), str(tmp_path / "out.pth"), *args]) == 1
    assert not (tmp_path / "out.pth").exists() and not (tmp_path / "out.pth.partial").exists()
    return capsys.readouterr().err


def test_a_directory_that_is_not_a_vitmatte_checkpoint_is_named_with_what_is_expected(
    tmp_path, capsys
):
    (tmp_path / "photos").mkdir()
    error = convert_fails(tmp_path, tmp_path / "photos", capsys)
    assert "photos is not a transformers ViTMatte checkpoint: it has no config.json" in error
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "config.json").write_text(
        json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]})
    )
    (tmp_path / "vit" / "model.safetensors").write_bytes(b"")
    error = convert_fails(tmp_path, tmp_path / "vit", capsys)
    assert "config.json describes a 'vit' model" in error and "model_type 'vitmatte'" in error


def test_weights_of_another_architecture_fail_with_the_file_named(tmp_path, capsys):
    from safetensors.torch import save_file

    save_file({"conv1.weight": torch.zeros(2, 3, 3, 3)}, tmp_path / "model.safetensors")
    error = convert_fails(tmp_path, tmp_path / "model.safetensors", capsys)
    assert "model.safetensors is not a transformers ViTMatte checkpoint" in error
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    error = convert_fails(tmp_path, tmp_path / "model.safetensors", capsys)
    assert "model.safetensors is not a readable safetensors file" in error
    state = tiny_hf_vitmatte().state_dict()
    state["backbone.encoder.layer.0.attention.q_norm.weight"] = torch.zeros(4)
    save_file(state, tmp_path / "model.safetensors")
    assert "another architecture" in convert_fails(tmp_path, tmp_path / "model.safetensors", capsys)


def test_a_checkpoint_of_another_channel_count_fails_with_what_was_expected(
    tiny_hf_dir, tmp_path, capsys
):
    error = convert_fails(tmp_path, tiny_hf_dir, capsys, "--in-chans", "3")
    assert "ViTMatte for 4 input channels; --in-chans 3 cannot change that" in error
    # transformers tensors without their config.json, checked against an RGB-only config.
    bare = tmp_path / "tensors.pth"
    torch.save(tiny_hf_vitmatte().state_dict(), bare)
    rgb_config = TRIMAP_VITMATTE_CONFIG.parents[3] / "configs" / "am2k_ddc.py"
    error = convert_fails(tmp_path, bare, capsys, "--config-file", str(rgb_config))
    assert "tensors.pth" in error and "backbone.patch_embed.proj.weight" in error
    assert "(384, 3, 16, 16)" in error  # what the config expects


def test_a_config_json_the_project_cannot_rebuild_names_the_field(tiny_hf_dir, tmp_path, capsys):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((tiny_hf_dir / name).read_bytes())
    config = json.loads((tmp_path / "config.json").read_text())
    config["backbone_config"]["out_features"] = ["stage1"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointLoadError, match=r"out_features=\['stage1'\]"):
        read_hf_vitmatte(tmp_path)


def test_export_names_what_transformers_vitmatte_cannot_represent(tiny_hf_dir):
    _, report = read_hf_vitmatte(tiny_hf_dir)
    model = project_model(report.overrides)
    model.decoder = torch.nn.Conv2d(4, 1, 1)  # another decoder in the same MattingModel
    with pytest.raises(ValueError, match="ViT backbone \\+ the detail-capture decoder"):
        save_hf_vitmatte(model, "unused")
