"""Multi-process training on machines without a GPU: detectron2's ``launch`` with a gloo path.

detectron2 0.6's ``launch`` asserts CUDA when it starts more than one process (it always uses
NCCL). :func:`launch` hands every CUDA run, and every single-process run, to detectron2's
``launch`` unchanged; only a multi-process run on a machine without CUDA takes the gloo path
here, which sets up the same state as detectron2's workers: the default process group, the
machine-local group of ``detectron2.utils.comm`` and a barrier. Everything detectron2 builds on
that state (``comm`` helpers, per-rank seeding in ``default_setup``, the rank-sharded
``TrainingSampler``, ``create_ddp_model``, evaluator gathering) then works as on GPUs.
"""

import logging
import os
import socket
from datetime import timedelta
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import create_ddp_model as _detectron2_create_ddp_model
from detectron2.engine import launch as _detectron2_launch
from detectron2.utils import comm
from torch import nn

__all__ = ["launch", "create_local_process_group", "create_ddp_model"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = timedelta(minutes=30)


def create_local_process_group(num_processes_per_machine: int) -> None:
    """Create the group of the ranks on this machine and register it with detectron2's ``comm``
    (``comm.get_local_rank()`` and ``comm.get_local_size()`` need it).

    detectron2 after 0.6 has ``comm.create_local_process_group``; 0.6 sets
    ``comm._LOCAL_PROCESS_GROUP`` inside its launch worker. Every process must call this
    together (it creates groups collectively), after ``init_process_group``.

    Args:
        num_processes_per_machine: processes on each machine (ranks are numbered machine by
            machine, as detectron2's ``launch`` numbers them).
    """
    if hasattr(comm, "create_local_process_group"):
        comm.create_local_process_group(num_processes_per_machine)
        return
    world_size, rank = dist.get_world_size(), dist.get_rank()
    if world_size % num_processes_per_machine:
        raise ValueError(
            f"world size {world_size} is not a multiple of {num_processes_per_machine} "
            "processes per machine"
        )
    if comm._LOCAL_PROCESS_GROUP is not None:
        raise RuntimeError("detectron2's local process group is already set in this process")
    machine_rank = rank // num_processes_per_machine
    for machine in range(world_size // num_processes_per_machine):
        first = machine * num_processes_per_machine
        group = dist.new_group(list(range(first, first + num_processes_per_machine)))
        if machine == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group


def _free_local_port() -> int:
    """A TCP port that is free now (another process may still take it before the workers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gloo_worker(
    local_rank: int,
    main_func: Callable,
    world_size: int,
    num_processes_per_machine: int,
    machine_rank: int,
    dist_url: str,
    args: tuple,
    timeout: timedelta,
    forked: bool,
) -> None:
    rank = machine_rank * num_processes_per_machine + local_rank
    if forked:
        # OpenMP thread pools do not survive fork: a forked process runs its ops single-threaded
        # (as detectron2's forked data-loader workers do).
        torch.set_num_threads(1)
    elif "OMP_NUM_THREADS" not in os.environ:
        # The processes share the machine's cores; oversubscribing them slows every one down.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // num_processes_per_machine))
    try:
        dist.init_process_group(
            backend="gloo", init_method=dist_url, world_size=world_size, rank=rank, timeout=timeout
        )
    except Exception:
        logger.error("Process group URL: %s", dist_url)
        raise
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
) -> None:
    """detectron2's ``launch``, also for several CPU processes (gloo) when CUDA is absent.

    Same arguments as ``detectron2.engine.launch``; without CUDA, ``num_gpus_per_machine`` is
    the number of CPU processes per machine (``--num-gpus`` of the training script). Each CPU
    process uses ``cores / processes`` threads unless ``OMP_NUM_THREADS`` is set.

    Args:
        main_func: called as ``main_func(*args)`` in every process.
        num_gpus_per_machine: processes per machine.
        num_machines, machine_rank: the machines of the job and this one's index.
        dist_url: rendezvous URL, e.g. ``tcp://127.0.0.1:50152``; ``"auto"`` picks a free local
            port (single machine only).
        args: arguments of ``main_func``.
        timeout: timeout of collective operations.
        start_method: how CPU processes start: ``"spawn"`` (as detectron2 starts GPU processes)
            or ``"fork"`` (POSIX; no new interpreter start-up, as the processes inherit the
            imported modules; each then runs single-threaded). GPU runs always spawn.
    """
    world_size = num_machines * num_gpus_per_machine
    if world_size == 1 or torch.cuda.is_available():
        _detectron2_launch(
            main_func,
            num_gpus_per_machine,
            num_machines=num_machines,
            machine_rank=machine_rank,
            dist_url=dist_url,
            args=args,
            timeout=timeout,
        )
        return
    if dist_url is None:
        raise ValueError("launch: several processes need a dist_url (e.g. 'auto')")
    if dist_url == "auto":
        if num_machines != 1:
            raise ValueError("launch: dist_url='auto' works on a single machine only")
        dist_url = f"tcp://127.0.0.1:{_free_local_port()}"
    logger.info("No CUDA: %d CPU processes per machine, gloo backend", num_gpus_per_machine)
    mp.start_processes(
        _gloo_worker,
        nprocs=num_gpus_per_machine,
        args=(
            main_func,
            world_size,
            num_gpus_per_machine,
            machine_rank,
            dist_url,
            args,
            timeout,
            start_method == "fork",
        ),
        daemon=False,
        start_method=start_method,
    )


def create_ddp_model(model: nn.Module, **kwargs) -> nn.Module:
    """detectron2's ``create_ddp_model``, also for a model on the CPU.

    detectron2 passes ``device_ids=[local rank]``, which DistributedDataParallel rejects for a
    CPU module; a CPU model gets ``device_ids=None``. Returns ``model`` itself in a
    single-process run.

    Args:
        model: the model, already on its device.
        kwargs: ``fp16_compression`` and DistributedDataParallel arguments (``train.ddp``).
    """
    if comm.get_world_size() > 1 and all(p.device.type == "cpu" for p in model.parameters()):
        kwargs.setdefault("device_ids", None)
    return _detectron2_create_ddp_model(model, **kwargs)
