"""Stopping a run cleanly on SIGTERM / SIGINT (pre-emption, a time limit, Ctrl-C).

SLURM and Kubernetes send SIGTERM some seconds before they kill a job. Without a handler the
process dies at once and everything since the last periodic checkpoint is lost. Here the signal
only sets a flag (:class:`StopRequest`); the :class:`StopOnSignal` hook reads it after each step,
saves a checkpoint of the step that just finished (atomic, as every save), logs where it is and
ends the run with :data:`EXIT_INTERRUPTED`. ``--resume`` continues from that checkpoint.

In a multi-process run every rank stops after the same iteration: the ranks agree on the flag
with one small all-reduce per step. The launching process forwards the signals to its worker
processes (Kubernetes signals only the container's first process). The same signal again, later
than :data:`REPEAT_WINDOW` seconds after the first, ends the process at once, as without a handler.
"""

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Optional

import torch
import torch.distributed as dist
from detectron2.engine import HookBase
from detectron2.utils import comm

__all__ = [
    "EXIT_INTERRUPTED",
    "STOP_SIGNALS",
    "StopOnSignal",
    "StopRequest",
    "TrainingInterrupted",
    "forward_signals_to_children",
    "stop_on_signals",
]

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 75
"""Exit code of a run stopped by a signal after saving a checkpoint (sysexits' EX_TEMPFAIL: try
again, with ``--resume``)."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
REPEAT_WINDOW = 2.0
"""Seconds in which the same signal again is the same request (it may reach a worker both from
the terminal or the scheduler and forwarded by the launching process)."""


class TrainingInterrupted(SystemExit):
    """The run stopped on a signal after saving its checkpoint; exits with EXIT_INTERRUPTED.

    A ``SystemExit``: detectron2's training loop lets it through without logging a traceback and
    still runs the hooks' ``after_train`` (writers flush, the lock is released on the way out).
    """

    def __init__(self, message: str):
        super().__init__(EXIT_INTERRUPTED)
        self.message = message


class StopRequest:
    """Signal handler that records the first stop signal; a later repeat acts as the default."""

    def __init__(self):
        self.signal: Optional[int] = None
        self._time = 0.0
        self.previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __call__(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        if self.signal is None:
            self.signal, self._time = signum, now
            return
        if now - self._time <= REPEAT_WINDOW:
            return
        signal.signal(signum, self.previous.get(signum, signal.SIG_DFL))
        signal.raise_signal(signum)


def _install(handler, signals: Sequence[int]) -> Optional[dict]:
    """Install ``handler`` for ``signals``; None (nothing installed) off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {signum: signal.signal(signum, handler) for signum in signals}


def _restore(previous: Optional[dict]) -> None:
    for signum, handler in (previous or {}).items():
        signal.signal(signum, handler)


@contextmanager
def stop_on_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """Within the block, ``signals`` set the yielded :class:`StopRequest` instead of ending the
    process. Data-loader workers forked inside the block inherit the handler, so a signal sent
    to the whole process group does not kill them mid-step."""
    request = StopRequest()
    previous = _install(request, signals)
    request.previous = previous or {}
    try:
        yield request
    finally:
        _restore(previous)


def _forward(signum: int, frame: Any) -> None:
    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass


@contextmanager
def forward_signals_to_children(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` received by this (launching) process are passed on to its
    worker processes, which stop cleanly; this process waits for them."""
    previous = _install(_forward, signals)
    try:
        yield
    finally:
        _restore(previous)


def _agreed(requested: bool) -> bool:
    """Whether any rank was asked to stop (every rank calls this after each step)."""
    if comm.get_world_size() == 1:
        return requested
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    flag = torch.tensor([int(requested)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


class StopOnSignal(HookBase):
    """After each step: when a stop was requested, save ``model_<iteration>.pth`` (main process),
    log it and raise :class:`TrainingInterrupted`.

    Args:
        request: the run's :class:`StopRequest`.
        checkpointer: the run's checkpointer on the main process, None on the others.
    """

    def __init__(self, request: StopRequest, checkpointer: Optional[Any]):
        self.request = request
        self.checkpointer = checkpointer

    def after_step(self) -> None:
        if not _agreed(self.request.requested):
            return
        iteration = self.trainer.iter
        name = f"model_{iteration:07d}"
        path = None
        if self.checkpointer is not None:
            path = os.path.join(self.checkpointer.save_dir, f"{name}.pth")
            if self.checkpointer.get_checkpoint_file() != path:  # not saved by the period
                self.checkpointer.save(name, iteration=iteration)
        comm.synchronize()  # no rank leaves before the checkpoint is complete
        what = signal.Signals(self.request.signal).name if self.request.requested else "a signal"
        message = (
            f"stopped by {what} after iteration {iteration}"
            + (f"; saved {path}" if path else "")
            + ". Continue with the same command and --resume."
        )
        logger.warning("Training %s", message)
        raise TrainingInterrupted(message)
