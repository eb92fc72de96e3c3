"""MattingPredictor: the evaluation path's alpha for image files, EXIF / gray / RGBA input,
trimap-input models, clear errors."""

import uuid

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.evaluation import inference_on_dataset
from PIL import Image

from alphafree_matting.checkpoint import load_model_weights
from alphafree_matting.data import MattingDataError, read_image, register_matting_folder
from alphafree_matting.predictor import MattingPredictor, load_predictor, resolve_device
from tests.helpers.models import write_tiny_model


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(config.yaml, model_final.pth) of a tiny untrained demo model."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture(scope="module")
def tiny_trimap_run(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny_trimap_run"), trimap_input=True)


def write_split(root, factory, sizes=((40, 56), (48, 36), (70, 64))):
    for index, size in enumerate(sizes):
        folders = {"image": "image", "alpha": "alpha", "trimap": "trimap"}
        factory.write_sample(root, f"s{index}", size, folders, seed=index, image_ext=".png")
    return sorted((root / "image").glob("*.png"))


@pytest.mark.parametrize("max_side", [None, 48])
def test_predictor_gives_the_alpha_the_evaluation_path_saves(tiny_run, tmp_path, factory, max_side):
    config_path, checkpoint = tiny_run
    images = write_split(tmp_path / "split", factory)
    name = f"predictor_test_{uuid.uuid4().hex[:8]}"
    register_matting_folder(name, str(tmp_path / "split"), labels=("alpha", "trimap"))

    # tools/lazyconfig_train_net.py --eval-only, with the evaluator saving the 8-bit alphas.
    cfg = LazyConfig.load(str(config_path))
    cfg.model.max_side = max_side
    cfg.dataloader.test.dataset.names = name
    cfg.dataloader.test.num_workers = 0
    cfg.dataloader.evaluator.update(
        dataset_name=name, output_dir=str(tmp_path / "eval"), save_alpha=True, max_visuals=0
    )
    model = instantiate(cfg.model)
    load_model_weights(model, str(checkpoint), complete=True)
    model.eval()
    results = inference_on_dataset(
        model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
    )
    assert "SAD" in results["matting"]

    predictor = MattingPredictor(str(config_path), str(checkpoint), device="cpu", max_side=max_side)
    assert predictor.model.max_side == max_side
    for path in images:
        prediction = predictor.predict(str(path))
        saved = cv2.imread(
            str(tmp_path / "eval" / "alpha" / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED
        )
        assert prediction.image_id == path.stem
        assert prediction.alpha.shape == saved.shape and prediction.alpha.dtype == np.float32
        assert len(np.unique(saved)) > 10  # a varied prediction, not a constant
        np.testing.assert_array_equal(prediction.alpha_uint8, saved)
        np.testing.assert_array_equal(prediction.image, read_image(str(path)))


def test_predictor_applies_the_exif_orientation(tiny_run, tmp_path):
    stored = np.zeros((24, 40, 3), np.uint8)
    stored[:, :20] = (250, 10, 10)  # left half red as stored
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    picture.save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)

    prediction = MattingPredictor(*map(str, tiny_run), device="cpu").predict(
        str(tmp_path / "rotated.jpg")
    )
    assert prediction.image.shape == (40, 24, 3)  # displayed upright: 40 tall, 24 wide
    assert prediction.alpha.shape == (40, 24)
    assert prediction.image[:18, :, 0].mean() > 200 and prediction.image[22:, :, 0].mean() < 40


def test_predictor_reads_gray_and_rgba_files_as_rgb(tiny_run, tmp_path):
    gray = np.tile(np.arange(0, 240, 8, dtype=np.uint8), (20, 1))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 200, 17  # red (BGRA on disk), mostly transparent
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    predictor = MattingPredictor(*map(str, tiny_run), device="cpu")

    from_gray = predictor.predict(str(tmp_path / "gray.png"))
    assert from_gray.image.shape == (20, 30, 3) and from_gray.alpha.shape == (20, 30)
    for channel in range(3):
        np.testing.assert_array_equal(from_gray.image[..., channel], gray)
    from_rgba = predictor.predict(str(tmp_path / "rgba.png"))
    assert from_rgba.alpha.shape == (20, 30)
    np.testing.assert_array_equal(from_rgba.image[0, 0], [200, 0, 0])  # colours kept


def test_trimap_input_model_takes_the_trimap_and_refuses_to_go_without(
    tiny_trimap_run, tmp_path, factory
):
    factory.write_sample(
        tmp_path, "cat", (40, 56), {"image": "image", "trimap": "trimap"}, image_ext=".png"
    )
    image, trimap = str(tmp_path / "image" / "cat.png"), str(tmp_path / "trimap" / "cat.png")
    predictor = MattingPredictor(*map(str, tiny_trimap_run), device="cpu")
    assert predictor.trimap_input
    assert predictor.predict(image, trimap).alpha.shape == (40, 56)
    with pytest.raises(MattingDataError, match="--trimap"):
        predictor.predict(image)


def test_image_only_model_refuses_a_trimap(tiny_run, tmp_path, factory):
    factory.write_sample(
        tmp_path, "cat", (40, 56), {"image": "image", "trimap": "trimap"}, image_ext=".png"
    )
    predictor = MattingPredictor(*map(str, tiny_run), device="cpu")
    with pytest.raises(ValueError, match="drop the trimap"):
        predictor.predict(str(tmp_path / "image" / "cat.png"), str(tmp_path / "trimap/cat.png"))


def test_a_list_of_files_is_predicted_in_order(tiny_run, tmp_path, factory):
    images = write_split(tmp_path, factory, sizes=((33, 20), (20, 33)))
    predictions = MattingPredictor(*map(str, tiny_run), device="cpu")([str(p) for p in images])
    assert [p.alpha.shape for p in predictions] == [(33, 20), (20, 33)]


def test_corrupt_image_raises_an_error_naming_the_file(tiny_run, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    predictor = MattingPredictor(*map(str, tiny_run), device="cpu")
    with pytest.raises(MattingDataError, match="broken.png.*corrupt"):
        predictor.predict(str(tmp_path / "broken.png"))


def test_checkpoint_must_exist_and_hold_every_weight(tiny_run, tmp_path):
    config_path, _ = tiny_run
    with pytest.raises(ValueError, match="needs a checkpoint"):
        MattingPredictor(str(config_path), "")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        MattingPredictor(str(config_path), str(tmp_path / "nowhere.pth"))
    torch.save({"model": {}}, tmp_path / "empty.pth")
    with pytest.raises(RuntimeError, match="missing required weights"):
        MattingPredictor(str(config_path), str(tmp_path / "empty.pth"), device="cpu")


def test_devices_resolve_with_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="use one of"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_max_side_override_leaves_the_callers_config_unchanged(tiny_run):
    config_path, checkpoint = tiny_run
    cfg = LazyConfig.load(str(config_path))
    predictor = MattingPredictor(cfg, str(checkpoint), device="cpu", max_side=64)
    assert predictor.model.max_side == 64
    assert cfg.model.get("max_side") is None


def test_predictor_reports_the_tiles_of_bounded_inference_and_gives_the_plain_alpha(
    tiny_run, tmp_path, factory
):
    config_path, checkpoint = tiny_run
    (image,) = write_split(tmp_path, factory, sizes=((70, 45),))
    cfg = LazyConfig.load(str(config_path))
    cfg.model.inference_memory_mb = 0.05
    bounded = MattingPredictor(cfg, str(checkpoint), device="cpu")
    assert bounded.model.bounded_inference  # the default
    reports = []
    alpha = bounded.predict(str(image), progress=lambda *report: reports.append(report)).alpha
    assert [done for done, _ in reports] == list(range(1, len(reports) + 1)) and len(reports) > 4
    assert reports[-1][0] == reports[-1][1]

    cfg.model.bounded_inference = False
    plain = MattingPredictor(cfg, str(checkpoint), device="cpu").predict(str(image)).alpha
    assert np.abs(alpha - plain).max() <= 1e-5 and plain.std() > 0.05


def test_predict_array_gives_the_alpha_of_the_same_pixels_as_a_file(tiny_run, tmp_path, factory):
    config_path, checkpoint = tiny_run
    (path,) = write_split(tmp_path / "split", factory, sizes=((44, 52),))
    predictor = MattingPredictor(str(config_path), str(checkpoint), device="cpu")
    from_file = predictor.predict(str(path))
    from_array = predictor.predict_array(read_image(str(path)), name="frame_7")
    assert from_array.image_id == "frame_7"
    np.testing.assert_array_equal(from_array.alpha, from_file.alpha)
    np.testing.assert_array_equal(from_array.image, from_file.image)


def test_predict_array_of_a_trimap_input_model_matches_the_file_path(
    tiny_trimap_run, tmp_path, factory
):
    config_path, checkpoint = tiny_trimap_run
    (path,) = write_split(tmp_path / "split", factory, sizes=((44, 52),))
    trimap_path = tmp_path / "split" / "trimap" / f"{path.stem}.png"
    predictor = MattingPredictor(str(config_path), str(checkpoint), device="cpu")
    trimap = cv2.imread(str(trimap_path), cv2.IMREAD_UNCHANGED)
    from_array = predictor.predict_array(read_image(str(path)), trimap)
    np.testing.assert_array_equal(
        from_array.alpha, predictor.predict(str(path), str(trimap_path)).alpha
    )
    with pytest.raises(MattingDataError, match="takes a trimap"):
        predictor.predict_array(read_image(str(path)))
    with pytest.raises(MattingDataError, match="image's size"):
        predictor.predict_array(read_image(str(path)), trimap[:-1])
    with pytest.raises(MattingDataError, match="class indices"):
        predictor.predict_array(read_image(str(path)), (trimap // 127).astype(np.uint8))


def test_predict_array_rejects_arrays_that_are_not_uint8_rgb(tiny_run):
    predictor = MattingPredictor(str(tiny_run[0]), str(tiny_run[1]), device="cpu")
    for bad in (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8)):
        with pytest.raises(MattingDataError, match=r"\(H, W, 3\) uint8 RGB"):
            predictor.predict_array(bad, name="upload.png")
    with pytest.raises(ValueError, match="drop the trimap"):
        predictor.predict_array(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8))


def test_load_predictor_needs_exactly_one_kind_of_weights(tiny_run):
    config_path, checkpoint = tiny_run
    predictor = load_predictor(str(config_path), checkpoint=str(checkpoint), device="cpu")
    assert isinstance(predictor, MattingPredictor) and not predictor.trimap_input
    with pytest.raises(ValueError, match="exactly one"):
        load_predictor(str(config_path))
    with pytest.raises(ValueError, match="exactly one"):
        load_predictor(str(config_path), checkpoint=str(checkpoint), onnx="m.onnx")
    with pytest.raises(ValueError, match="--config-file"):
        load_predictor(checkpoint=str(checkpoint))
