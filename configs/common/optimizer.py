# AdamW with ViT layer-wise lr decay (ViTMatte / the paper: lr 5e-4, weight decay 0.1, decay 0.65,
# no weight decay on normalisation layers and pos_embed).
import torch
from detectron2.config import LazyCall as L

from alphafree_matting.engine import get_param_groups

optimizer = L(torch.optim.AdamW)(
    params=L(get_param_groups)(
        # `model` is filled in by the training script.
        base_lr="${..lr}",
        weight_decay="${..weight_decay}",
        weight_decay_norm=0.0,
        zero_weight_decay_names=("pos_embed",),
        num_layers=12,  # keep equal to model.backbone.depth
        lr_decay_rate=0.65,
    ),
    lr=5e-4,
    betas=(0.9, 0.999),
    weight_decay=0.1,
)
