"""ViTMatte (Yao et al., 2023): a plain ViT backbone and the detail-capture decoder.

The paper trains ViTMatte-S: :class:`~alphafree_matting.modeling.ViT` (embed 384, depth 12,
DINO-pretrained) + :class:`~alphafree_matting.modeling.DetailCapture`, assembled by
``configs/common/model.py``. The batching, normalisation, loss and inference logic is the
model-agnostic :class:`~alphafree_matting.modeling.meta_arch.MattingModel`.
"""

from .meta_arch import MattingModel

__all__ = ["ViTMatte"]


class ViTMatte(MattingModel):
    """:class:`MattingModel` with a ViT backbone (one feature map at stride 16) and the
    detail-capture decoder; same arguments. ``trimap_input=True`` gives the trimap-input
    (interactive) ViTMatte of the official checkpoints."""
