"""Checked weight loading: a clear report of missing / unexpected / mis-shaped keys, and a failure
when a required weight is missing (detectron2's checkpointer only warns)."""

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .convert import (
    ARCHITECTURE_ADDED_PATTERNS,
    PATCH_EMBED_WEIGHT,
    CheckpointLoadError,
    PathLike,
    read_checkpoint,
)

__all__ = ["LoadReport", "check_init_checkpoint", "load_model_weights", "load_pretrained"]

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """Outcome of :func:`load_pretrained`."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    incorrect_shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=list
    )
    iteration: Optional[int] = None  # the training iteration stored in the file, if any

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        if self.missing:
            lines.append(f"missing in the checkpoint (kept at init): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"unused from the checkpoint: {', '.join(self.unexpected)}")
        for key, in_file, in_model in self.incorrect_shapes:
            lines.append(f"shape mismatch {key}: checkpoint {in_file} vs model {in_model}")
        return "\n".join(lines)


def _shape_hint(key: str) -> str:
    if key.endswith(PATCH_EMBED_WEIGHT):
        return "convert the weights for the model's input channels (convert_pretrained --in-chans)"
    if "rel_pos" in key:
        return "the checkpoint was trained with another backbone img_size / window_size"
    if key.endswith("pos_embed"):
        return "check backbone.pretrain_img_size and pretrain_use_cls_token against the checkpoint"
    return "the checkpoint is for another model size (embed_dim, depth, decoder channels)"


def load_pretrained(
    model: nn.Module,
    path: PathLike,
    *,
    require_prefixes: Sequence[str] = ("backbone.",),
    allow_missing: Sequence[str] = ARCHITECTURE_ADDED_PATTERNS,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load a checkpoint into ``model``, failing if a required weight is missing or mis-shaped.

    Nothing is loaded when the check fails.

    Args:
        model: the model (e.g. a :class:`ViTMatte`).
        path: ``{"model": state_dict}`` (converted weights, detectron2 checkpoints, official
            ViTMatte models) or a bare state dict.
        require_prefixes: model keys under these prefixes must all be in the checkpoint
            (e.g. ``("backbone.", "decoder.")`` for a complete official ViTMatte model).
        allow_missing: regular expressions of required keys that may still be missing
            (default: the backbone weights a classification-pretrained ViT does not have).
        allow_pickle: see :func:`read_checkpoint`.

    Returns:
        a :class:`LoadReport` (also logged).
    """
    checkpoint = read_checkpoint(path, allow_pickle=allow_pickle)
    state_dict = checkpoint["model"] if isinstance(checkpoint.get("model"), dict) else checkpoint
    state_dict = {
        (key[len("module.") :] if key.startswith("module.") else key): value
        for key, value in state_dict.items()
        if isinstance(value, torch.Tensor)
    }
    model_state = model.state_dict()
    report = LoadReport(
        missing=sorted(set(model_state) - set(state_dict)),
        unexpected=sorted(set(state_dict) - set(model_state)),
        iteration=checkpoint.get("iteration"),
    )
    for key in sorted(set(state_dict) & set(model_state)):
        if tuple(state_dict[key].shape) != tuple(model_state[key].shape):
            report.incorrect_shapes.append(
                (key, tuple(state_dict[key].shape), tuple(model_state[key].shape))
            )
        else:
            report.loaded.append(key)

    def required(key: str) -> bool:
        return key.startswith(tuple(require_prefixes))

    missing_required = [
        key
        for key in report.missing
        if required(key) and not any(re.search(pattern, key) for pattern in allow_missing)
    ]
    shapes_required = [entry for entry in report.incorrect_shapes if required(entry[0])]
    if missing_required or shapes_required:
        problems = []
        if missing_required:
            hint = ""
            if not any(required(key) for key in state_dict):
                hint = (
                    f" (no key of the checkpoint starts with {tuple(require_prefixes)}: "
                    "convert raw DINO/MAE weights with tools/convert_pretrained.py first)"
                )
            problems.append(f"missing required weights{hint}: {', '.join(missing_required)}")
        for key, in_file, in_model in shapes_required:
            problems.append(f"{key}: checkpoint {in_file} vs model {in_model}; {_shape_hint(key)}")
        raise CheckpointLoadError(f"cannot load {path}:\n  " + "\n  ".join(problems))

    model.load_state_dict({key: state_dict[key] for key in report.loaded}, strict=False)
    logger.info("Loaded %s:\n%s", path, report)
    return report


_CONVERT_HINT = (
    "Convert the pretrained backbone with tools/convert_pretrained.py (see README, "
    "'Pretrained weights'), or start from random weights with train.init_checkpoint=''."
)


def check_init_checkpoint(path: str) -> None:
    """Raise a clear error if ``train.init_checkpoint`` names a local file that does not exist.

    URLs and detectron2 path-manager prefixes (``detectron2://``, ``https://``) are left to the
    checkpointer; nothing is ever downloaded by this project itself.
    """
    if not path or "://" in path:
        return
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train.init_checkpoint={path} does not exist. {_CONVERT_HINT}")


def load_model_weights(model: nn.Module, path: str, *, complete: bool) -> LoadReport:
    """Load ``train.init_checkpoint`` into ``model`` with a clear report, failing on gaps.

    detectron2's checkpointer only warns about missing or mis-shaped weights; a run that starts
    from a half-loaded backbone wastes a GPU-day. Here:

    * ``complete=False`` (start of training): every backbone weight the pretrained ViT can have
      must load (see :func:`alphafree_matting.checkpoint.load_pretrained`); the decoder starts
      from its initialisation.
    * ``complete=True`` (``--eval-only``): every weight of the model must load.

    Args:
        model: the model, possibly wrapped in DistributedDataParallel.
        path: checkpoint path; empty means random initialisation (logged as a warning).
        complete: require the whole model (evaluation) or only the backbone (fine-tuning).
    """
    if isinstance(model, DistributedDataParallel):
        model = model.module
    if not path:
        logger.warning("train.init_checkpoint is empty: the model keeps its random initialisation")
        return LoadReport()
    if complete:
        return load_pretrained(model, path, require_prefixes=("",), allow_missing=())
    return load_pretrained(model, path)
