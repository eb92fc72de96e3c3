"""End to end: tools/lazyconfig_train_net.py trains the demo config, checkpoints, evaluates,
and the trained model beats an untrained one (the test proves learning, not just running); the
demo trains from a COCO file when the config changes only the dataset name."""

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import torch

from alphafree_matting.data.toy_dataset import make_toy_dataset
from tests.helpers.train_net import (
    REPO,
    TINY_RUN,
    TRAIN_NET,
    exit_message,
    metrics_lines,
    run_tool,
    run_tool_process,
    tool_command,
    tool_environment,
)


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
    log = run_tool(
        ["--eval-only", "train.init_checkpoint=none", f"train.output_dir={untrained_dir}"], toy_root
    )
    assert "Evaluating an UNTRAINED model" in log
    untrained = metrics_lines(untrained_dir / "metrics.json")[-1]
    assert untrained["untrained_model"] == 1.0 and "untrained_model" not in trained
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
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig

from alphafree_matting.data import load_coco_matting

_demo = LazyConfig.load({demo!r})
dataloader, model, optimizer, lr_multiplier, train = (
    _demo[key] for key in ("dataloader", "model", "optimizer", "lr_multiplier", "train")
)
# the only change to the demo: the training data, as a node (configs register nothing)
dataloader.train.dataset = L(load_coco_matting)(
    json_file={json_file!r}, image_root={image_root!r}, min_area=30
)
"""


def test_training_from_a_coco_file_needs_only_a_dataset_node(toy_coco, tmp_path):
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


# --- bad input and damaged runs fail loudly or recover (issue #18) -----------------------------
def copy_of_toy_data(toy_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "datasets"
    shutil.copytree(toy_root, root)
    return root


def test_a_truncated_jpeg_in_the_training_split_stops_training_naming_it(toy_root, tmp_path):
    root = copy_of_toy_data(toy_root, tmp_path)
    train = root / "toy_matting" / "train"
    for stem in sorted(p.stem for p in (train / "image").iterdir())[2:]:  # keep two samples
        (train / "image" / f"{stem}.png").unlink()
        (train / "trimap" / f"{stem}.png").unlink()
    image = sorted((train / "image").iterdir())[1]
    jpeg = image.with_suffix(".jpg")
    cv2.imwrite(str(jpeg), cv2.imread(str(image)))
    image.unlink()
    jpeg.write_bytes(jpeg.read_bytes()[:-300])  # a half-finished download
    result = run_tool_process(
        [*TINY_RUN, "train.max_iter=3", f"train.output_dir={tmp_path / 'run'}"], root
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"cannot decode image file {jpeg}: it is truncated" in result.stderr


def test_trimaps_of_class_indices_stop_training_with_the_fix(toy_root, tmp_path):
    root = copy_of_toy_data(toy_root, tmp_path)
    trimaps = sorted((root / "toy_matting" / "train" / "trimap").iterdir())
    for path in trimaps:  # 0 / 128 / 255 -> 0 / 1 / 2, as a label tool exports classes
        cv2.imwrite(str(path), (cv2.imread(str(path), cv2.IMREAD_UNCHANGED) + 1) // 128)
    result = run_tool_process([*TINY_RUN, "train.max_iter=2", f"train.output_dir={tmp_path}"], root)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "looks like class indices" in result.stderr and "trimap_values=" in result.stderr
    assert any(f"trimap {path} holds only" in result.stderr for path in trimaps)


@pytest.fixture
def train_net(factory):
    """tools/lazyconfig_train_net.py as a module: its command line ``cli(argv)`` in-process, for
    the problems it reports before starting any process (sys.exit(message): exit code 1)."""
    return factory.load_tool("lazyconfig_train_net")


def test_eval_only_without_weights_is_an_error_naming_the_key(train_net, tmp_path):
    message = exit_message(train_net, ["--eval-only", f"train.output_dir={tmp_path}"])
    assert "--eval-only needs trained weights: set train.init_checkpoint=" in message
    assert "train.init_checkpoint=none" in message
    assert list(tmp_path.iterdir()) == []  # nothing evaluated, nothing recorded


@pytest.mark.parametrize(
    "override, expected",
    [
        (
            "train.max_itr=5",
            "unknown config key train.max_itr (override train.max_itr=5): did you mean "
            "train.max_iter?",
        ),
        (
            "model.criterion.windw=5",
            "config key model.criterion.windw: TrimapCriterion takes no argument 'windw'; did "
            "you mean model.criterion.window?",
        ),
    ],
)
def test_an_unknown_config_key_is_an_error_naming_it_and_its_close_matches(
    train_net, override, expected, tmp_path
):
    message = exit_message(train_net, [override, f"train.output_dir={tmp_path / 'run'}"])
    assert expected in message and not (tmp_path / "run").exists()


CHECKPOINTED_RUN = [
    *TINY_RUN,
    "dataloader.train.total_batch_size=2",
    "train.checkpointer.period=1",
    "train.checkpointer.max_to_keep=2",
]


@pytest.fixture(scope="module")
def resumed_run(toy_root, tmp_path_factory) -> tuple[Path, str]:
    """3 iterations with a checkpoint after each, at most 2 kept (model_0000001, _0000002 and
    _final); the last, model_final, then cut short on disk; then resumed to 5 iterations.
    Returns the output folder and the log of the resumed run."""
    output = tmp_path_factory.mktemp("resumed_run")
    run_tool([*CHECKPOINTED_RUN, "train.max_iter=3", f"train.output_dir={output}"], toy_root)
    assert sorted(p.name for p in output.glob("*.pth")) == [
        "model_0000001.pth",
        "model_0000002.pth",
        "model_final.pth",
    ]
    final = output / "model_final.pth"
    final.write_bytes(final.read_bytes()[: final.stat().st_size // 2])
    log = run_tool(
        ["--resume", *CHECKPOINTED_RUN, "train.max_iter=5", f"train.output_dir={output}"],
        toy_root,
    )
    return output, log


def test_resume_past_a_damaged_last_checkpoint_uses_the_newest_intact_one(resumed_run):
    output, log = resumed_run
    final = output / "model_final.pth"
    assert f"Cannot resume from the last checkpoint {final}; resuming from " in log
    assert f"{output / 'model_0000002.pth'}, the newest intact checkpoint" in log
    assert "PytorchStreamReader" in log  # the reason, in the warning
    assert "Starting training from iteration 3" in log
    assert torch.load(final, weights_only=False)["iteration"] == 4  # rewritten, complete


def test_resume_prunes_the_checkpoints_from_before_it_to_max_to_keep(resumed_run):
    output, _ = resumed_run
    # 3 and 4 are saved; 1 and 2, from before the resume, count towards max_to_keep=2.
    assert sorted(p.name for p in output.glob("*.pth")) == [
        "model_0000003.pth",
        "model_0000004.pth",
        "model_final.pth",
    ]


def test_a_second_run_into_the_same_output_folder_fails_at_start_naming_the_owner(
    train_net, toy_root, tmp_path
):
    output = tmp_path / "run"
    first = subprocess.Popen(
        tool_command([*TINY_RUN, "train.max_iter=100000", f"train.output_dir={output}"]),
        cwd=REPO,
        env=tool_environment(toy_root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not (output / "run.lock").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        message = exit_message(train_net, [f"train.output_dir={output}"])
    finally:
        first.kill()
        first.wait()
    assert f"output folder {output} is in use by another run (pid {first.pid} on host" in message
    assert "train.output_dir=" in message  # the fix


def test_a_machine_that_never_starts_stops_the_run_at_the_startup_timeout(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    result = run_tool_process(
        [
            "--num-gpus",
            "1",
            "--num-machines",
            "2",
            "--machine-rank",
            "0",
            "--dist-url",
            f"tcp://127.0.0.1:{port}",
            "--startup-timeout",
            "3",
            "train.device=cpu",
            f"train.output_dir={tmp_path}",
        ],
        tmp_path,
        timeout=300,
    )
    assert result.returncode != 0
    assert "rank 0 of 2: waiting for rank(s) 1 (machine(s) 1) to start" in result.stderr
    assert "rank(s) 1 (machine(s) 1) did not start within the startup timeout (3 s)" in (
        result.stderr
    )
    assert time.monotonic() - start < 120
