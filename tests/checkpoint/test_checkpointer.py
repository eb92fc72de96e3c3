"""AtomicCheckpointer: a process killed (SIGKILL) while saving leaves the previous checkpoint and
the last-checkpoint tag intact, and resuming ignores the partial file."""

import errno
import io
import logging
import multiprocessing
import os
import signal

import pytest
import torch
from torch import nn

from alphafree_matting.checkpoint import (
    AtomicCheckpointer,
    CheckpointSaveError,
    DamagedCheckpointError,
    PruningPeriodicCheckpointer,
    atomic_write,
)

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods() or not hasattr(signal, "SIGKILL"),
    reason="needs fork and SIGKILL (POSIX)",
)


def initial_linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(64, 64)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _save_then_die(save_dir: str, stage: str) -> None:
    """Child process: save model_0000009 (weights W), then die by SIGKILL in the middle of saving
    model_0000019 (weights W + 1): in torch.save after writing half of the bytes
    (``"checkpoint"``), or when moving the new last_checkpoint tag into place (``"tag"``)."""
    torch.set_num_threads(1)
    model = initial_linear()
    checkpointer = AtomicCheckpointer(model, save_dir)
    checkpointer.save("model_0000009", iteration=9)
    if stage == "checkpoint":
        real_save = torch.save

        def half_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            _die()

        torch.save = half_save
    else:
        real_replace = os.replace

        def replace_but_die_at_tag(source, target):
            if os.path.basename(target) == "last_checkpoint":
                _die()
            real_replace(source, target)

        os.replace = replace_but_die_at_tag
    with torch.no_grad():
        model.weight.add_(1.0)
    checkpointer.save("model_0000019", iteration=19)


def kill_while_saving(save_dir, stage: str) -> None:
    # A forked child: no second interpreter start-up, and SIGKILL ends it as it would a trainer.
    child = multiprocessing.get_context("fork").Process(
        target=_save_then_die, args=(str(save_dir), stage)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL


def resume(save_dir) -> tuple[nn.Linear, dict]:
    model = nn.Linear(64, 64)
    checkpointer = AtomicCheckpointer(model, str(save_dir))
    assert checkpointer.has_checkpoint()
    extra = checkpointer.resume_or_load("", resume=True)
    return model, extra


@needs_fork
@pytest.mark.parametrize("stage", ["checkpoint", "tag"])
def test_kill_during_save_keeps_the_previous_checkpoint_and_tag(tmp_path, stage):
    kill_while_saving(tmp_path, stage)

    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"
    if stage == "checkpoint":
        # The half-written file never got the checkpoint's name.
        assert not (tmp_path / "model_0000019.pth").exists()
        (partial,) = tmp_path.glob("model_0000019.pth.*.tmp")  # the killed writer's own name
        with pytest.raises((OSError, RuntimeError, EOFError)):  # it is truncated
            torch.load(partial, weights_only=False)
    else:
        # The new checkpoint is complete; only the tag move was lost, so the tag still names the
        # older complete checkpoint.
        complete = torch.load(tmp_path / "model_0000019.pth", weights_only=False)
        assert complete["iteration"] == 19
        (tag,) = tmp_path.glob("last_checkpoint.*.tmp")
        assert tag.read_text() == "model_0000019.pth"

    model, extra = resume(tmp_path)
    assert extra["iteration"] == 9
    expected = initial_linear()
    assert torch.equal(model.weight, expected.weight) and torch.equal(model.bias, expected.bias)


@needs_fork
def test_save_after_a_killed_save_replaces_the_stale_temporary_file(tmp_path):
    kill_while_saving(tmp_path, "checkpoint")
    model = initial_linear()
    checkpointer = AtomicCheckpointer(model, str(tmp_path))
    # Periodic clean-up (max_to_keep) lists complete checkpoints only.
    assert [os.path.basename(f) for f in checkpointer.get_all_checkpoint_files()] == [
        "model_0000009.pth"
    ]
    checkpointer.save("model_0000019", iteration=19)
    assert not list(tmp_path.glob("*.tmp"))  # the dead writer's partial file is removed
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000019.pth"
    _, extra = resume(tmp_path)
    assert extra["iteration"] == 19


def test_a_full_disk_during_a_save_is_one_error_naming_the_file_space_and_fix(
    tmp_path, monkeypatch
):
    model = initial_linear()
    checkpointer = AtomicCheckpointer(model, str(tmp_path))
    checkpointer.save("model_0000009", iteration=9)

    def save_onto_a_full_disk(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        try:  # as torch.save reports it: its own error, raised while handling the OSError
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from None

    monkeypatch.setattr(torch, "save", save_onto_a_full_disk)
    with pytest.raises(CheckpointSaveError) as error:
        checkpointer.save("model_0000019", iteration=19)
    message = str(error.value)
    assert message.startswith(
        f"cannot save checkpoint {tmp_path / 'model_0000019.pth'}: the disk is full ("
    )
    assert f"free in {tmp_path})" in message and "Free space, then continue" in message
    assert f"the last complete one, {tmp_path / 'model_0000009.pth'}, is intact" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model_0000009.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"


def test_other_save_errors_pass_through_unchanged(tmp_path, monkeypatch):
    checkpointer = AtomicCheckpointer(initial_linear(), str(tmp_path))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(torch, "save", refuse)
    with pytest.raises(PermissionError, match="Permission denied"):
        checkpointer.save("model_0000019", iteration=19)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "last_checkpoint"
    with atomic_write(str(target), "w") as f:
        f.write("model_0000009.pth")
    with pytest.raises(RuntimeError):
        with atomic_write(str(target), "w") as f:
            f.write("model_00000")
            raise RuntimeError("interrupted")
    assert target.read_text() == "model_0000009.pth"
    assert [p.name for p in tmp_path.iterdir()] == ["last_checkpoint"]


def test_checkpoints_carry_optimizer_and_trainer_state_for_resume(tmp_path):
    model = initial_linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(2, 64)).sum().backward()
    optimizer.step()
    AtomicCheckpointer(model, str(tmp_path), optimizer=optimizer).save("model_0000004", iteration=4)

    restored = nn.Linear(64, 64)
    restored_optimizer = torch.optim.SGD(restored.parameters(), lr=0.1, momentum=0.9)
    checkpointer = AtomicCheckpointer(restored, str(tmp_path), optimizer=restored_optimizer)
    assert checkpointer.resume_or_load("", resume=True)["iteration"] == 4
    assert torch.equal(restored.weight, model.weight)
    momentum = restored_optimizer.state[restored.weight]["momentum_buffer"]
    assert torch.equal(momentum, optimizer.state[model.weight]["momentum_buffer"])


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path):
    target = str(tmp_path / "model_0000009.pth")
    with atomic_write(target, "w") as first:
        first.write("first run")
        with atomic_write(target, "w") as second:  # another run saving the same name meanwhile
            second.write("second run")
        assert open(target).read() == "second run"
    assert open(target).read() == "first run"
    assert [p.name for p in tmp_path.iterdir()] == ["model_0000009.pth"]


def save_checkpoints(save_dir, iterations) -> nn.Linear:
    model = initial_linear()
    checkpointer = AtomicCheckpointer(model, str(save_dir))
    for iteration in iterations:
        with torch.no_grad():
            model.bias.fill_(iteration)
        checkpointer.save(f"model_{iteration:07d}", iteration=iteration)
        os.utime(save_dir / f"model_{iteration:07d}.pth", (iteration, iteration))  # in order
    return model


@pytest.mark.parametrize("damage", ["truncated", "empty", "missing"])
def test_resume_falls_back_to_the_newest_intact_checkpoint_naming_both(tmp_path, caplog, damage):
    save_checkpoints(tmp_path, [9, 19, 29])
    last = tmp_path / "model_0000029.pth"
    if damage == "missing":
        last.unlink()
    else:
        last.write_bytes(
            last.read_bytes()[: last.stat().st_size // 2 if damage == "truncated" else 0]
        )
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.checkpoint.checkpointer"):
        model, extra = resume(tmp_path)
    assert extra["iteration"] == 19 and (model.bias == 19).all()
    assert "model_0000029.pth" in caplog.text and "resuming from" in caplog.text
    assert "model_0000019.pth, the newest intact checkpoint" in caplog.text


def test_resume_without_any_intact_checkpoint_names_the_files_and_the_choice(tmp_path):
    save_checkpoints(tmp_path, [9, 19])
    for path in tmp_path.glob("*.pth"):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DamagedCheckpointError) as error:
        resume(tmp_path)
    message = str(error.value)
    assert "model_0000019.pth" in message and "model_0000009.pth" in message
    assert "without --resume" in message and "init_checkpoint" in message


class _Trainer:
    def __init__(self, start_iter: int, max_iter: int):
        self.start_iter, self.max_iter = start_iter, max_iter


def periodic_names(save_dir) -> list[str]:
    return sorted(p.name for p in save_dir.glob("model_*.pth"))


def test_max_to_keep_counts_the_checkpoints_from_before_a_resume(tmp_path):
    save_checkpoints(tmp_path, [9, 19, 29, 39])  # an earlier run (max_to_keep was larger)
    # A checkpoint of a later iteration than the resumed one (it will be overwritten) is not
    # counted, nor is model_final.
    save_checkpoints(tmp_path, [49])
    (tmp_path / "model_final.pth").write_bytes(b"final")
    checkpointer = AtomicCheckpointer(initial_linear(), str(tmp_path))
    hook = PruningPeriodicCheckpointer(checkpointer, period=10, max_to_keep=2)
    hook.trainer = _Trainer(start_iter=40, max_iter=100)
    hook.before_train()
    hook.step(49)
    assert periodic_names(tmp_path) == ["model_0000039.pth", "model_0000049.pth", "model_final.pth"]
    hook.step(59)
    assert periodic_names(tmp_path) == ["model_0000049.pth", "model_0000059.pth", "model_final.pth"]


def test_a_run_from_iteration_0_does_not_prune_older_files(tmp_path):
    save_checkpoints(tmp_path, [9, 19, 29])
    checkpointer = AtomicCheckpointer(initial_linear(), str(tmp_path))
    hook = PruningPeriodicCheckpointer(checkpointer, period=10, max_to_keep=1)
    hook.trainer = _Trainer(start_iter=0, max_iter=100)
    hook.before_train()
    hook.step(9)  # overwrites model_0000009 and keeps it: the earlier run's files stay
    assert periodic_names(tmp_path) == [
        "model_0000009.pth",
        "model_0000019.pth",
        "model_0000029.pth",
    ]
