"""Multi-process training on the CPU: two gloo processes started by the plugin's ``launch``.

One optimisation step of the tiny ViTMatte + TrimapCriterion under DDP, each process on half of a
batch, gives the parameters of one process on the whole batch: every loss is a mean over the
process's pixels and DDP averages the gradients, so equal halves (same pixel, known-pixel and
neighbour-pair counts) give the whole batch's gradient. The decoder's BatchNorm would normalise
each half with its own statistics; the comparison freezes it (eval mode) or synchronises it with
detectron2's NaiveSyncBatchNorm (torch's SyncBatchNorm refuses CPU tensors whatever the backend).
Per-rank seeding (``default_setup``) and the rank-sharded ``TrainingSampler`` come from detectron2.
"""

import argparse
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import default_setup
from detectron2.layers import NaiveSyncBatchNorm
from detectron2.utils import comm
from omegaconf import OmegaConf
from torch import nn

from alphafree_matting.data.toy_dataset import make_toy_dataset
from alphafree_matting.engine import (
    build_trainer,
    create_ddp_model,
    get_param_groups,
    launch,
)
from alphafree_matting.engine.distributed import rendezvous
from tests.helpers.training import TINY_DEPTH, tiny_vitmatte, training_batch

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the CPU (gloo) path; with CUDA, launch uses NCCL"
)

BATCH = 4
LR = 0.5
SEED = 7
SAMPLER_SIZE = 8
BATCHNORM_MODES = ("frozen", "synchronised", "per_process")
"""How the decoder's BatchNorm runs: eval mode, NaiveSyncBatchNorm, plain BatchNorm (the
negative control: per-process statistics differ from the whole batch's)."""


def frozen_batchnorm(model: nn.Module) -> None:
    """BatchNorm layers in eval mode: normalise with the running statistics."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def synchronised_batchnorm(module: nn.Module) -> None:
    """Replace BatchNorm2d layers by detectron2's NaiveSyncBatchNorm (same state) in place."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = NaiveSyncBatchNorm(child.num_features, eps=child.eps, momentum=child.momentum)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            synchronised_batchnorm(child)


RELEASE_DDP = dict(broadcast_buffers=True, find_unused_parameters=False, fp16_compression=True)
"""The paper configs' train.ddp (the authors' configs/common/train.py)."""


def train_one_step(model: nn.Module, batch: list, batchnorm: str, **ddp) -> dict:
    """One SGD step (no momentum: the update is lr x gradient, so a gradient scaled by a wrong
    reduction shows; Adam's first step is nearly scale-free) through the project's trainer."""
    groups = get_param_groups(model, base_lr=LR, weight_decay=0.1, num_layers=TINY_DEPTH)
    optimizer = torch.optim.SGD(groups, lr=LR, momentum=0.0)
    ddp = ddp or dict(broadcast_buffers=False, find_unused_parameters=False)
    trained = create_ddp_model(model, **ddp)
    trainer = build_trainer(trained, itertools.repeat(batch), optimizer, device="cpu")
    if batchnorm == "frozen":
        frozen_batchnorm(model)  # after the trainer, which puts the model in training mode
    trainer.train(0, 1)
    return {
        "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        "grads": {n: p.grad.clone() for n, p in model.named_parameters()},
        "running_means": {
            n: b.clone() for n, b in model.named_buffers() if n.endswith("running_mean")
        },
    }


def _worker(output_dir: str) -> None:
    """Runs in each of the two processes (rank 0 and 1)."""
    rank = comm.get_rank()
    cfg = OmegaConf.create(
        {"train": {"output_dir": os.path.join(output_dir, "setup"), "seed": SEED}}
    )
    default_setup(cfg, argparse.Namespace(config_file="", eval_only=False))
    result = {
        "world_size": comm.get_world_size(),
        "local_rank": comm.get_local_rank(),
        "local_size": comm.get_local_size(),
        "initial_seed": torch.initial_seed(),
        "draw": torch.rand(4),
    }
    sampler = TrainingSampler(SAMPLER_SIZE)
    result["sampler_seed"] = sampler._seed
    result["indices"] = list(itertools.islice(iter(sampler), SAMPLER_SIZE))

    half = BATCH // comm.get_world_size()
    batch = training_batch(BATCH)[rank * half : (rank + 1) * half]
    for batchnorm in BATCHNORM_MODES:
        # A different initialisation per rank: DDP must broadcast rank 0's to every process.
        model = tiny_vitmatte(seed=100 + rank)
        if batchnorm == "synchronised":
            synchronised_batchnorm(model)
        result[batchnorm] = train_one_step(model, batch, batchnorm)
    model = tiny_vitmatte(seed=100 + rank)
    result["release_ddp"] = train_one_step(model, batch, "frozen", **RELEASE_DDP)
    torch.save(result, os.path.join(output_dir, f"rank{rank}.pt"))


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    output_dir = tmp_path_factory.mktemp("ddp")
    # Forked processes inherit the imported modules: no 2 x 10 s of interpreter start-up.
    launch(_worker, 2, dist_url="auto", args=(str(output_dir),), start_method="fork")
    return [torch.load(output_dir / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]


@pytest.fixture(scope="module")
def whole_batch() -> dict:
    """One process, the whole batch, rank 0's initialisation, plain BatchNorm."""
    return {
        mode: train_one_step(tiny_vitmatte(seed=100), training_batch(BATCH), mode)
        for mode in ("frozen", "per_process")
    }


def assert_tensors_close(actual: dict, expected: dict, **tolerance) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(
            actual[name],
            expected[name],
            msg=lambda message, name=name: f"{name}: {message}",
            **tolerance,
        )


TIGHT = dict(rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "batchnorm, reference", [("frozen", "frozen"), ("synchronised", "per_process")]
)
def test_ddp_step_on_two_halves_equals_one_process_on_the_whole_batch(
    ranks, whole_batch, batchnorm, reference
):
    expected = whole_batch[reference]
    # A gradient off by a factor (a sum instead of a mean over processes, a global instead of a
    # per-process normalisation) would be far outside the tolerance.
    largest = max(grad.abs().max().item() for grad in expected["grads"].values())
    assert largest > 1e3 * TIGHT["atol"]
    for rank in ranks:
        got = rank[batchnorm]
        assert_tensors_close(got["grads"], expected["grads"], **TIGHT)
        assert_tensors_close(got["params"], expected["params"], **TIGHT)
    # Both processes hold the same parameters after the step.
    assert_tensors_close(
        ranks[0][batchnorm]["params"], ranks[1][batchnorm]["params"], rtol=0, atol=0
    )
    if batchnorm == "synchronised":
        # ... and the same running means, those of the whole batch.
        assert_tensors_close(
            ranks[0][batchnorm]["running_means"], expected["running_means"], **TIGHT
        )


def test_release_ddp_options_fp16_gradients_and_buffer_broadcast_work_on_gloo(ranks, whole_batch):
    expected = whole_batch["frozen"]
    for rank in ranks:  # gradients all-reduced in float16: equal to float16 precision
        assert_tensors_close(rank["release_ddp"]["grads"], expected["grads"], rtol=2e-3, atol=1e-5)
    assert_tensors_close(
        ranks[0]["release_ddp"]["params"], ranks[1]["release_ddp"]["params"], rtol=0, atol=0
    )


def test_per_process_batchnorm_statistics_make_the_halves_differ(ranks, whole_batch):
    """The negative control: plain BatchNorm normalises each half with its own statistics."""
    got, expected = ranks[0]["per_process"]["grads"], whole_batch["per_process"]["grads"]
    worst = max((got[n] - expected[n]).abs().max().item() for n in expected)
    assert worst > 1e2 * TIGHT["atol"]


def test_processes_see_a_world_of_two_on_one_machine(ranks):
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert [r["local_rank"] for r in ranks] == [0, 1]
    assert [r["local_size"] for r in ranks] == [2, 2]


def test_default_setup_seeds_each_rank_differently(ranks):
    assert [r["initial_seed"] for r in ranks] == [SEED, SEED + 1]
    assert not torch.equal(ranks[0]["draw"], ranks[1]["draw"])


def test_training_sampler_gives_ranks_disjoint_shards_of_one_shuffle(ranks):
    assert ranks[0]["sampler_seed"] == ranks[1]["sampler_seed"]  # one shared shuffle
    half = SAMPLER_SIZE // 2
    for epoch in range(2):  # each epoch's permutation is split between the ranks
        shards = [set(r["indices"][epoch * half : (epoch + 1) * half]) for r in ranks]
        assert shards[0].isdisjoint(shards[1])
        assert shards[0] | shards[1] == set(range(SAMPLER_SIZE))


def test_launch_of_one_process_calls_main_in_this_process():
    calls = []
    launch(calls.append, 1, args=("main",))
    assert calls == ["main"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "need a dist_url"),
        ({"num_machines": 2, "dist_url": "auto"}, "single machine"),
        ({"dist_url": "udp://127.0.0.1:1234"}, "use tcp://HOST:PORT"),
    ],
)
def test_launch_of_cpu_processes_checks_the_rendezvous_before_starting(options, message):
    with pytest.raises(ValueError, match=message):
        launch(_worker, 2, args=("unused",), **options)


@pytest.mark.parametrize("num_machines, to_detectron2", [(1, True), (2, False)])
def test_gpu_runs_of_one_machine_go_to_detectron2s_launch(monkeypatch, num_machines, to_detectron2):
    """Single-machine GPU runs use detectron2's launcher unchanged; multi-machine runs (whose
    machines may start apart) get the rendezvous with the startup timeout."""
    from alphafree_matting.engine import distributed

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(distributed, "_store_address", lambda url: ("127.0.0.1", 1))
    monkeypatch.setattr(distributed, "_detectron2_launch", lambda *a, **k: calls.append("d2"))
    monkeypatch.setattr(distributed.mp, "start_processes", lambda *a, **k: calls.append("own"))
    launch(_worker, 2, num_machines=num_machines, dist_url="tcp://127.0.0.1:1", args=("x",))
    assert calls == (["d2"] if to_detectron2 else ["own"])
    with pytest.raises(ValueError, match="this machine has 2 GPU"):
        launch(_worker, 3, dist_url="auto", args=("x",))


def test_create_ddp_model_leaves_a_single_process_model_unwrapped():
    model = nn.Linear(2, 2)
    assert create_ddp_model(model, broadcast_buffers=False) is model


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_training_script_trains_with_two_cpu_processes(tmp_path):
    make_toy_dataset(str(tmp_path / "datasets" / "toy_matting"), num_train=8, num_val=2, size=64)
    output = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "lazyconfig_train_net.py"),
            "--config-file",
            str(REPO / "configs" / "demo_ddc.py"),
            "--num-gpus",
            "2",
            "--dist-url",
            "auto",
            "dataloader.train.total_batch_size=4",
            "dataloader.train.num_workers=0",
            "dataloader.train.mapper.augmentations.0.crop_size=64",
            "train.max_iter=4",
            "train.log_period=1",
            "train.eval_period=0",
            f"train.output_dir={output}",
        ],
        cwd=REPO,
        env=dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "datasets")),
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "World size: 2" in log
    assert (output / "model_final.pth").is_file()
    records = [json.loads(line) for line in (output / "metrics.json").read_text().splitlines()]
    assert sorted(r["iteration"] for r in records if "total_loss" in r) == [0, 1, 2, 3]
    assert any("matting/SAD" in r for r in records)  # evaluation gathered from both processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_rendezvous_logs_the_missing_ranks_on_every_rank_and_times_out_naming_them(caplog):
    """Machine 0 (ranks 0, 1) starts, machine 1 (ranks 2, 3) never does."""
    url = f"tcp://127.0.0.1:{free_port()}"
    errors = {}

    def join(rank):
        try:
            rendezvous(url, rank, 4, 2, startup_timeout=timedelta(seconds=2))
        except TimeoutError as error:
            errors[rank] = str(error)

    with caplog.at_level(logging.INFO, logger="alphafree_matting.engine.distributed"):
        ranks = [threading.Thread(target=join, args=(rank,)) for rank in (0, 1)]
        for thread in ranks:
            thread.start()
        for thread in ranks:
            thread.join()
    assert sorted(errors) == [0, 1]
    assert "rank 0: rank(s) 2, 3 (machine(s) 1) did not start" in errors[0]
    # Rank 1 times out too, or first sees rank 0 stop: either way it names the missing ranks.
    assert errors[1].startswith("rank 1: ") and "rank(s) 2, 3 (machine(s) 1)" in errors[1]
    waiting = [
        r.getMessage() for r in caplog.records if " of 4: waiting for rank(s) " in r.getMessage()
    ]
    for rank in (0, 1):  # rank 1 may not have joined yet when rank 0 logs first
        (line,) = [message for message in waiting if message.startswith(f"rank {rank} of 4")]
        assert "2, 3 (machine(s) " in line and "1) to start" in line


def test_rendezvous_without_rank_0_says_so():
    url = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(TimeoutError, match=rf"rank 0 \(machine 0\) did not start.*{url}"):
        rendezvous(url, 1, 2, 1, startup_timeout=timedelta(seconds=1))


def test_launch_stops_at_the_startup_timeout_when_a_machine_never_starts():
    calls = []
    start = time.monotonic()
    with pytest.raises(Exception, match=r"rank\(s\) 1 \(machine\(s\) 1\) did not start"):
        launch(
            calls.append,
            1,
            num_machines=2,
            machine_rank=0,
            dist_url=f"tcp://127.0.0.1:{free_port()}",
            args=("main",),
            start_method="fork",
            startup_timeout=timedelta(seconds=2),
        )
    assert time.monotonic() - start < 60 and not calls
