"""Conversion of ImageNet-pretrained ViTs (DINO, MAE, timm layout) to the matting backbone.

Drops the class token and the final norm/head, keeps ``pos_embed`` (interpolated at run time) and
zero-widens the patch embedding for extra input channels; detectron2's ``DetectionCheckpointer``
loads the resulting ``{"model": state_dict}`` too.
"""

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import torch

__all__ = [
    "ARCHITECTURE_ADDED_PATTERNS",
    "CheckpointLoadError",
    "ConversionReport",
    "convert_vit_classifier",
    "extract_state_dict",
    "read_checkpoint",
    "widen_patch_embed",
]

_VIT_KEY = re.compile(
    r"^(pos_embed|patch_embed\.proj\.(weight|bias)"
    r"|blocks\.\d+\.(norm1|attn\.qkv|attn\.proj|norm2|mlp\.fc1|mlp\.fc2)\.(weight|bias))$"
)
"""Keys of a timm-layout ViT that the matting backbone uses, under the same names."""

ARCHITECTURE_ADDED_PATTERNS = (r"\.attn\.rel_pos_[hw]$", r"\.residual\.")
"""Backbone weights (ViTDet/ViTMatte additions) that keep their initialisation from a classifier."""

_WRAPPER_KEYS = ("model", "state_dict", "teacher")
PATCH_EMBED_WEIGHT = "patch_embed.proj.weight"

PathLike = Union[str, Path]


class CheckpointLoadError(RuntimeError):
    """A checkpoint does not fit the model (missing or mis-shaped required weights)."""


def read_checkpoint(path: PathLike, *, allow_pickle: bool = False) -> dict[str, Any]:
    """Load a ``.pth`` checkpoint dict on the CPU, with ``torch.load(weights_only=True)`` unless
    ``allow_pickle`` (arbitrary pickled objects; only for files you trust)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as error:
        raise CheckpointLoadError(
            f"{path} holds pickled objects other than tensors; if you trust the file, load it "
            f"with allow_pickle=True (tools/convert_pretrained.py --allow-pickle). ({error})"
        ) from error
    if not isinstance(loaded, dict):
        raise CheckpointLoadError(f"{path} holds a {type(loaded).__name__}, not a state dict")
    return loaded


def extract_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The ViT state dict of a pretraining checkpoint, with timm key names.

    Unwraps ``{"model": ...}`` (MAE), ``{"state_dict": ...}`` and ``{"teacher": ...}`` (full DINO
    checkpoints) and keeps the ViT under a ``module.`` / ``backbone.`` prefix, stripped.
    """
    state_dict = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state_dict.get(key), dict):
            state_dict = state_dict[key]
            break
    for prefix in ("module.", "backbone."):
        if "pos_embed" not in state_dict and prefix + "pos_embed" in state_dict:
            # The prefixed ViT only (a full DINO checkpoint also holds its projection head).
            state_dict = {
                key[len(prefix) :]: value
                for key, value in state_dict.items()
                if key.startswith(prefix)
            }
    return {key: value for key, value in state_dict.items() if isinstance(value, torch.Tensor)}


def widen_patch_embed(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """(D, 3, p, p) patch-embedding weight -> (D, in_chans, p, p) with zero extra channels, so the
    model computes what the RGB model did until training uses the extra (trimap) channel."""
    if in_chans < weight.shape[1]:
        raise ValueError(
            f"cannot narrow a patch embedding of {weight.shape[1]} input channels to {in_chans}"
        )
    widened = weight.new_zeros((weight.shape[0], in_chans, *weight.shape[2:]))
    widened[:, : weight.shape[1]] = weight
    return widened


@dataclass
class ConversionReport:
    """What :func:`convert_vit_classifier` kept and dropped."""

    kept: list[str]
    dropped: list[str]
    in_chans: int
    pos_embed_shape: tuple[int, ...]

    def __str__(self) -> str:
        return (
            f"kept {len(self.kept)} tensors, dropped {len(self.dropped)} "
            f"({', '.join(self.dropped) or 'none'}); patch embedding for {self.in_chans} input "
            f"channels; pos_embed {tuple(self.pos_embed_shape)} kept for run-time interpolation"
        )


def convert_vit_classifier(
    state_dict: dict[str, torch.Tensor], *, in_chans: int = 3, prefix: str = "backbone."
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Convert a timm ``VisionTransformer`` state dict (DINO, MAE, timm) to the backbone's keys.

    Returns the state dict with keys ``prefix`` + key (the backbone's prefix) and a
    :class:`ConversionReport`; ``in_chans`` is the model's input channels (4 = RGB + trimap).
    """
    missing = [
        key
        for key in ("pos_embed", PATCH_EMBED_WEIGHT, "blocks.0.attn.qkv.weight")
        if key not in state_dict
    ]
    if missing:
        raise CheckpointLoadError(
            f"not a timm-layout ViT checkpoint: no {', '.join(missing)} among its "
            f"{len(state_dict)} tensors (first keys: {sorted(state_dict)[:5]}); already "
            "converted files start with 'backbone.' and need no conversion"
        )
    converted, kept, dropped = {}, [], []
    for key, value in state_dict.items():
        if not _VIT_KEY.match(key):
            dropped.append(key)
            continue
        if key == PATCH_EMBED_WEIGHT:
            value = widen_patch_embed(value, in_chans)
        converted[prefix + key] = value.detach().clone()
        kept.append(key)
    report = ConversionReport(
        kept=kept,
        dropped=sorted(dropped),
        in_chans=in_chans,
        pos_embed_shape=tuple(state_dict["pos_embed"].shape),
    )
    return converted, report
