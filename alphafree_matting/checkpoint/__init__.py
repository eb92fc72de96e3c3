"""Checkpoints: conversion of pretrained weights, checked loading, atomic saving, resuming past
a damaged checkpoint, pruning that counts the files already there."""

from .checkpointer import (
    AtomicCheckpointer,
    DamagedCheckpointError,
    PruningPeriodicCheckpointer,
    atomic_write,
)
from .convert import (
    ARCHITECTURE_ADDED_PATTERNS,
    CheckpointLoadError,
    ConversionReport,
    convert_vit_classifier,
    extract_state_dict,
    read_checkpoint,
    widen_patch_embed,
)
from .loading import LoadReport, check_init_checkpoint, load_model_weights, load_pretrained

__all__ = [
    "ARCHITECTURE_ADDED_PATTERNS",
    "AtomicCheckpointer",
    "CheckpointLoadError",
    "ConversionReport",
    "DamagedCheckpointError",
    "LoadReport",
    "PruningPeriodicCheckpointer",
    "atomic_write",
    "check_init_checkpoint",
    "convert_vit_classifier",
    "extract_state_dict",
    "load_model_weights",
    "load_pretrained",
    "read_checkpoint",
    "widen_patch_embed",
]
