"""End to end: tools/lazyconfig_train_net.py trains the demo config, checkpoints, evaluates,
and the trained model beats an untrained one (the test proves learning, not just running); the
demo trains from a COCO file when the config changes only the dataset name."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alphafree_matting.data.toy_dataset import make_toy_dataset

REPO = Path(__file__).resolve().parents[2]
TRAIN_NET = REPO / "tools" / "lazyconfig_train_net.py"

# A smaller budget than `make demo`: 64 px images, 24 train / 6 val, 200 iterations.
TINY_RUN = [
    "dataloader.train.total_batch_size=8",
    "dataloader.train.num_workers=0",
    "dataloader.train.mapper.augmentations.0.crop_size=64",
    "train.eval_period=0",
    "train.log_period=20",
]


def run_tool(args, datasets_root: Path, timeout=600, config=REPO / "configs/demo_ddc.py") -> str:
    env = dict(os.environ, DETECTRON2_DATASETS=str(datasets_root), OMP_NUM_THREADS="2")
    result = subprocess.run(
        [sys.executable, str(TRAIN_NET), "--config-file", str(config), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


def metrics_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    make_toy_dataset(str(root / "toy_matting"), num_train=24, num_val=6, size=64, seed=3)
    return root


@pytest.fixture(scope="module")
def trained_run(toy_root, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("demo_run")
    run_tool(
        [
            *TINY_RUN,
            "train.max_iter=200",
            f"train.output_dir={output}",
            "train.checkpointer.period=100",
        ],
        toy_root,
    )
    return output


def test_training_writes_checkpoints_metrics_and_events(trained_run):
    assert (trained_run / "model_final.pth").is_file()
    assert (trained_run / "model_0000099.pth").is_file()
    assert (trained_run / "last_checkpoint").read_text() == "model_final.pth"
    assert list(trained_run.glob("events.out.tfevents.*"))
    records = metrics_lines(trained_run / "metrics.json")
    losses = [r for r in records if "loss_ddc" in r]
    assert losses and {"loss_known", "loss_ddc", "lr"} <= set(losses[-1])
    # The final evaluation (EvalHook at the last iteration) lands in metrics.json too.
    evaluated = [r for r in records if "matting/SAD" in r]
    assert evaluated and {"matting/SAD-T", "matting/Grad", "matting/Conn"} <= set(evaluated[-1])
    assert (trained_run / "eval" / "matting_per_image.csv").is_file()
    assert list((trained_run / "eval" / "visuals").glob("*.png"))


def test_eval_only_reproduces_training_metrics_and_beats_untrained(trained_run, toy_root, tmp_path):
    final_eval = [r for r in metrics_lines(trained_run / "metrics.json") if "matting/SAD" in r][-1]

    eval_dir = tmp_path / "eval_trained"
    log = run_tool(
        [
            "--eval-only",
            f"train.init_checkpoint={trained_run / 'model_final.pth'}",
            f"train.output_dir={eval_dir}",
        ],
        toy_root,
    )
    for metric in ("SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T"):
        assert metric in log
    trained = metrics_lines(eval_dir / "metrics.json")[-1]
    # Recorded at the checkpoint's iteration: the last finished one (0-based) of 200.
    assert trained["iteration"] == 199
    for key in ("matting/SAD", "matting/Grad", "matting/SAD-T"):
        assert trained[key] == pytest.approx(final_eval[key], rel=1e-4)

    untrained_dir = tmp_path / "eval_untrained"
    run_tool(
        ["--eval-only", "train.init_checkpoint=", f"train.output_dir={untrained_dir}"], toy_root
    )
    untrained = metrics_lines(untrained_dir / "metrics.json")[-1]
    assert trained["matting/SAD"] < 0.5 * untrained["matting/SAD"], (trained, untrained)
    assert trained["matting/SAD-T"] < untrained["matting/SAD-T"]


def test_missing_dataset_fails_fast_with_the_path(tmp_path):
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "nowhere"))
    result = subprocess.run(
        [
            sys.executable,
            str(TRAIN_NET),
            "--config-file",
            str(REPO / "configs/demo_ddc.py"),
            f"train.output_dir={tmp_path / 'out'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert str(tmp_path / "nowhere" / "toy_matting") in result.stderr
    assert "make_toy_dataset.py" in result.stderr


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.criterion.losses={known:1.0}", {"known": 1.0}),  # replaces, does not merge
        ("model.criterion.losses.ddc=0", {"known": 1.0}),  # weight 0: not computed
        ("model.criterion.losses={alpha_l1:0,known:2.0,dc:3.0}", {"known": 2.0, "dc": 3.0}),
    ],
)
def test_a_loss_override_from_the_shell_trains_exactly_those_losses(
    override, expected, toy_root, tmp_path
):
    log = run_tool(
        [
            *TINY_RUN,
            "train.max_iter=2",
            "train.log_period=1",
            f"train.output_dir={tmp_path}",
            override,
        ],
        toy_root,
    )
    assert f"losses={expected}" in log  # the model print of the criterion
    records = [r for r in metrics_lines(tmp_path / "metrics.json") if "total_loss" in r]
    # detectron2 writes the single losses only when there are several (else just total_loss)
    logged = {f"loss_{name}" for name in expected} if len(expected) > 1 else set()
    assert records and all({k for k in r if k.startswith("loss_")} == logged for r in records)


COCO_CONFIG = """\
from detectron2.config import LazyConfig

from alphafree_matting.data import register_coco_matting

register_coco_matting("toy_coco_train", {json_file!r}, {image_root!r}, min_area=30)
_demo = LazyConfig.load({demo!r})
dataloader, model, optimizer, lr_multiplier, train = (
    _demo[key] for key in ("dataloader", "model", "optimizer", "lr_multiplier", "train")
)
dataloader.train.dataset.names = "toy_coco_train"  # the only change to the demo
"""


def test_training_from_a_coco_file_needs_only_the_dataset_name(toy_coco, tmp_path):
    """Trains the demo from the toy COCO file's instance masks (polygons, RLE, crowd, an image
    without annotations), then evaluates on the toy validation split's GT alphas."""
    config = tmp_path / "demo_coco.py"
    config.write_text(
        COCO_CONFIG.format(
            json_file=str(toy_coco.json_file),
            image_root=str(toy_coco.image_root),
            demo=str(REPO / "configs/demo_ddc.py"),
        )
    )
    output = tmp_path / "run"
    log = run_tool(
        [*TINY_RUN, "train.max_iter=20", f"train.output_dir={output}"], toy_coco.root, config=config
    )
    usable = [a for a in toy_coco.data["annotations"] if not a["iscrowd"] and a["area"] >= 30]
    assert f"Listed {len(usable)} matting samples (one per instance)" in log
    records = metrics_lines(output / "metrics.json")
    assert any({"loss_known", "loss_ddc"} <= set(r) for r in records)
    final = [r for r in records if "matting/SAD" in r][-1]
    for key in ("SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T"):
        assert math.isfinite(final[f"matting/{key}"]) and final[f"matting/{key}"] >= 0
