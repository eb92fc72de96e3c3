"""tools/export_hf.py: a trimap-input model trained here as a transformers ViTMatte directory that
from_pretrained loads with no missing key and that predicts the same alpha."""

import pytest
import torch

from alphafree_matting.predictor import MattingPredictor
from tests.helpers.models import write_tiny_model
from tools.export_hf import main as export_main

transformers = pytest.importorskip("transformers")


def test_export_hf_writes_a_directory_transformers_loads_with_the_same_alpha(tmp_path, capsys):
    config, checkpoint = write_tiny_model(tmp_path / "run", trimap_input=True)
    output = tmp_path / "hf"
    code = export_main(
        ["--config-file", str(config), "--checkpoint", str(checkpoint), "--output", str(output)]
    )
    assert code == 0, capsys.readouterr().err
    assert "loads with no missing key" in capsys.readouterr().out
    assert {p.name for p in output.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    }
    hf_model, info = transformers.VitMatteForImageMatting.from_pretrained(
        output, output_loading_info=True
    )
    assert not any(info.values()), info

    model = MattingPredictor(str(config), str(checkpoint), device="cpu").model
    generator = torch.Generator().manual_seed(0)
    item = {
        "image": torch.rand(3, 45, 61, generator=generator),
        "trimap": torch.randint(0, 3, (1, 45, 61), generator=generator).float() / 2,
    }
    with torch.no_grad():
        alpha = model([item])[0]["alpha"]
        network_input = model.preprocess([item], with_targets=False).inputs
        expected = hf_model.eval()(network_input).alphas[0, :, :45, :61]
    assert alpha.std() > 0.05
    assert (alpha - expected).abs().max() <= 1e-5


def test_export_hf_refuses_an_automatic_model_with_the_reason(tmp_path, capsys):
    config, checkpoint = write_tiny_model(tmp_path / "run", trimap_input=False)
    code = export_main(
        ["--config-file", str(config), "--checkpoint", str(checkpoint), "--output", str(tmp_path)]
    )
    assert code == 1
    error = capsys.readouterr().err
    assert "only trimap-input models" in error and "export_onnx.py" in error


def test_export_hf_reports_a_checkpoint_of_another_channel_count(tmp_path, capsys):
    config, _ = write_tiny_model(tmp_path / "trimap_run", trimap_input=True)
    _, rgb_checkpoint = write_tiny_model(tmp_path / "rgb_run", trimap_input=False)
    code = export_main(
        ["--config-file", str(config), "--checkpoint", str(rgb_checkpoint), "--output", "x"]
    )
    assert code == 1
    error = capsys.readouterr().err
    assert "rgb_run/model_final.pth" in error and "patch_embed.proj.weight" in error
