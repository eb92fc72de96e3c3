"""Resume after a crash: the demo config's training process is SIGKILLed between two checkpoints and
restarted with ``--resume``; it continues from the last complete checkpoint with the iteration
count and the lr schedule of an uninterrupted run.

Parameters are not compared with the uninterrupted run: detectron2 restarts the data order (and
the augmentation randomness) on resume, so the two runs see different batches after the kill.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from alphafree_matting.data.toy_dataset import make_toy_dataset

REPO = Path(__file__).resolve().parents[2]
TRAIN_NET = REPO / "tools" / "lazyconfig_train_net.py"
MAX_ITER = 40
PERIOD = 10
KILL_AFTER = 22  # first checkpoints end iterations 9, 19, 29: kill between 19 and 29
RUN = [
    "dataloader.train.total_batch_size=4",
    "dataloader.train.num_workers=0",
    "dataloader.train.mapper.augmentations.0.crop_size=64",
    "train.eval_period=0",
    "train.log_period=1",
    f"train.max_iter={MAX_ITER}",
    f"train.checkpointer.period={PERIOD}",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)"),
]


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    make_toy_dataset(str(root / "toy_matting"), num_train=16, num_val=4, size=64, seed=5)
    return root


def command(output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(TRAIN_NET),
        "--config-file",
        str(REPO / "configs/demo_ddc.py"),
        *extra,
        *RUN,
        f"train.output_dir={output}",
    ]


def environment(datasets_dir: Path) -> dict:
    return dict(os.environ, DETECTRON2_DATASETS=str(datasets_dir), OMP_NUM_THREADS="2")


def run_to_end(output: Path, datasets_dir: Path, *extra: str) -> str:
    result = subprocess.run(
        command(output, *extra),
        cwd=REPO,
        env=environment(datasets_dir),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    return log


def read_metrics(path: Path) -> list[dict]:
    """The complete lines of metrics.json (a line being written is skipped)."""
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records


def train_and_kill(output: Path, datasets_dir: Path) -> int:
    """Start training, SIGKILL it once iteration KILL_AFTER is logged; the last logged iteration."""
    with open(output.with_suffix(".log"), "w") as log:
        process = subprocess.Popen(
            command(output), cwd=REPO, env=environment(datasets_dir), stdout=log, stderr=log
        )
        deadline = time.monotonic() + 1200
        try:
            while True:
                assert process.poll() is None, output.with_suffix(".log").read_text()[-5000:]
                assert time.monotonic() < deadline, "training did not reach the kill point"
                logged = [r["iteration"] for r in read_metrics(output / "metrics.json")]
                if logged and max(logged) >= KILL_AFTER:
                    break
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return max(r["iteration"] for r in read_metrics(output / "metrics.json"))


def lr_by_iteration(records: list[dict]) -> dict[int, float]:
    return {r["iteration"]: r["lr"] for r in records if "lr" in r}


def test_training_killed_between_checkpoints_resumes_from_the_last_one(datasets_dir, tmp_path):
    uninterrupted = tmp_path / "uninterrupted"
    run_to_end(uninterrupted, datasets_dir)
    expected_lr = lr_by_iteration(read_metrics(uninterrupted / "metrics.json"))
    assert sorted(expected_lr) == list(range(MAX_ITER))

    killed = tmp_path / "killed"
    last_logged = train_and_kill(killed, datasets_dir)
    # Only complete checkpoints, and the tag names one of them.
    tag = (killed / "last_checkpoint").read_text()
    checkpoints = {p.name: torch.load(p, weights_only=False) for p in killed.glob("*.pth")}
    assert tag in checkpoints and "model_final.pth" not in checkpoints
    assert not list(killed.glob("*.tmp"))
    checkpoint_iteration = checkpoints[tag]["iteration"]
    assert checkpoint_iteration % PERIOD == PERIOD - 1
    assert last_logged > checkpoint_iteration  # killed between checkpoints: work was lost
    records_before = len(read_metrics(killed / "metrics.json"))

    log = run_to_end(killed, datasets_dir, "--resume")
    assert f"Starting training from iteration {checkpoint_iteration + 1}" in log
    resumed = read_metrics(killed / "metrics.json")[records_before:]
    resumed_lr = lr_by_iteration(resumed)
    # The resumed process continues at the iteration after the checkpoint and ends where the
    # uninterrupted run ended.
    assert sorted(resumed_lr) == list(range(checkpoint_iteration + 1, MAX_ITER))
    # The schedule continued (no warm-up restart): the lr of every iteration is the
    # uninterrupted run's, across the step milestones that fall after the kill.
    for iteration, lr in resumed_lr.items():
        assert lr == pytest.approx(expected_lr[iteration], rel=1e-9), iteration
    assert len(set(resumed_lr.values())) > 1
    final = torch.load(killed / "model_final.pth", weights_only=False)
    assert final["iteration"] == MAX_ITER - 1
    reference = torch.load(uninterrupted / "model_final.pth", weights_only=False)
    assert final["iteration"] == reference["iteration"]
    # The lr scheduler ends in the same state (steps taken, base lr of every group).
    assert final["trainer"]["hooks"] == reference["trainer"]["hooks"]
