"""The training script's small pieces: the init-checkpoint check and recording eval-only results."""

import json

import pytest

from alphafree_matting.checkpoint import check_init_checkpoint
from alphafree_matting.engine import record_results


@pytest.mark.parametrize(
    "path", ["", "detectron2://ImageNetPretrained/MSRA/R-50.pkl", "https://example.org/vit.pth"]
)
def test_check_init_checkpoint_accepts_empty_and_remote_paths(path):
    check_init_checkpoint(path)  # nothing to check locally, nothing downloaded


def test_check_init_checkpoint_accepts_an_existing_file(tmp_path):
    weights = tmp_path / "dino_vit_s16.pth"
    weights.write_bytes(b"\0")
    check_init_checkpoint(str(weights))


def test_check_init_checkpoint_names_the_missing_file_and_the_fixes(tmp_path):
    missing = tmp_path / "pretrained" / "dino_vit_s16.pth"
    with pytest.raises(FileNotFoundError) as error:
        check_init_checkpoint(str(missing))
    message = str(error.value)
    assert f"train.init_checkpoint={missing}" in message
    assert "tools/convert_pretrained.py" in message
    assert "train.init_checkpoint=''" in message


def test_check_init_checkpoint_rejects_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_init_checkpoint(str(tmp_path))


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_results_appends_one_line_per_run_to_metrics_json(tmp_path):
    metrics = tmp_path / "metrics.json"
    training_line = {"iteration": 199, "total_loss": 0.5, "lr": 0.001}
    metrics.write_text(json.dumps(training_line) + "\n")

    record_results({"matting": {"SAD": 12.5, "MSE": 0.01}}, str(tmp_path), 199)
    record_results({"matting": {"SAD": 11.0, "MSE": 0.02}}, str(tmp_path), 399)

    lines = read_lines(metrics)
    assert lines[0] == training_line
    assert lines[1] == {"iteration": 199, "matting/SAD": 12.5, "matting/MSE": 0.01}
    assert lines[2] == {"iteration": 399, "matting/SAD": 11.0, "matting/MSE": 0.02}
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_record_results_creates_the_output_folder_and_skips_empty_results(tmp_path):
    record_results({}, str(tmp_path / "empty"), 0)
    assert not (tmp_path / "empty").exists()
    record_results({"matting": {"SAD": 3.0}}, str(tmp_path / "new"), 0)
    assert read_lines(tmp_path / "new" / "metrics.json") == [{"iteration": 0, "matting/SAD": 3.0}]
