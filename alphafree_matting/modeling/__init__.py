"""Matting models: the model-agnostic meta-architecture, ViTMatte's ViT backbone and decoder."""

from .detail_capture import DetailCapture
from .meta_arch import MattingBatch, MattingModel, check_input, pad_and_stack
from .vit import ViT
from .vitmatte import ViTMatte

__all__ = [
    "MattingModel",
    "ViTMatte",
    "ViT",
    "DetailCapture",
    "MattingBatch",
    "check_input",
    "pad_and_stack",
]
