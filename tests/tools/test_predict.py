"""tools/predict.py: alpha / cut-out / composite files per image, failures reported and
counted in the exit code, any input kind (gray, RGBA, EXIF-rotated, odd sizes)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.helpers.models import write_tiny_model

REPO = Path(__file__).resolve().parents[2]
PREDICT = REPO / "tools" / "predict.py"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture
def predict_tool(factory):
    return factory.load_tool("predict")


def model_args(config_path: Path, checkpoint: Path) -> list[str]:
    """The arguments naming the model, on the CPU."""
    return ["--config-file", str(config_path), "--checkpoint", str(checkpoint), "--device", "cpu"]


def read_unchanged(path: Path) -> np.ndarray:
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert data is not None, f"{path} is missing or unreadable"
    return data


def write_mixed_folder(folder: Path, factory) -> None:
    """colour.jpg (odd size), gray.png, rgba.png, exif.jpg (rotated by EXIF), corrupt.png,
    notes.txt (not an image: ignored)."""
    folder.mkdir()
    colour = factory.image(factory.alpha(45, 61))
    cv2.imwrite(str(folder / "colour.jpg"), cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY))
    rgba = np.dstack([colour, np.full(colour.shape[:2], 128, np.uint8)])
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    picture = Image.fromarray(np.ascontiguousarray(colour[:40, :30]))
    exif = picture.getexif()
    exif[0x0112] = 8  # "rotate 90 degrees counter-clockwise to display"
    picture.save(folder / "exif.jpg", exif=exif.tobytes())
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "notes.txt").write_text("not an image")


def test_predict_folder_writes_valid_images_and_counts_the_corrupt_one(tiny_run, tmp_path, factory):
    config_path, checkpoint = tiny_run
    write_mixed_folder(tmp_path / "photos", factory)
    output = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            str(PREDICT),
            "--config-file",
            str(config_path),
            "--checkpoint",
            str(checkpoint),
            "--input",
            str(tmp_path / "photos"),
            "--output",
            str(output),
            "--device",
            "cpu",
            "--background",
            "#00ff00",
        ],
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "corrupt.png" in result.stderr and "cannot decode" in result.stderr
    assert "img/s" in result.stdout + result.stderr  # progress bar / summary rate
    assert "4 of 5 images written" in result.stdout

    sizes = {"colour": (45, 61), "gray": (45, 61), "rgba": (45, 61), "exif": (30, 40)}
    for kind in ("alpha", "cutout", "composite"):
        assert sorted(p.stem for p in (output / kind).iterdir()) == sorted(sizes), kind
    for name, size in sizes.items():
        alpha = read_unchanged(output / "alpha" / f"{name}.png")
        cutout = read_unchanged(output / "cutout" / f"{name}.png")
        composite = read_unchanged(output / "composite" / f"{name}.png")
        assert alpha.shape == size and alpha.dtype == np.uint8, name
        assert cutout.shape == (*size, 4) and composite.shape == (*size, 3), name
        np.testing.assert_array_equal(cutout[..., 3], alpha)  # RGBA alpha == the alpha PNG
        # The composite is the cut-out over pure green: alpha*F + (1-alpha)*(0, 255, 0).
        weight = alpha[..., None].astype(np.float64) / 255
        foreground = cv2.cvtColor(cutout, cv2.COLOR_BGRA2RGB).astype(np.float64)
        expected = weight * foreground + (1 - weight) * np.array([0.0, 255.0, 0.0])
        actual = cv2.cvtColor(composite, cv2.COLOR_BGR2RGB).astype(np.float64)
        assert np.abs(actual - expected).max() <= 1.0, name


def test_background_image_is_fitted_and_exit_code_zero_without_failures(
    predict_tool, tiny_run, tmp_path, factory
):
    config_path, checkpoint = tiny_run
    image = factory.image(factory.alpha(36, 50))
    cv2.imwrite(str(tmp_path / "cat.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "beach.jpg"), np.full((100, 300, 3), (40, 160, 220), np.uint8))
    code = predict_tool.main(
        [
            *model_args(config_path, checkpoint),
            "--input",
            str(tmp_path / "cat.png"),
            "--output",
            str(tmp_path / "out"),
            "--background",
            str(tmp_path / "beach.jpg"),
        ]
    )
    assert code == 0
    composite = read_unchanged(tmp_path / "out" / "composite" / "cat.png")
    alpha = read_unchanged(tmp_path / "out" / "alpha" / "cat.png")
    assert composite.shape == (36, 50, 3)
    transparent = alpha < 20
    if transparent.any():  # where the cut-out is (nearly) transparent the beach shows
        assert np.abs(composite[transparent].astype(int) - (40, 160, 220)).max() < 30


def test_exit_code_counts_every_failed_file_and_unmatched_input(
    predict_tool, tiny_run, tmp_path, factory, capsys
):
    config_path, checkpoint = tiny_run
    cv2.imwrite(str(tmp_path / "good.png"), factory.image(factory.alpha(32, 32)))
    for name in ("bad1.jpg", "bad2.png"):
        (tmp_path / name).write_bytes(b"garbage")
    code = predict_tool.main(
        [
            *model_args(config_path, checkpoint),
            "--input",
            str(tmp_path / "*.jpg"),
            str(tmp_path / "good.png"),
            str(tmp_path / "bad2.png"),
            str(tmp_path / "missing.png"),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 3
    errors = capsys.readouterr().err
    assert "bad1.jpg" in errors and "bad2.png" in errors
    assert "missing.png: no image file, folder or glob match" in errors
    assert (tmp_path / "out" / "cutout" / "good.png").is_file()
    assert not (tmp_path / "out" / "composite").exists()  # no --background, no composite


def test_setup_problems_stop_before_any_image_with_exit_code_2(
    predict_tool, tiny_run, tmp_path, factory, capsys
):
    config_path, checkpoint = tiny_run
    cv2.imwrite(str(tmp_path / "good.png"), factory.image(factory.alpha(32, 32)))
    common = [
        *model_args(config_path, checkpoint),
        "--output",
        str(tmp_path / "out"),
    ]
    cases = [
        (["--input", str(tmp_path / "nothing_here")], "no image found"),
        (["--input", str(tmp_path / "good.png"), "--background", "sunset"], "neither an image"),
        (
            ["--input", str(tmp_path / "good.png"), "--trimap", str(tmp_path)],
            "does not take a trimap",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as stop:
            predict_tool.main(common + extra)
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        predict_tool.main(
            [
                *common[:2],
                "--checkpoint",
                str(tmp_path / "no.pth"),
                "--input",
                str(tmp_path / "good.png"),
                "--output",
                str(tmp_path),
            ]
        )
    assert "no.pth" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_trimap_input_model_reads_trimaps_by_stem_and_fails_files_without(
    predict_tool, tmp_path, factory
):
    config_path, checkpoint = write_tiny_model(tmp_path / "run", trimap_input=True)
    folders = {"image": "image", "trimap": "trimap"}
    factory.write_sample(tmp_path, "with_trimap", (40, 48), folders, image_ext=".png")
    factory.write_sample(tmp_path, "without", (40, 48), {"image": "image"}, image_ext=".png")
    code = predict_tool.main(
        [
            *model_args(config_path, checkpoint),
            "--input",
            str(tmp_path / "image"),
            "--trimap",
            str(tmp_path / "trimap"),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1
    assert [p.name for p in (tmp_path / "out" / "alpha").iterdir()] == ["with_trimap.png"]


def test_inputs_from_folders_files_and_globs_get_unique_output_names(
    predict_tool, tmp_path, capsys
):
    for name in ("b.png", "a.jpg", "a.png", "c.tif", "skip.txt", "d.heic"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"")
    files, unmatched = predict_tool.collect_inputs(
        [str(tmp_path), str(tmp_path / "sub" / "*.png"), str(tmp_path / "b.png"), "no/*.jpg"]
    )
    names = [os.path.relpath(path, tmp_path) for path in files]
    assert names == ["a.jpg", "a.png", "b.png", "c.tif", os.path.join("sub", "b.png")]
    assert unmatched == ["no/*.jpg"]
    assert f"{tmp_path}: skipped 2 file(s) that are not images" in capsys.readouterr().err
    output = predict_tool.output_names(files)
    assert len(set(output)) == len(output)
    assert predict_tool.output_names(files[2:4]) == ["b", "c"]
    assert predict_tool.output_names(files[:2]) == ["a.jpg", "a.png"]


def test_output_under_a_regular_file_stops_before_the_first_image(
    predict_tool, tiny_run, tmp_path, factory, capsys
):
    config_path, checkpoint = tiny_run
    cv2.imwrite(str(tmp_path / "good.png"), factory.image(factory.alpha(32, 32)))
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    output = tmp_path / "notes.txt" / "predictions"
    with pytest.raises(SystemExit) as stop:
        predict_tool.main(
            [
                *model_args(config_path, checkpoint),
                "--input",
                str(tmp_path / "good.png"),
                "--output",
                str(output),
            ]
        )
    assert stop.value.code == 2
    errors = capsys.readouterr().err
    assert f"--output {output}: {tmp_path / 'notes.txt'} is a file, not a folder" in errors
    assert "FAILED" not in errors  # no image was tried


@pytest.mark.parametrize("size", [(1, 1), (2, 1), (1, 2)])
def test_tiny_images_are_predicted(predict_tool, tiny_run, tmp_path, size):
    config_path, checkpoint = tiny_run
    cv2.imwrite(str(tmp_path / "tiny.png"), np.full((*size, 3), (40, 160, 220), np.uint8))
    code = predict_tool.main(
        [
            *model_args(config_path, checkpoint),
            "--input",
            str(tmp_path / "tiny.png"),
            "--output",
            str(tmp_path / "out"),
            "--background",
            "white",
        ]
    )
    assert code == 0
    assert read_unchanged(tmp_path / "out" / "alpha" / "tiny.png").shape == size
    assert read_unchanged(tmp_path / "out" / "cutout" / "tiny.png").shape == (*size, 4)
    assert read_unchanged(tmp_path / "out" / "composite" / "tiny.png").shape == (*size, 3)


def test_a_slow_image_gets_a_progress_bar_over_its_tiles(
    predict_tool, tiny_run, tmp_path, factory, capsys, monkeypatch
):
    config_path, checkpoint = tiny_run
    cv2.imwrite(str(tmp_path / "cat.png"), factory.image(factory.alpha(96, 64)))
    monkeypatch.setattr(predict_tool, "TILE_BAR_DELAY", 0.0)  # "slow" from the start
    code = predict_tool.main(
        [
            *model_args(config_path, checkpoint),
            "--input",
            str(tmp_path / "cat.png"),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert re.search(r"cat: .*\d+/\d+ \[.*tile/s\]", capsys.readouterr().err)


@pytest.mark.slow
def test_a_12_megapixel_photo_is_written_at_full_resolution_without_max_side(
    real_matting_dir, tmp_path
):
    """ViTMatte-S (random weights) on a 4000x3000 upscaled real photo: the alpha is written,
    the process peaks far below what the plain path's attention bias alone needs (~50 GB)."""
    import torch
    from detectron2.config import LazyConfig, instantiate

    photo = cv2.imread(str(real_matting_dir / "image" / "GT01.png"))
    large = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp_path / "photo.jpg"), large, [cv2.IMWRITE_JPEG_QUALITY, 95])
    config = REPO / "configs" / "common" / "model.py"
    torch.manual_seed(0)
    checkpoint = tmp_path / "vitmatte_s.pth"
    torch.save({"model": instantiate(LazyConfig.load(str(config)).model).state_dict()}, checkpoint)

    command = [sys.executable, str(PREDICT), "--config-file", str(config)]
    command += ["--checkpoint", str(checkpoint), "--input", str(tmp_path / "photo.jpg")]
    command += ["--output", str(tmp_path / "out"), "--device", "cpu"]
    log = tmp_path / "predict.log"
    with open(log, "w") as output:
        env = dict(os.environ, OMP_NUM_THREADS="2")
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
    text = log.read_text()
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    assert read_unchanged(tmp_path / "out" / "alpha" / "photo.png").shape == (3000, 4000)
    assert read_unchanged(tmp_path / "out" / "cutout" / "photo.png").shape == (3000, 4000, 4)
    assert re.search(r"photo: .*\d+/\d+ \[", text)  # the bar over its tiles
    peak_gib = usage.ru_maxrss * 1024 / 2**30
    assert peak_gib < 8, f"peak RSS {peak_gib:.1f} GiB"
    print(f"12 MP photo: peak RSS {peak_gib:.2f} GiB")


def test_a_bug_is_reported_with_its_traceback_and_a_users_mistake_in_one_line(
    predict_tool, tiny_run, tmp_path, factory, monkeypatch, capsys
):
    config_path, checkpoint = tiny_run
    factory.write_sample(tmp_path, "cat", (20, 24), {"image": "in"}, image_ext=".png")
    args = [*model_args(config_path, checkpoint), "--input", str(tmp_path / "in")]
    args += ["--output", str(tmp_path / "out")]

    def broken_predict(self, *args, **kwargs):
        return None.alpha  # a bug (AttributeError), not a user's mistake

    monkeypatch.setattr(predict_tool.MattingPredictor, "predict", broken_predict)
    assert predict_tool.main(args) == 1
    errors = capsys.readouterr().err
    assert "Traceback (most recent call last)" in errors and "looks like a bug" in errors

    monkeypatch.undo()
    (tmp_path / "in" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert predict_tool.main(args) == 1
    errors = capsys.readouterr().err
    assert "FAILED" in errors and "MattingDataError: cannot decode image file" in errors
    assert "Traceback" not in errors
