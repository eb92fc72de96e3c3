"""Glue between the plugin and detectron2's training engine."""

from .config import apply_overrides
from .distributed import create_ddp_model, create_local_process_group, launch
from .optimizer import get_param_groups, vit_lr_decay_factor
from .results import record_results
from .trainer import CPUAutocastTrainer, build_trainer

__all__ = [
    "apply_overrides",
    "record_results",
    "create_ddp_model",
    "create_local_process_group",
    "launch",
    "get_param_groups",
    "vit_lr_decay_factor",
    "CPUAutocastTrainer",
    "build_trainer",
]
