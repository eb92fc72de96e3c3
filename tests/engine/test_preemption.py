"""Stopping on SIGTERM / SIGINT: the signal only records a request; the hook saves the
iteration that just finished and ends the run with the interrupted exit code."""

import os
import signal

import pytest
import torch
from torch import nn

from alphafree_matting.checkpoint import AtomicCheckpointer
from alphafree_matting.engine import EXIT_INTERRUPTED, StopOnSignal, TrainingInterrupted, preemption
from alphafree_matting.engine.preemption import stop_on_signals


def test_a_signal_inside_the_block_is_recorded_not_fatal_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as request:
        assert not request.requested
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # a duplicate (forwarded) within the window
        assert request.signal == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_same_signal_again_after_the_window_acts_as_without_a_handler(monkeypatch):
    monkeypatch.setattr(preemption, "REPEAT_WINDOW", -1.0)
    with stop_on_signals() as request:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):  # Python's default SIGINT behaviour
            os.kill(os.getpid(), signal.SIGINT)
    assert request.signal == signal.SIGINT


class FakeTrainer:
    iter = 6


def test_the_hook_saves_the_finished_iteration_and_raises_the_interrupted_exit(tmp_path, caplog):
    checkpointer = AtomicCheckpointer(nn.Linear(2, 2), str(tmp_path))
    with stop_on_signals() as request:
        hook = StopOnSignal(request, checkpointer)
        hook.trainer = FakeTrainer()
        hook.after_step()  # nothing requested: nothing happens
        assert list(tmp_path.iterdir()) == []
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(TrainingInterrupted) as stop:
            hook.after_step()
    assert stop.value.code == EXIT_INTERRUPTED
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000006.pth"
    assert torch.load(tmp_path / "model_0000006.pth", weights_only=False)["iteration"] == 6
    assert "stopped by SIGTERM after iteration 6" in caplog.text


def test_the_hook_does_not_save_twice_an_iteration_the_period_just_saved(tmp_path):
    checkpointer = AtomicCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000006", iteration=6)
    first = (tmp_path / "model_0000006.pth").stat().st_mtime_ns
    with stop_on_signals() as request:
        hook = StopOnSignal(request, checkpointer)
        hook.trainer = FakeTrainer()
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(TrainingInterrupted):
            hook.after_step()
    assert (tmp_path / "model_0000006.pth").stat().st_mtime_ns == first
