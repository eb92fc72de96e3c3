"""Checkpoints: conversion of pretrained weights (DINO / MAE, transformers ViTMatte), checked
loading, atomic saving, resuming past a damaged checkpoint. ``hf_export`` writes transformers
ViTMatte directories (import it explicitly: it needs the ``interop`` extra when called)."""

from .checkpointer import (
    AtomicCheckpointer,
    CheckpointSaveError,
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
from .hf import (
    HFConversionReport,
    convert_hf_vitmatte,
    find_hf_vitmatte,
    hf_vitmatte_overrides,
    is_hf_vitmatte_state_dict,
    override_strings,
    read_hf_vitmatte,
    to_hf_state_dict,
)
from .loading import LoadReport, check_init_checkpoint, load_model_weights, load_pretrained

__all__ = [
    "ARCHITECTURE_ADDED_PATTERNS",
    "AtomicCheckpointer",
    "CheckpointLoadError",
    "CheckpointSaveError",
    "ConversionReport",
    "DamagedCheckpointError",
    "HFConversionReport",
    "LoadReport",
    "PruningPeriodicCheckpointer",
    "atomic_write",
    "check_init_checkpoint",
    "convert_hf_vitmatte",
    "convert_vit_classifier",
    "extract_state_dict",
    "find_hf_vitmatte",
    "hf_vitmatte_overrides",
    "is_hf_vitmatte_state_dict",
    "override_strings",
    "load_model_weights",
    "load_pretrained",
    "read_checkpoint",
    "read_hf_vitmatte",
    "to_hf_state_dict",
    "widen_patch_embed",
]
