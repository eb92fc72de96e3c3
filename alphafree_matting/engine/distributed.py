"""Multi-process training: detectron2's ``launch`` with a startup timeout that says who is missing,
and a gloo path for machines without a GPU.

Single-process and single-machine GPU runs go to detectron2's ``launch`` unchanged. Multi-machine
runs and CPU multi-process runs (gloo, which detectron2 0.6 refuses) start their processes here:
each joins a rendezvous at ``dist_url`` that waits at most ``startup_timeout`` (10 min, not the
process group's 30) and logs which ranks it waits for, then sets up the state detectron2's
workers set up (process group, ``comm``'s machine-local group, a barrier).
"""

import logging
import os
import socket
import sys
import time
from datetime import timedelta
from typing import Callable, Optional
from urllib.parse import urlparse

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import create_ddp_model as _detectron2_create_ddp_model
from detectron2.engine import launch as _detectron2_launch
from detectron2.utils import comm
from torch import nn

from ..compat import create_local_process_group

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "create_ddp_model",
    "launch",
    "rendezvous",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(minutes=30)
"""Timeout of collective operations (detectron2's default)."""
DEFAULT_STARTUP_TIMEOUT = timedelta(minutes=10)
"""How long the processes of a run wait for each other to start."""
WAIT_LOG_PERIOD = 30.0
"""Seconds between the log lines of a process still waiting for others to start."""
_PREFIX = "alphafree_matting/rendezvous"


def _free_local_port() -> int:
    """A TCP port that is free now (another process may still take it before the workers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ranks_text(ranks: list[int], processes_per_machine: int) -> str:
    machines = sorted({rank // processes_per_machine for rank in ranks})
    shown = ", ".join(str(rank) for rank in ranks[:16]) + (" ..." if len(ranks) > 16 else "")
    where = ", ".join(str(machine) for machine in machines[:16])
    return f"rank(s) {shown} (machine(s) {where})"


def _store_address(dist_url: str) -> tuple[str, int]:
    url = urlparse(dist_url)
    if url.scheme == "tcp" and url.hostname and url.port:
        return url.hostname, url.port
    if url.scheme == "env":
        return os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    raise ValueError(
        f"dist_url {dist_url!r}: use tcp://HOST:PORT (the address of machine 0), env:// "
        "(MASTER_ADDR, MASTER_PORT) or file:///PATH (a file on a shared file system)"
    )


def _connect(dist_url: str, rank: int, world_size: int, deadline: float) -> dist.Store:
    """The store of the run: a TCP store served by rank 0, or a file store."""
    remaining = timedelta(seconds=max(1.0, deadline - time.monotonic()))
    url = urlparse(dist_url)
    if url.scheme == "file":
        store = dist.FileStore(url.path, world_size)
        store.set_timeout(remaining)
        return store
    host, port = _store_address(dist_url)
    if rank != 0:
        _wait_for_port(host, port, deadline, rank, dist_url)
        remaining = timedelta(seconds=max(1.0, deadline - time.monotonic()))
    return dist.TCPStore(
        host, port, world_size, rank == 0, timeout=remaining, wait_for_workers=False
    )


def _wait_for_port(host: str, port: int, deadline: float, rank: int, url: str) -> None:
    """Wait until rank 0's store accepts connections, logging while it does not."""
    logged, next_log = False, time.monotonic()
    while True:
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return
        except OSError:
            pass
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(
                f"rank {rank}: rank 0 (machine 0) did not start within the startup timeout: "
                f"nothing listens at {url}. Start machine 0 (--machine-rank 0), check --dist-url "
                "on every machine, or raise --startup-timeout."
            )
        if now >= next_log:
            (logger.warning if logged else logger.info)(
                "rank %d: waiting for rank 0 (machine 0) at %s (%.0f s left)",
                rank,
                url,
                deadline - now,
            )
            logged, next_log = True, now + WAIT_LOG_PERIOD
        time.sleep(0.5)


def rendezvous(
    dist_url: str,
    rank: int,
    world_size: int,
    processes_per_machine: int,
    startup_timeout: timedelta = DEFAULT_STARTUP_TIMEOUT,
) -> dist.Store:
    """Meet every process at ``dist_url`` (rank 0 serves a TCP store there) and return the store
    for ``init_process_group(store=...)``; logs the missing ranks every :data:`WAIT_LOG_PERIOD`
    s and raises a TimeoutError naming them after ``startup_timeout``."""
    deadline = time.monotonic() + startup_timeout.total_seconds()
    store = _connect(dist_url, rank, world_size, deadline)
    store.set(f"{_PREFIX}/rank{rank}", socket.gethostname())
    store.add(f"{_PREFIX}/joined", 1)
    logged, waiting, next_log = False, "the other ranks", time.monotonic()
    while True:
        now = time.monotonic()
        try:
            if store.add(f"{_PREFIX}/joined", 0) >= world_size:
                return store
            due = now >= next_log or now >= deadline
            missing = _missing_ranks(store, world_size) if due else None
        except RuntimeError as error:  # rank 0's store is gone: rank 0 stopped
            raise TimeoutError(
                f"rank {rank}: rank 0 closed the rendezvous at {dist_url} while waiting for "
                f"{waiting} (it stopped, e.g. at its startup timeout; see its log). ({error})"
            ) from None
        if missing is not None:
            waiting = _ranks_text(missing, processes_per_machine)
            if now >= deadline:
                raise TimeoutError(
                    f"rank {rank}: {waiting} did not start within the startup timeout "
                    f"({startup_timeout.total_seconds():.0f} s). Start them (the same command "
                    "with their --machine-rank), check --num-machines and --dist-url on every "
                    "machine, or raise --startup-timeout."
                )
            (logger.warning if logged else logger.info)(
                "rank %d of %d: waiting for %s to start (rendezvous %s, %.0f s left)",
                rank,
                world_size,
                waiting,
                dist_url,
                deadline - now,
            )
            logged, next_log = True, now + WAIT_LOG_PERIOD
        time.sleep(0.1)


def _missing_ranks(store: dist.Store, world_size: int) -> list[int]:
    return [rank for rank in range(world_size) if not store.check([f"{_PREFIX}/rank{rank}"])]


class _StderrLogging:
    """Log this module's records to stderr while nothing else handles them (in a new process,
    before the training script sets up logging)."""

    def __enter__(self):
        self.handler = None
        if not logger.hasHandlers():
            self.handler = logging.StreamHandler(sys.stderr)
            self.handler.setFormatter(
                logging.Formatter("[%(asctime)s %(name)s]: %(message)s", "%m/%d %H:%M:%S")
            )
            logger.addHandler(self.handler)
            self.level = logger.level
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc_info):
        if self.handler is not None:
            logger.removeHandler(self.handler)
            logger.setLevel(self.level)


def _worker(
    local_rank: int,
    main_func: Callable,
    world_size: int,
    num_processes_per_machine: int,
    machine_rank: int,
    dist_url: str,
    args: tuple,
    timeout: timedelta,
    startup_timeout: timedelta,
    forked: bool,
) -> None:
    rank = machine_rank * num_processes_per_machine + local_rank
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    elif forked:
        # OpenMP thread pools do not survive fork (as in detectron2's forked loader workers)
        torch.set_num_threads(1)
    elif "OMP_NUM_THREADS" not in os.environ:
        # the processes share the machine's cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // num_processes_per_machine))
    with _StderrLogging():
        store = rendezvous(dist_url, rank, world_size, num_processes_per_machine, startup_timeout)
    store.set_timeout(timeout)
    dist.init_process_group(
        backend="nccl" if use_cuda else "gloo",
        store=store,
        world_size=world_size,
        rank=rank,
        timeout=timeout,
    )
    create_local_process_group(num_processes_per_machine)
    comm.synchronize()
    main_func(*args)
    dist.destroy_process_group()


def launch(
    main_func: Callable,
    num_gpus_per_machine: int,
    num_machines: int = 1,
    machine_rank: int = 0,
    dist_url: Optional[str] = None,
    args: tuple = (),
    timeout: timedelta = DEFAULT_TIMEOUT,
    start_method: str = "spawn",
    startup_timeout: timedelta = DEFAULT_STARTUP_TIMEOUT,
) -> None:
    """``detectron2.engine.launch`` with a startup timeout, and for CPU processes (gloo) too.

    Without CUDA, ``num_gpus_per_machine`` is the number of CPU processes per machine, each with
    ``cores / processes`` threads unless ``OMP_NUM_THREADS`` is set.

    Args:
        dist_url: e.g. ``tcp://127.0.0.1:50152`` (machine 0); ``"auto"``: a free local port
            (single machine only).
        start_method: CPU processes ``"spawn"`` or ``"fork"`` (POSIX; faster start, inherits the
            imported modules, single-threaded). GPU runs always spawn.
        startup_timeout: how long the processes of a multi-machine or CPU run wait for each other.
    """
    world_size = num_machines * num_gpus_per_machine
    if world_size == 1:
        _detectron2_launch(main_func, 1, args=args, timeout=timeout)
        return
    if dist_url is None:
        raise ValueError("launch: several processes need a dist_url (e.g. 'auto')")
    if dist_url == "auto" and num_machines != 1:
        raise ValueError("launch: dist_url='auto' works on a single machine only")
    if dist_url != "auto" and urlparse(dist_url).scheme != "file":
        _store_address(dist_url)  # a URL the processes cannot meet at: fail before starting them
    if torch.cuda.is_available():
        if num_gpus_per_machine > torch.cuda.device_count():
            raise ValueError(
                f"launch: {num_gpus_per_machine} processes per machine but this machine has "
                f"{torch.cuda.device_count()} GPU(s)"
            )
        if num_machines == 1:  # one machine's GPU processes start together: detectron2's launch
            _detectron2_launch(
                main_func, num_gpus_per_machine, dist_url=dist_url, args=args, timeout=timeout
            )
            return
        start_method = "spawn"  # CUDA does not survive fork
    else:
        logger.info("No CUDA: %d CPU processes per machine, gloo backend", num_gpus_per_machine)
    if dist_url == "auto":
        dist_url = f"tcp://127.0.0.1:{_free_local_port()}"
    mp.start_processes(
        _worker,
        nprocs=num_gpus_per_machine,
        args=(
            main_func,
            world_size,
            num_gpus_per_machine,
            machine_rank,
            dist_url,
            args,
            timeout,
            startup_timeout,
            start_method == "fork",
        ),
        daemon=False,
        start_method=start_method,
    )


def create_ddp_model(model: nn.Module, **kwargs) -> nn.Module:
    """detectron2's ``create_ddp_model`` (``kwargs``: ``train.ddp``; ``model`` itself in a single
    process), also for a CPU model: it gets ``device_ids=None`` (DDP rejects ``[local rank]``)."""
    if comm.get_world_size() > 1 and all(p.device.type == "cpu" for p in model.parameters()):
        kwargs.setdefault("device_ids", None)
    return _detectron2_create_ddp_model(model, **kwargs)
