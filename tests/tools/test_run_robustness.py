"""tools/lazyconfig_train_net.py under what clusters and disks do: SIGTERM between checkpoints,
a disk that fills during a save, --eval-only into a training folder, settings that would fail
after start, and quiet, plain-text records."""

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import torch

from alphafree_matting.engine import EXIT_INTERRUPTED
from tests.helpers.train_net import (
    REPO,
    TINY_RUN,
    exit_message,
    metrics_lines,
    run_tool,
    run_tool_process,
    tool_command,
    tool_environment,
)

STEPS = [*TINY_RUN, "dataloader.train.total_batch_size=2", "train.log_period=1"]
"""Batch 2 on 64 px crops, a metrics record every iteration."""


@pytest.fixture
def train_net(factory):
    return factory.load_tool("lazyconfig_train_net")


def training_iterations(output: Path) -> list[int]:
    return [r["iteration"] for r in metrics_lines(output) if "total_loss" in r]


def wait_for_records(output: Path, count: int, process: subprocess.Popen, timeout=300) -> None:
    """Wait until ``output/metrics.json`` holds ``count`` records (the process still running)."""
    deadline = time.monotonic() + timeout
    path = output / "metrics.json"
    while not (path.exists() and len(path.read_text().splitlines()) >= count):
        assert process.poll() is None, f"the run ended with exit code {process.returncode}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_saves_the_current_iteration_and_resume_trains_each_iteration_once(
    toy_datasets, tmp_path
):
    output = tmp_path / "run"
    args = [*STEPS, "train.max_iter=12", "train.checkpointer.period=100"]
    args.append(f"train.output_dir={output}")
    console = tmp_path / "console.txt"
    with open(console, "w") as out:
        run = subprocess.Popen(
            tool_command(args), cwd=REPO, env=tool_environment(toy_datasets), stdout=out, stderr=out
        )
        try:  # after the 3rd record, between checkpoints (the period is 100)
            wait_for_records(output, 3, run)
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=300)
        finally:
            run.kill()
    stderr = console.read_text()
    assert run.returncode == EXIT_INTERRUPTED, stderr[-3000:]
    tag = (output / "last_checkpoint").read_text()
    stopped_at = torch.load(output / tag, weights_only=False)["iteration"]
    assert tag == f"model_{stopped_at:07d}.pth" and 2 <= stopped_at < 11
    assert f"Training stopped by SIGTERM after iteration {stopped_at}; saved {output / tag}" in (
        stderr
    )
    assert "--resume" in stderr and "Traceback" not in stderr
    assert not (output / "run.lock").exists()
    assert training_iterations(output) == sorted(set(training_iterations(output)))
    assert max(training_iterations(output)) == stopped_at

    log = run_tool(["--resume", *args], toy_datasets)
    assert f"Starting training from iteration {stopped_at + 1}" in log
    assert torch.load(output / "model_final.pth", weights_only=False)["iteration"] == 11
    assert training_iterations(output) == list(range(12))  # each iteration once


def test_a_run_logs_plain_text_quietly_and_eval_only_keeps_its_record(toy_datasets, tmp_path):
    output = tmp_path / "run"
    args = [*STEPS, "train.max_iter=2", "train.checkpointer.period=100"]
    result = run_tool_process([*args, f"train.output_dir={output}"], toy_datasets)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FutureWarning" not in result.stderr and "No CUDA runtime" not in result.stderr
    log = (output / "log.txt").read_text()
    assert "Contents of args.config_file=" in log and "\x1b[" not in log  # no colour codes
    # All seven metrics on detectron2's copy-paste lines (it drops names with a "-").
    assert "copypaste: SAD,MSE,MAD,Grad,Conn,SAD-T,MSE-T" in log

    record = {name: (output / name).read_bytes() for name in ("config.yaml", "log.txt")}
    metrics = (output / "metrics.json").read_bytes()
    log = run_tool(
        [
            "--eval-only",
            f"train.init_checkpoint={output / 'model_final.pth'}",
            f"train.output_dir={output}",
            "train.max_iter=400",  # what the documented command carries from the config
        ],
        toy_datasets,
    )
    for name, data in record.items():
        assert (output / name).read_bytes() == data, name
    assert (output / "metrics.json").read_bytes() == metrics
    (folder,) = (output / "eval_only").iterdir()
    assert f"holds a run's record: this evaluation writes its own to {folder}" in log
    assert "max_iter: 400" in (folder / "config.yaml").read_text()
    assert "matting/SAD" in metrics_lines(folder)[-1]
    assert (folder / "log.txt").is_file() and (folder / "eval" / "matting_results.json").is_file()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train.max_iter=0"], "train.max_iter=0: training needs at least one iteration"),
        (
            ["--num-gpus", "2", "dataloader.train.total_batch_size=3"],
            "dataloader.train.total_batch_size=3 cannot be split over 2 processes "
            "(--num-gpus 2 x --num-machines 1)",
        ),
        (["train.float32_precision=fast"], "train.float32_precision='fast': use one of"),
    ],
)
def test_settings_that_would_fail_after_start_are_errors_naming_the_keys(
    train_net, tmp_path, argv, expected
):
    message = exit_message(train_net, [*argv, f"train.output_dir={tmp_path / 'run'}"])
    assert expected in message
    assert not (tmp_path / "run").exists()  # nothing started, nothing recorded


# --- a disk that fills up during a save -------------------------------------------------------
def mount_tmpfs(folder: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` at ``folder``; False where this process may not mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 14 MiB tmpfs: room for one checkpoint of the demo model (9 MiB), not two."""
    folder = Path("/tmp") / f"afm-small-disk-{uuid.uuid4().hex[:8]}"
    if not mount_tmpfs(folder, "14m"):
        pytest.skip("needs root and mount to make a small tmpfs (the CI runs as root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)
    folder.rmdir()


def test_a_full_disk_during_a_save_is_one_message_and_resume_works_after_freeing(
    toy_datasets, small_disk
):
    output = small_disk / "run"
    args = [
        *STEPS,
        "train.max_iter=4",
        "train.checkpointer.period=2",  # 1 fits, 3 does not (then no final evaluation either)
        f"train.output_dir={output}",
    ]
    result = run_tool_process(args, toy_datasets)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        f"CheckpointSaveError: cannot save checkpoint {output / 'model_0000003.pth'}: the disk is "
        "full ("
    )
    assert f"free in {output})" in last_line and "Free space, then continue" in last_line
    assert "--resume" in last_line and "check that the folder is writable" not in result.stderr
    assert (output / "last_checkpoint").read_text() == "model_0000001.pth"
    assert torch.load(output / "model_0000001.pth", weights_only=False)["iteration"] == 1
    assert sorted(p.name for p in output.iterdir() if ".tmp" in p.name) == []

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    log = run_tool(["--resume", *args], toy_datasets)
    assert "Starting training from iteration 2" in log
    assert torch.load(output / "model_final.pth", weights_only=False)["iteration"] == 3
