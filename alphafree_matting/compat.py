"""Every place the plugin depends on a detectron2 (or fvcore) version, in one module.

The plugin runs on detectron2 0.6 (the registry's Python sources, what ``make`` installs) and on
upstream main (what GPU users build). The shims below each say which version needs them and
what replaces them; ``tests/test_compat.py`` pins the behaviour each relies on, so a detectron2
release that changes it fails a test, not a run.

What else exists only because detectron2 0.6 is supported, and what replaces it once it is not:

======================================  ===================================================
here                                    on upstream main
======================================  ===================================================
``modeling/vit.py`` (ViT, same keys)    ``detectron2.modeling.backbone.vit.ViT``
``engine/optimizer.py`` layer decay     ``get_vit_lr_decay_rate`` + ``lr_factor_func``
``vit.ChannelLayerNorm``                ``detectron2.layers.get_norm("LN")``
``engine/distributed.py`` gloo launch   ``detectron2.engine.launch`` (0.6 asserts CUDA)
``engine/trainer.CPUAutocastTrainer``   none: ``AMPTrainer`` asserts CUDA on both
``engine/setup.setup_run``              ``default_setup`` (colour codes in ``log.txt`` on
                                        both; ``float32_precision`` only on main)
``Pillow<10``, ``setuptools<81`` pins   none (``tools/install_detectron2.py``, 0.6 only)
======================================  ===================================================

Import this module before detectron2 in tools: it also silences a warning that detectron2's
imports raise on current torch (see :func:`silence_import_warnings`).
"""

import logging
import warnings
from typing import Any

import torch.distributed as dist
from detectron2.utils import comm

__all__ = [
    "call_after_backward",
    "create_local_process_group",
    "read_checkpoint_file",
    "silence_import_warnings",
]

_JIT_SCRIPT_DEPRECATION = r"`torch\.jit\.script` is deprecated"


def silence_import_warnings() -> None:
    """Hide the FutureWarning that current torch (2.14) gives for ``torch.jit.script``, which
    fvcore 0.1.5 (pinned by detectron2 0.6 and main) calls when ``fvcore.nn`` is imported.
    Nothing in the plugin scripts a function. Goes when fvcore stops scripting at import.

    Also quiets torch's "No CUDA runtime is found" warning, which detectron2's environment
    report (``collect_env_info``, logged at the start of every run) raises on machines without
    CUDA by importing ``torch.utils.cpp_extension``; nothing here builds an extension."""
    warnings.filterwarnings("ignore", message=_JIT_SCRIPT_DEPRECATION, category=FutureWarning)
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


silence_import_warnings()


def read_checkpoint_file(checkpointer: Any, path: str) -> dict:
    """Read a ``.pth`` checkpoint written by a ``DetectionCheckpointer``, outside ``load()``.

    Upstream detectron2 after 0.6 asserts that ``DetectionCheckpointer._load_file`` is called
    inside ``load()`` (it reads URL query options set there); 0.6 has no such check. For a local
    ``.pth`` file both versions end in fvcore's ``Checkpointer._load_file`` (``torch.load`` to
    the CPU) and add a ``"model"`` key when the file has none: that is done here. Replace with a
    public read once detectron2 offers one.
    """
    from fvcore.common.checkpoint import Checkpointer

    data = Checkpointer._load_file(checkpointer, path)
    return data if "model" in data else {"model": data}


def call_after_backward(trainer: Any) -> None:
    """Run the hooks' ``after_backward`` callback of a trainer whose ``run_step`` is the
    plugin's: upstream's ``TrainerBase`` has it (hooks may clip or log gradients there), 0.6's
    has none. Becomes ``trainer.after_backward()``."""
    after_backward = getattr(trainer, "after_backward", None)
    if after_backward is not None:
        after_backward()


def create_local_process_group(num_processes_per_machine: int) -> None:
    """Create this machine's group of ranks (numbered machine by machine) for detectron2's
    ``comm.get_local_rank()`` / ``get_local_size()``. Collective: every process calls it after
    ``init_process_group``.

    Upstream has ``comm.create_local_process_group``; 0.6 has no setter, so the group goes into
    its private ``comm._LOCAL_PROCESS_GROUP`` (the one private name of detectron2 the plugin
    writes). Becomes ``comm.create_local_process_group``.
    """
    if hasattr(comm, "create_local_process_group"):
        comm.create_local_process_group(num_processes_per_machine)
        return
    if not hasattr(comm, "_LOCAL_PROCESS_GROUP"):
        raise RuntimeError(
            "this detectron2 has neither comm.create_local_process_group nor "
            "comm._LOCAL_PROCESS_GROUP: alphafree_matting.compat needs updating"
        )
    if comm._LOCAL_PROCESS_GROUP is not None:
        raise RuntimeError("detectron2's local process group is already set in this process")
    world_size, rank = dist.get_world_size(), dist.get_rank()
    if world_size % num_processes_per_machine:
        raise ValueError(
            f"world size {world_size} is not a multiple of {num_processes_per_machine} "
            "processes per machine"
        )
    machine_rank = rank // num_processes_per_machine
    for machine in range(world_size // num_processes_per_machine):
        first = machine * num_processes_per_machine
        group = dist.new_group(list(range(first, first + num_processes_per_machine)))
        if machine == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
