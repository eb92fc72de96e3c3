"""projects/ResNetMatte: the plugin's MattingModel with detectron2's ResNet and the project's
U-Net decoder keeps the model contract; the torchvision weight conversion; the toy config trained
and evaluated through the stock tools/lazyconfig_train_net.py."""

import subprocess
import sys

import pytest
import torch
import torchvision
from detectron2.config import LazyConfig, instantiate
from detectron2.modeling.backbone import BasicStem, ResNet
from resnet_matte import convert_torchvision_resnet
from torch import nn

from alphafree_matting.checkpoint import load_pretrained
from alphafree_matting.conventions import UNKNOWN_TARGET
from alphafree_matting.modeling import MattingModel
from tests.helpers.models import infer_alpha
from tests.helpers.train_net import FEW_STEPS, PROJECTS, metrics_lines, run_tool

PROJECT = PROJECTS / "ResNetMatte"


def convert(*args: str) -> subprocess.CompletedProcess:
    """Run the project's converter script."""
    script = PROJECT / "convert_torchvision_resnet.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
    )


def load_config(name: str):
    return LazyConfig.load(str(PROJECT / "configs" / f"{name}.py"))


def toy_model(criterion=None) -> MattingModel:
    cfg = load_config("toy_ddc")
    if criterion is not None:
        cfg.model.criterion = criterion
    return instantiate(cfg.model)


class RecordingCriterion(nn.Module):
    """Keeps what the model passed to the criterion; the loss is the mean alpha."""

    def forward(self, alpha_pred, image, targets):
        self.alpha_pred, self.image, self.targets = alpha_pred, image, targets
        return {"loss_mean_alpha": alpha_pred.mean()}


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics (positive variances), so a match is not luck."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(values + 0.5 if "running_var" in name else values - 0.5)
    return module


def test_eval_returns_alpha_at_each_input_size_in_unit_range():
    model = toy_model().eval()
    sizes = [(37, 50), (64, 21)]
    with torch.no_grad():
        outputs = model([{"image": torch.rand(3, *size)} for size in sizes])
    assert [tuple(output["alpha"].shape) for output in outputs] == [(1, 37, 50), (1, 64, 21)]
    for output in outputs:
        alpha = output["alpha"]
        assert alpha.dtype == torch.float32 and 0 <= alpha.min() and alpha.max() <= 1


def test_criterion_gets_the_unnormalised_image_and_targets_padded_like_vitmatte():
    criterion = RecordingCriterion()
    model = toy_model(criterion).train()
    image_a, image_b = torch.rand(3, 40, 50), torch.rand(3, 64, 30)
    mapper_valid = torch.ones(1, 40, 50, dtype=torch.bool)
    mapper_valid[:, :, 45:] = False  # padding added by the mapper's crop
    losses = model(
        [
            {"image": image_a, "trimap": torch.ones(1, 40, 50), "valid": mapper_valid},
            {
                "image": image_b,
                "trimap": torch.zeros(1, 64, 30),
                "valid": torch.ones(1, 64, 30) > 0,
            },
        ]
    )
    assert set(losses) == {"loss_mean_alpha"}
    assert criterion.alpha_pred.shape == (2, 1, 64, 64)  # padded to a multiple of 32
    image, targets = criterion.image, criterion.targets
    assert torch.equal(image[0, :, :40, :50], image_a) and torch.equal(image[1, :, :, :30], image_b)
    assert image[0, :, 40:].abs().sum() == 0 and image[1, :, :, 30:].abs().sum() == 0
    trimap, valid = targets["trimap"], targets["valid"]
    assert trimap[0, :, :40, :50].eq(1).all() and trimap[0, :, 40:].eq(UNKNOWN_TARGET).all()
    assert trimap[1, :, :, 30:].eq(UNKNOWN_TARGET).all()
    assert valid.dtype == torch.bool and valid.sum() == 40 * 45 + 64 * 30
    assert valid[0, :, :40, :45].all() and valid[1, :, :, :30].all()


def test_labels_reach_the_plugin_criterion_as_known_and_ddc_losses():
    model = toy_model().train()
    trimap = torch.full((1, 48, 48), UNKNOWN_TARGET)
    trimap[:, :, :10] = 0.0
    losses = model([{"image": torch.rand(3, 48, 48), "trimap": trimap}])
    assert set(losses) == {"loss_known", "loss_ddc"}
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total)
    assert model.backbone.stem.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "override, message",
    [
        (dict(in_channels=[128, 64, 32, 8]), r"set decoder.in_channels=\[128, 64, 32, 16\]"),
        (
            dict(in_features=["res5", "res4", "res2", "stem"], in_channels=[128, 64, 16, 16]),
            r"need strides \[32, 16, 8, 4\]; the backbone gives \[32, 16, 4, 4\]",
        ),
        (dict(in_features=["res5", "res4", "res3", "res1"]), "set backbone.out_features"),
    ],
)
def test_decoder_that_does_not_fit_the_backbone_fails_with_the_config_fix(override, message):
    cfg = load_config("toy_ddc")
    cfg.model.backbone.out_features = ["stem", "res2", "res3", "res4", "res5"]
    cfg.model.decoder.update(override)
    model = instantiate(cfg.model).eval()
    with pytest.raises(ValueError, match=message):
        model([{"image": torch.rand(3, 64, 64)}])


def test_bad_inputs_fail_with_the_key_and_the_fix():
    image = torch.rand(3, 32, 32)
    model = toy_model().train()
    with pytest.raises(ValueError, match="neither 'trimap' nor 'alpha'"):
        model([{"image": image}])
    with pytest.raises(ValueError, match=r"a.png\)\['trimap'\] must be .* got \(1, 16, 32\)"):
        model([{"image": image, "trimap": torch.zeros(1, 16, 32), "file_name": "a.png"}])
    with pytest.raises(ValueError, match="'trimap' is present in 1 of 2 inputs"):
        model([{"image": image, "trimap": torch.zeros(1, 32, 32)}, {"image": image}])
    with pytest.raises(ValueError, match=r"expects RGB in \[0, 1\]"):  # evaluation checks values
        model.eval()([{"image": image * 255}])


def test_training_without_a_criterion_asks_for_one_in_the_config():
    cfg = load_config("toy_ddc")
    cfg.model.criterion = None
    model = instantiate(cfg.model).train()
    with pytest.raises(ValueError, match="set model.criterion"):
        model([{"image": torch.rand(3, 32, 32), "trimap": torch.zeros(1, 32, 32)}])


def test_converted_torchvision_weights_give_torchvision_features():
    torchvision_resnet = randomise(torchvision.models.resnet18(weights=None), seed=0).eval()
    converted, dropped = convert_torchvision_resnet(torchvision_resnet.state_dict(), prefix="")
    assert dropped == ["fc.bias", "fc.weight"]
    resnet = ResNet(
        stem=BasicStem(in_channels=3, out_channels=64, norm="BN"),
        stages=ResNet.make_default_stages(depth=18, norm="BN"),
        out_features=["res5"],
    ).eval()
    resnet.load_state_dict(converted, strict=True)
    images = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        expected = images
        for layer in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            expected = getattr(torchvision_resnet, layer)(expected)
        features = resnet(images)["res5"]
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def test_am2k_config_loads_a_converted_torchvision_resnet34_backbone(tmp_path):
    source, converted = tmp_path / "resnet34.pth", tmp_path / "resnet34_d2.pth"
    torch.save(randomise(torchvision.models.resnet34(weights=None), seed=1).state_dict(), source)
    result = convert(str(source), str(converted))
    assert result.returncode == 0, result.stderr
    assert "dropped fc.bias, fc.weight" in result.stdout

    cfg = load_config("am2k_ddc")
    model = instantiate(cfg.model)
    report = load_pretrained(model, converted)  # what train.init_checkpoint does in training
    assert not [key for key in report.missing if key.startswith("backbone.")]
    # FrozenBN keeps no batch counter; nothing else of the file is left over.
    assert report.unexpected and all(k.endswith("num_batches_tracked") for k in report.unexpected)
    assert torch.equal(
        model.backbone.res3[0].shortcut.norm.running_var,
        torch.load(source)["layer2.0.downsample.1.running_var"],
    )


def test_converter_rejects_a_file_that_is_not_a_torchvision_resnet(tmp_path):
    source = tmp_path / "vit.pth"
    torch.save({"pos_embed": torch.zeros(1, 5, 8)}, source)
    result = convert(str(source), str(tmp_path / "out.pth"))
    assert result.returncode == 1
    assert "not a torchvision ResNet" in result.stderr
    assert not (tmp_path / "out.pth").exists()


# --- through the stock training script -------------------------------------------------------
@pytest.fixture(scope="module")
def trained_toy_run(toy_datasets, tmp_path_factory):
    output = tmp_path_factory.mktemp("resnet_matte_toy")
    run_tool(
        [*FEW_STEPS, f"train.output_dir={output}"],
        toy_datasets,
        config=PROJECT / "configs" / "toy_ddc.py",
    )
    return output


def test_toy_config_trains_through_the_stock_script(trained_toy_run):
    assert (trained_toy_run / "model_final.pth").is_file()
    records = metrics_lines(trained_toy_run)
    losses = [record for record in records if "loss_ddc" in record]
    assert len(losses) == 3 and {"loss_known", "loss_ddc", "total_loss"} <= set(losses[-1])
    evaluated = [record for record in records if "matting/SAD" in record]
    assert evaluated and {"matting/Grad", "matting/SAD-T"} <= set(evaluated[-1])


def test_eval_only_reloads_every_weight_and_reproduces_the_final_evaluation(
    trained_toy_run, toy_datasets, tmp_path
):
    final_eval = [r for r in metrics_lines(trained_toy_run) if "matting/SAD" in r][-1]
    log = run_tool(
        [
            "--eval-only",
            f"train.init_checkpoint={trained_toy_run / 'model_final.pth'}",
            f"train.output_dir={tmp_path}",
            "dataloader.test.num_workers=0",
        ],
        toy_datasets,
        config=PROJECT / "configs" / "toy_ddc.py",
    )
    assert "missing in the checkpoint" not in log
    evaluated = metrics_lines(tmp_path)[-1]
    for key in ("matting/SAD", "matting/MSE", "matting/Grad", "matting/Conn", "matting/SAD-T"):
        assert evaluated[key] == pytest.approx(final_eval[key], rel=1e-5), key


# --- bounded inference -----------------------------------------------------------------------
@pytest.mark.parametrize("size", [(37, 50), (97, 33), (20, 150)], ids=["37x50", "97x33", "20x150"])
def test_bounded_inference_gives_the_plain_alpha_on_odd_sizes(size):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny tiles: one thread is faster
    try:
        model = randomise(toy_model(), seed=3).eval()
        model.inference_memory_mb = 0.05
        image = {"image": torch.rand(3, *size, generator=torch.Generator().manual_seed(0))}
        reports = []
        plain = infer_alpha(model, image, bounded=False)
        bounded = infer_alpha(model, image, bounded=True, progress=lambda *r: reports.append(r))
    finally:
        torch.set_num_threads(threads)
    assert plain.std() > 0.05
    assert (bounded - plain).abs().max() <= 1e-5
    assert len(reports) > 4  # the decoder ran in bands (the ResNet backbone runs whole)


def test_bounded_inference_keeps_the_plain_path_for_group_norm():
    cfg = load_config("toy_ddc")
    cfg.model.decoder.norm = "GN"
    cfg.model.decoder.update(fuse_channels=[64, 32, 32, 32, 32], detail_channels=[32])
    model = instantiate(cfg.model).eval()
    model.inference_memory_mb = 0.01
    image = {"image": torch.rand(3, 40, 50)}
    reports = []
    plain = infer_alpha(model, image, bounded=False)
    bounded = infer_alpha(model, image, bounded=True, progress=lambda *r: reports.append(r))
    assert torch.equal(bounded, plain) and not reports  # GroupNorm is not row-wise
