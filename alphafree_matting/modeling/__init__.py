"""ViTMatte: plain ViT backbone, detail-capture decoder and the matting meta-architecture."""
from .detail_capture import DetailCapture
from .vit import ViT
from .vitmatte import MattingBatch, ViTMatte

__all__ = ["ViTMatte", "ViT", "DetailCapture", "MattingBatch"]
