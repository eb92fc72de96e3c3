"""Run records: the copy-paste lines carry every metric; a resumed run's metrics.json keeps one
record per iteration."""

import json
import logging

from alphafree_matting.engine import log_copypaste, trim_metrics


def test_copypaste_lines_carry_every_metric_including_the_dashed_ones(caplog):
    results = {"matting": {"SAD": 12.5, "MSE-T": 0.00123, "SAD-T": 3.0}, "note": 1}
    with caplog.at_level(logging.INFO, logger="alphafree_matting.engine.results"):
        log_copypaste(results)
    assert caplog.messages == [
        "copypaste: Task: matting",
        "copypaste: SAD,MSE-T,SAD-T",
        "copypaste: 12.5000,0.0012,3.0000",
        "copypaste: note=1",
    ]


def write_records(path, iterations):
    lines = [json.dumps({"iteration": i, "total_loss": 1.0}) + "\n" for i in iterations]
    path.write_text("".join(lines))


def test_trim_metrics_drops_the_records_after_the_resumed_iteration_and_a_cut_line(tmp_path):
    metrics = tmp_path / "metrics.json"
    write_records(metrics, range(8))
    with open(metrics, "a") as f:
        f.write('{"iteration": 8, "total_lo')  # the kill cut the last write short
    assert trim_metrics(str(tmp_path), 4) == 4
    assert [json.loads(line)["iteration"] for line in metrics.read_text().splitlines()] == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_trim_metrics_keeps_appending_writers_working(tmp_path):
    metrics = tmp_path / "metrics.json"
    write_records(metrics, range(6))
    with open(metrics, "a") as writer:  # detectron2's JSONWriter holds the file open like this
        assert trim_metrics(str(tmp_path), 2) == 3
        writer.write(json.dumps({"iteration": 3}) + "\n")
    assert [json.loads(line)["iteration"] for line in metrics.read_text().splitlines()] == [
        0,
        1,
        2,
        3,
    ]


def test_trim_metrics_of_a_new_run_changes_nothing(tmp_path):
    assert trim_metrics(str(tmp_path), 10) == 0
    write_records(tmp_path / "metrics.json", range(3))
    before = (tmp_path / "metrics.json").read_bytes()
    assert trim_metrics(str(tmp_path), 10) == 0
    assert (tmp_path / "metrics.json").read_bytes() == before
