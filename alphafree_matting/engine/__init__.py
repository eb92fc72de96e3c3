"""Glue between the plugin and detectron2's training engine."""

from .config import TRAIN_KEYS, ConfigKeyError, apply_overrides, check_config
from .distributed import create_ddp_model, create_local_process_group, launch
from .lock import OutputFolderLockedError, output_folder_lock
from .optimizer import get_param_groups, vit_lr_decay_factor
from .results import record_results
from .trainer import CPUAutocastTrainer, build_trainer

__all__ = [
    "apply_overrides",
    "check_config",
    "ConfigKeyError",
    "TRAIN_KEYS",
    "output_folder_lock",
    "OutputFolderLockedError",
    "record_results",
    "create_ddp_model",
    "create_local_process_group",
    "launch",
    "get_param_groups",
    "vit_lr_decay_factor",
    "CPUAutocastTrainer",
    "build_trainer",
]
