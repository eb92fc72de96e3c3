"""Glue between the plugin and detectron2's training engine."""

from ..compat import create_local_process_group
from .config import TRAIN_KEYS, ConfigKeyError, apply_overrides, check_config
from .distributed import create_ddp_model, launch
from .hooks import FinalEvalHook
from .lock import OutputFolderLockedError, output_folder_lock
from .optimizer import get_param_groups, vit_lr_decay_factor
from .preemption import (
    EXIT_INTERRUPTED,
    StopOnSignal,
    TrainingInterrupted,
    forward_signals_to_children,
    stop_on_signals,
)
from .results import log_copypaste, record_results, trim_metrics
from .setup import FLOAT32_PRECISIONS, setup_run
from .trainer import CPUAutocastTrainer, build_trainer

__all__ = [
    "EXIT_INTERRUPTED",
    "FLOAT32_PRECISIONS",
    "FinalEvalHook",
    "StopOnSignal",
    "TrainingInterrupted",
    "forward_signals_to_children",
    "log_copypaste",
    "setup_run",
    "stop_on_signals",
    "trim_metrics",
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
