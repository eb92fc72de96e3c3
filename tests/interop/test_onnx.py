"""ONNX export (tools/export_onnx.py) and onnxruntime inference (OnnxMattingPredictor,
tools/predict.py --onnx): dynamic sizes match PyTorch eval, the same files, clear errors.

Exporting costs tens of seconds of symbolic tracing even for the tiny model, so the fast suite
exports one model (trimap-input) once per module; the demo model's export is marked slow."""

import json

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.conventions import IMAGENET_MEAN, IMAGENET_STD
from alphafree_matting.data import MattingDataError
from alphafree_matting.interop import onnx_export
from alphafree_matting.interop.onnx_export import example_size, export_onnx
from alphafree_matting.interop.onnx_predictor import OnnxMattingPredictor, onnx_matting_model
from alphafree_matting.predictor import MattingPredictor
from tests.helpers.models import DEMO_CONFIG, REPO, write_tiny_model
from tools import export_onnx as export_tool
from tools import predict as predict_tool

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

SIZES = ((45, 61), (224, 200))  # one not a multiple of 32; 224 = the pretraining token grid
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def trimap_export(tmp_path_factory):
    """(config, checkpoint, model.onnx) of a tiny trimap-input model, exported by the tool."""
    folder = tmp_path_factory.mktemp("onnx_trimap")
    config, checkpoint = write_tiny_model(folder, trimap_input=True)
    output = folder / "model.onnx"
    args = ["--config-file", str(config), "--checkpoint", str(checkpoint)]
    assert export_tool.main([*args, "--output", str(output)]) == 0
    return config, checkpoint, output


def random_item(size, trimap_input: bool, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    item = {"image": torch.rand(3, *size, generator=generator)}
    if trimap_input:
        item["trimap"] = torch.randint(0, 3, (1, *size), generator=generator).float() / 2
    return item


def assert_onnx_matches_pytorch(model, onnx_file, trimap_input: bool) -> list[float]:
    onnx_model = onnx_matting_model(str(onnx_file), device="cpu")
    traced = example_size(model)
    differences = []
    for seed, size in enumerate(SIZES):
        assert size != traced
        item = random_item(size, trimap_input, seed)
        with torch.no_grad():
            expected = model([item])[0]["alpha"]
        alpha = onnx_model([item])[0]["alpha"]
        assert alpha.shape == expected.shape == (1, *size)
        assert expected.std() > 0.05  # a varied alpha
        differences.append(float((alpha - expected).abs().max()))
    assert max(differences) <= TOLERANCE, differences
    return differences


def test_trimap_model_in_onnxruntime_matches_pytorch_at_sizes_not_exported(trimap_export, capsys):
    config, checkpoint, onnx_file = trimap_export
    model = MattingPredictor(str(config), str(checkpoint), device="cpu").model
    print(assert_onnx_matches_pytorch(model, onnx_file, trimap_input=True))


def test_onnx_file_records_the_preprocessing_in_its_metadata(trimap_export):
    metadata = {p.key: p.value for p in onnx.load(str(trimap_export[2])).metadata_props}
    recorded = json.loads(metadata["alphafree_matting"])
    assert recorded["trimap_input"] is True and recorded["in_chans"] == 4
    assert recorded["pixel_mean"] == pytest.approx(IMAGENET_MEAN)
    assert recorded["pixel_std"] == pytest.approx(IMAGENET_STD)
    assert recorded["size_divisibility"] == 32


def read(path) -> np.ndarray:
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert data is not None, path
    return data.astype(np.int16)


def test_predict_tool_with_onnx_writes_the_files_of_the_pytorch_path(
    trimap_export, tmp_path, factory
):
    config, checkpoint, onnx_file = trimap_export
    folders = {"image": "image", "trimap": "trimap"}
    for index, size in enumerate(((45, 61), (70, 33))):
        factory.write_sample(tmp_path, f"s{index}", size, folders, seed=index, image_ext=".png")
    common = ["--input", str(tmp_path / "image"), "--trimap", str(tmp_path / "trimap")]
    common += ["--device", "cpu", "--background", "white"]
    pytorch = ["--config-file", str(config), "--checkpoint", str(checkpoint)]
    assert predict_tool.main([*pytorch, *common, "--output", str(tmp_path / "torch")]) == 0
    assert (
        predict_tool.main(["--onnx", str(onnx_file), *common, "--output", str(tmp_path / "ort")])
        == 0
    )
    for kind in ("alpha", "cutout", "composite"):
        names = sorted(p.name for p in (tmp_path / "torch" / kind).iterdir())
        assert names == ["s0.png", "s1.png"]
        for name in names:
            expected = read(tmp_path / "torch" / kind / name)
            actual = read(tmp_path / "ort" / kind / name)
            assert actual.shape == expected.shape
            assert np.abs(actual - expected).max() <= 1, (kind, name)
    # --config-file is accepted with --onnx (and only checked against the file).
    with_config = ["--onnx", str(onnx_file), "--config-file", str(config), *common]
    assert predict_tool.main([*with_config, "--output", str(tmp_path / "ort_cfg")]) == 0
    np.testing.assert_array_equal(
        read(tmp_path / "ort_cfg" / "alpha" / "s0.png"), read(tmp_path / "ort" / "alpha" / "s0.png")
    )


def test_onnx_predictor_has_the_predictor_interface_and_checks_the_config(
    trimap_export, tmp_path, factory
):
    config, _, onnx_file = trimap_export
    factory.write_sample(tmp_path, "cat", (40, 56), {"image": "image", "trimap": "trimap"})
    image, trimap = str(tmp_path / "image" / "cat.jpg"), str(tmp_path / "trimap" / "cat.png")
    predictor = OnnxMattingPredictor(str(onnx_file), str(config), device="cpu")
    prediction = predictor.predict(image, trimap)
    assert prediction.image_id == "cat" and prediction.alpha.shape == (40, 56)
    assert prediction.image.shape == (40, 56, 3) and prediction.alpha.dtype == np.float32
    assert [p.alpha.shape for p in predictor([image], [trimap])] == [(40, 56)]
    with pytest.raises(MattingDataError, match="--trimap"):
        predictor.predict(image)
    rgb_config, _ = write_tiny_model(tmp_path / "rgb", trimap_input=False)
    with pytest.raises(ValueError, match="exported with trimap_input=True"):
        OnnxMattingPredictor(str(onnx_file), str(rgb_config))


def test_an_onnx_file_of_another_model_fails_naming_the_file_and_what_was_expected(
    tmp_path, capsys
):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 224, 224])],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "classifier.onnx"))
    expected = "classifier.onnx is an ONNX model with no 'alphafree_matting' metadata"
    with pytest.raises(ValueError, match=expected):
        OnnxMattingPredictor(str(tmp_path / "classifier.onnx"))
    (tmp_path / "notes.onnx").write_text("not a model")
    with pytest.raises(ValueError, match="notes.onnx is not a readable ONNX model"):
        OnnxMattingPredictor(str(tmp_path / "notes.onnx"))
    with pytest.raises(FileNotFoundError, match="missing.onnx does not exist"):
        OnnxMattingPredictor(str(tmp_path / "missing.onnx"))
    cv2.imwrite(str(tmp_path / "cat.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit) as stop:
        predict_tool.main(
            ["--onnx", str(tmp_path / "classifier.onnx"), "--input", str(tmp_path / "cat.png")]
            + ["--output", str(tmp_path / "out")]
        )
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "classifier.onnx" in error and "exported by tools/export_onnx.py" in error


def test_export_traces_the_plain_path_and_restores_bounded_inference(monkeypatch):
    model = instantiate(LazyConfig.load(str(DEMO_CONFIG)).model)
    model.bounded_inference = True  # the attribute of the bounded-memory inference path
    seen = []

    def stop(module, *args, **kwargs):
        seen.append(module.model.bounded_inference)
        raise RuntimeError("stop before tracing")

    monkeypatch.setattr(torch.export, "export", stop)
    with pytest.raises(RuntimeError, match="stop before tracing"):
        export_onnx(model, "unused.onnx")
    assert seen == [False] and model.bounded_inference is True


def test_export_tool_rejects_an_opset_below_18_and_a_bad_checkpoint(
    trimap_export, tmp_path, capsys
):
    config, checkpoint, _ = trimap_export
    args = ["--config-file", str(config), "--output", str(tmp_path / "m.onnx")]
    assert export_tool.main([*args, "--checkpoint", str(checkpoint), "--opset", "17"]) == 1
    assert "opset 17" in capsys.readouterr().err
    _, rgb_checkpoint = write_tiny_model(tmp_path / "rgb", trimap_input=False)
    assert export_tool.main([*args, "--checkpoint", str(rgb_checkpoint)]) == 1
    error = capsys.readouterr().err
    assert "rgb/model_final.pth" in error and "patch_embed.proj.weight" in error
    assert not (tmp_path / "m.onnx").exists()


def test_example_size_makes_every_vit_branch_take_its_general_path():
    cfg = LazyConfig.load(str(REPO / "projects" / "TrimapViTMatte" / "configs" / "am2k_ddc.py"))
    with torch.device("meta"):
        model = instantiate(cfg.model)
    height, width = example_size(model)  # ViTMatte-S: window 14, pos grid 14, rel-pos grid 32
    for side in (height, width):
        grid = side // 16
        assert side % 32 == 0 and grid % 14 and grid not in (14, 32) and grid > 14
    assert height != width
    assert onnx_export.DEFAULT_OPSET == 18


@pytest.mark.slow
def test_demo_model_in_onnxruntime_matches_pytorch_at_sizes_not_exported(tmp_path):
    torch.manual_seed(0)
    model = instantiate(LazyConfig.load(str(DEMO_CONFIG)).model).eval()  # random weights
    with torch.no_grad():  # spread the random model's alpha (as tests/tiny_model.py does)
        [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)][-1].weight.mul_(30)
    export_onnx(model, str(tmp_path / "demo.onnx"))
    print(assert_onnx_matches_pytorch(model, tmp_path / "demo.onnx", trimap_input=False))
