"""Checkpoint conversion (DINO / MAE stand-ins) and checked loading (official ViTMatte stand-in).

No weights can be downloaded here: stand-ins are timm ViTs with random values and the same key
layout as the released files (DINO: a bare timm state dict; MAE: the same under "model").
"""

import argparse
from pathlib import Path

import pytest
import timm
import torch
from detectron2.checkpoint import DetectionCheckpointer

from alphafree_matting.checkpoint import (
    ARCHITECTURE_ADDED_PATTERNS,
    CheckpointLoadError,
    extract_state_dict,
    load_pretrained,
    read_checkpoint,
    widen_patch_embed,
)
from alphafree_matting.modeling import ViTMatte
from tests.helpers.models import vitmatte_of_size, vitmatte_s
from tools import convert_pretrained


def random_timm_state_dict(name: str, **kwargs) -> dict:
    """A timm ViT's state dict with random values (built on the meta device: no slow init)."""
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, **kwargs)
    generator = torch.Generator().manual_seed(0)
    return {
        key: torch.randn(value.shape, generator=generator)
        for key, value in model.state_dict().items()
    }


def convert(tmp_path: Path, source: dict, *args: str) -> Path:
    source_path, output_path = tmp_path / "source.pth", tmp_path / "converted.pth"
    torch.save(source, source_path)
    assert convert_pretrained.main([str(source_path), str(output_path), *args]) == 0
    return output_path


def assert_backbone_equals_source(model: ViTMatte, source: dict, in_chans: int = 3) -> None:
    backbone = model.backbone.state_dict()
    for key, value in source.items():
        if key == "patch_embed.proj.weight":
            assert torch.equal(backbone[key][:, :3], value)
            assert not backbone[key][:, 3:].any()
            assert backbone[key].shape[1] == in_chans
        elif key in ("cls_token", "norm.weight", "norm.bias", "head.weight", "head.bias"):
            assert key not in backbone
        else:
            assert torch.equal(backbone[key], value), key


@pytest.fixture(scope="module")
def dino_vit_s() -> dict:
    return random_timm_state_dict("vit_small_patch16_224")


def test_dino_vit_s_converts_and_loads_every_backbone_weight(tmp_path, dino_vit_s, capsys):
    converted_path = convert(tmp_path, dino_vit_s)
    assert "cls_token" in capsys.readouterr().out  # the tool reports what it dropped
    converted = torch.load(converted_path, weights_only=True)["model"]
    assert all(key.startswith("backbone.") for key in converted)
    assert "backbone.cls_token" not in converted and "backbone.norm.weight" not in converted
    # pos_embed keeps its class-token slot; the ViT interpolates it at run time.
    assert torch.equal(converted["backbone.pos_embed"], dino_vit_s["pos_embed"])

    model = vitmatte_s(device="cpu")  # configs/common/model.py
    report = load_pretrained(model, converted_path)
    assert report.unexpected == [] and report.incorrect_shapes == []
    # Only what no classification ViT has is missing: rel-pos tables, residual blocks, decoder.
    backbone_missing = [key for key in report.missing if key.startswith("backbone.")]
    assert backbone_missing and all(
        "rel_pos" in key or ".residual." in key for key in backbone_missing
    )
    assert all(key.startswith(("backbone.", "decoder.")) for key in report.missing)
    assert_backbone_equals_source(model, dino_vit_s)


def test_converted_checkpoint_loads_with_detectron2_checkpointer(tmp_path):
    source = random_timm_state_dict("vit_small_patch16_224", depth=3)
    converted_path = convert(tmp_path, source)
    model = vitmatte_of_size(384, 3, 6)
    DetectionCheckpointer(model).load(str(converted_path))
    assert_backbone_equals_source(model, source)


def test_four_channel_conversion_keeps_rgb_weights_and_zeros_the_trimap_channel(tmp_path):
    source = random_timm_state_dict("vit_small_patch16_224", depth=3)
    converted_path = convert(tmp_path, source, "--in-chans", "4")
    model = vitmatte_of_size(384, 3, 6, trimap_input=True)
    load_pretrained(model, converted_path)
    assert_backbone_equals_source(model, source, in_chans=4)


def test_mae_vit_b_under_model_key_converts_and_loads(tmp_path):
    source = random_timm_state_dict("vit_base_patch16_224", depth=3)
    converted_path = convert(tmp_path, {"model": source})
    model = vitmatte_of_size(768, 3, 12)
    report = load_pretrained(model, converted_path)
    assert report.unexpected == []
    assert_backbone_equals_source(model, source)


def test_full_dino_checkpoint_keeps_only_the_teacher_backbone():
    backbone = random_timm_state_dict("vit_small_patch16_224", depth=1)
    checkpoint = {
        "teacher": {
            **{"backbone." + key: value for key, value in backbone.items()},
            "head.mlp.0.weight": torch.zeros(2, 2),
        },
        "epoch": 100,
    }
    assert sorted(extract_state_dict(checkpoint)) == sorted(backbone)


def test_widen_patch_embed_rejects_fewer_channels():
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_patch_embed(torch.zeros(8, 4, 16, 16), 3)


def test_missing_backbone_weight_fails_and_loads_nothing(tmp_path):
    source = random_timm_state_dict("vit_small_patch16_224", depth=3)
    del source["blocks.1.mlp.fc1.weight"]
    converted_path = convert(tmp_path, source)
    model = vitmatte_of_size(384, 3, 6)
    before = model.backbone.pos_embed.detach().clone()
    with pytest.raises(CheckpointLoadError, match=r"backbone\.blocks\.1\.mlp\.fc1\.weight"):
        load_pretrained(model, converted_path)
    assert torch.equal(model.backbone.pos_embed, before)


def test_three_channel_weights_into_trimap_model_fail_with_conversion_hint(tmp_path):
    converted_path = convert(tmp_path, random_timm_state_dict("vit_small_patch16_224", depth=3))
    with pytest.raises(CheckpointLoadError, match="--in-chans"):
        load_pretrained(vitmatte_of_size(384, 3, 6, trimap_input=True), converted_path)


def test_unconverted_weights_fail_with_hint_to_convert(tmp_path):
    path = tmp_path / "dino.pth"
    torch.save(random_timm_state_dict("vit_small_patch16_224", depth=3), path)
    with pytest.raises(CheckpointLoadError, match="convert_pretrained.py"):
        load_pretrained(vitmatte_of_size(384, 3, 6), path)


def test_official_vitmatte_stand_in_loads_with_no_missing_key(tmp_path):
    official = vitmatte_of_size(384, 3, 6, trimap_input=True)
    generator = torch.Generator().manual_seed(1)
    state_dict = {
        key: (
            torch.randn(value.shape, generator=generator)
            if value.is_floating_point()
            else value + 7
        )
        for key, value in official.state_dict().items()
    }
    path = tmp_path / "ViTMatte_S_Com.pth"
    torch.save({"model": state_dict, "iteration": 100}, path)

    model = vitmatte_of_size(384, 3, 6, trimap_input=True)
    report = load_pretrained(
        model, path, require_prefixes=("backbone.", "decoder."), allow_missing=()
    )
    assert report.missing == [] and report.unexpected == [] and report.incorrect_shapes == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_dict[key]), key


def test_strict_load_fails_when_architecture_added_weights_are_missing(tmp_path):
    converted_path = convert(tmp_path, random_timm_state_dict("vit_small_patch16_224", depth=3))
    assert ARCHITECTURE_ADDED_PATTERNS  # the default allowance is what the DINO case relies on
    with pytest.raises(CheckpointLoadError, match="rel_pos_h"):
        load_pretrained(vitmatte_of_size(384, 3, 6), converted_path, allow_missing=())


def test_pickled_objects_need_explicit_permission(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model": {}, "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointLoadError, match="allow_pickle=True"):
        read_checkpoint(path)
    assert read_checkpoint(path, allow_pickle=True)["args"].lr == 0.1


def test_tool_reports_a_file_that_is_not_a_vit(tmp_path, capsys):
    source = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, source)
    assert convert_pretrained.main([str(source), str(tmp_path / "out.pth")]) == 1
    assert "not a timm-layout ViT" in capsys.readouterr().err
    assert not (tmp_path / "out.pth").exists()
