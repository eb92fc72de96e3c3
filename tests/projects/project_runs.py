"""Helpers of the projects/ tests: the stock training script as a subprocess, its records."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRAIN_NET = REPO / "tools" / "lazyconfig_train_net.py"
PROJECTS = REPO / "projects"

TINY_TRAIN = [
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


def run_train_net(config: Path, args: list, datasets_root: Path, timeout: int = 600) -> str:
    """Run ``tools/lazyconfig_train_net.py --config-file config *args`` from the repository root;
    assert it succeeds and return its output."""
    env = dict(os.environ, DETECTRON2_DATASETS=str(datasets_root), OMP_NUM_THREADS="2")
    result = subprocess.run(
        [sys.executable, str(TRAIN_NET), "--config-file", str(config), *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


def metrics_records(output_dir: Path) -> list[dict]:
    """The lines of ``output_dir/metrics.json``."""
    lines = (output_dir / "metrics.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
