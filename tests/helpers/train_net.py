"""``tools/lazyconfig_train_net.py`` run as a user runs it (a subprocess from the repository
root) and read back: its records, its in-process command line for start-up errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRAIN_NET = REPO / "tools" / "lazyconfig_train_net.py"
DEMO_CONFIG = REPO / "configs" / "demo_ddc.py"
PROJECTS = REPO / "projects"

TINY_RUN = [
    "dataloader.train.total_batch_size=8",
    "dataloader.train.num_workers=0",
    "dataloader.train.mapper.augmentations.0.crop_size=64",
    "train.eval_period=0",
    "train.log_period=20",
]
"""Overrides of the demo config for a smaller budget: 64 px crops, no data-loader workers."""

FEW_STEPS = [
    "train.max_iter=3",
    "train.eval_period=0",  # detectron2's EvalHook still evaluates once, after the last step
    "train.log_period=1",
    "train.checkpointer.period=1000",
    "dataloader.train.total_batch_size=2",
    "dataloader.train.num_workers=0",
    "dataloader.train.mapper.augmentations.0.crop_size=64",
    "dataloader.test.num_workers=0",
]
"""Overrides for a few iterations of batch 2 on 64 px crops, without data-loader workers."""


def tool_command(args, config: Path = DEMO_CONFIG) -> list[str]:
    return [sys.executable, str(TRAIN_NET), "--config-file", str(config), *map(str, args)]


def tool_environment(datasets_root: Path) -> dict:
    return dict(os.environ, DETECTRON2_DATASETS=str(datasets_root), OMP_NUM_THREADS="2")


def run_tool_process(
    args, datasets_root: Path, timeout=600, config: Path = DEMO_CONFIG
) -> subprocess.CompletedProcess:
    return subprocess.run(
        tool_command(args, config),
        cwd=REPO,
        env=tool_environment(datasets_root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_tool(args, datasets_root: Path, timeout=600, config: Path = DEMO_CONFIG) -> str:
    """Run the tool; assert it succeeds; its stdout + stderr."""
    result = run_tool_process(args, datasets_root, timeout, config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


def metrics_lines(output_dir_or_file: Path) -> list[dict]:
    """The records of a run's metrics.json (the folder or the file)."""
    path = Path(output_dir_or_file)
    path = path / "metrics.json" if path.is_dir() else path
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def exit_message(train_net, argv, config: Path = DEMO_CONFIG) -> str:
    """The message of a problem the command line reports before starting (exit code 1)."""
    with pytest.raises(SystemExit) as stop:
        train_net.cli(["--config-file", str(config), *map(str, argv)])
    assert isinstance(stop.value.code, str)  # printed to stderr, exit code 1
    return stop.value.code
