"""Glue between the plugin and detectron2's training engine."""

from .checkpointer import AtomicCheckpointer, atomic_write
from .defaults import check_init_checkpoint, load_model_weights, record_results
from .distributed import create_ddp_model, create_local_process_group, launch
from .optimizer import get_param_groups, vit_lr_decay_factor
from .trainer import CPUAutocastTrainer, build_trainer

__all__ = [
    "AtomicCheckpointer",
    "atomic_write",
    "check_init_checkpoint",
    "load_model_weights",
    "record_results",
    "create_ddp_model",
    "create_local_process_group",
    "launch",
    "get_param_groups",
    "vit_lr_decay_factor",
    "CPUAutocastTrainer",
    "build_trainer",
]
