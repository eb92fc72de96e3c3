"""Package-wide conventions: trimap PNG values and training targets, 8-bit alpha, ImageNet
normalisation and the ViT + decoder's size divisibility (32)."""

from typing import TypeVar

import numpy as np
import torch

# --- trimaps ---------------------------------------------------------------------------------
# Stored PNG values of known-background, unknown (transition) and known-foreground pixels.
TRIMAP_BACKGROUND = 0
TRIMAP_UNKNOWN = 128
TRIMAP_FOREGROUND = 255

TRIMAP_BACKGROUND_BELOW = 85
"""Stored values ``v < 85`` are background (the authors' rule, also used for noisy PNGs/JPEGs)."""
TRIMAP_FOREGROUND_FROM = 170
"""Stored values ``v >= 170`` are foreground; values in between are unknown."""

CERTAIN_EPS = 1e-5
"""Alphas within this distance of 1 (of 0) count as certain foreground (background)."""

UNKNOWN_TARGET = 0.5
"""Target value of unknown pixels; known pixels have target 0.0 or 1.0."""

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


def trimap_to_target(trimap: ArrayOrTensor) -> ArrayOrTensor:
    """Stored trimap values in [0, 255] (array or tensor, any shape) to float32 targets:
    0 where ``v < 85``, 1 where ``v >= 170``, 0.5 elsewhere."""
    if isinstance(trimap, torch.Tensor):
        target = torch.full(trimap.shape, UNKNOWN_TARGET, dtype=torch.float32, device=trimap.device)
    else:
        target = np.full(trimap.shape, UNKNOWN_TARGET, dtype=np.float32)
    target[trimap < TRIMAP_BACKGROUND_BELOW] = 0.0
    target[trimap >= TRIMAP_FOREGROUND_FROM] = 1.0
    return target


def target_to_trimap(target: np.ndarray) -> np.ndarray:
    """Inverse of :func:`trimap_to_target`: targets in {0, 0.5, 1} to uint8 {0, 128, 255}."""
    trimap = np.full(target.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[target == 0.0] = TRIMAP_BACKGROUND
    trimap[target == 1.0] = TRIMAP_FOREGROUND
    return trimap


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha of any shape to uint8 ``clip(round(alpha * 255), 0, 255)``."""
    scaled = np.round(np.asarray(alpha, dtype=np.float64) * 255.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def known_mask(target: torch.Tensor) -> torch.Tensor:
    """Boolean mask of known pixels of a target in {0, 0.5, 1} (any shape)."""
    return target != UNKNOWN_TARGET


def unknown_mask(target: torch.Tensor) -> torch.Tensor:
    """Boolean mask of unknown pixels of a target in {0, 0.5, 1} (any shape)."""
    return target == UNKNOWN_TARGET


# --- model input -----------------------------------------------------------------------------
LABEL_KIND_KEY = "label_kind"
"""Input-dict key of a mixed-supervision training sample's label: ``"trimap"`` or ``"alpha"``."""

# ImageNet RGB mean and standard deviation, for images scaled to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

SIZE_DIVISIBILITY = 32
"""ViT patches (16) and the decoder's three stride-2 stages + upsampling need H, W % 32 == 0."""


def padded_size(height: int, width: int, divisibility: int = SIZE_DIVISIBILITY) -> tuple[int, int]:
    """Smallest (H, W) >= (height, width) that are multiples of ``divisibility``."""
    return (-(-height // divisibility) * divisibility, -(-width // divisibility) * divisibility)
