# ViTMatte-S for automatic matting (3-channel image input), trained from trimap labels with the
# known loss + DDC loss (lambda = 10, window 11), as in the paper.
from functools import partial

from detectron2.config import LazyCall as L
from torch import nn

from alphafree_matting.criterion import TrimapCriterion
from alphafree_matting.modeling import DetailCapture, ViT, ViTMatte

model = L(ViTMatte)(
    backbone=L(ViT)(
        img_size=512,
        patch_size=16,
        in_chans=3,
        embed_dim=384,
        depth=12,
        num_heads=6,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],  # blocks 2, 5, 8, 11 attend globally
        residual_block_indexes=[2, 5, 8, 11],
        use_rel_pos=True,
        out_feature="last_feat",
    ),
    decoder=L(DetailCapture)(
        in_chans="${..backbone.embed_dim}", img_chans="${..backbone.in_chans}"
    ),
    criterion=L(TrimapCriterion)(losses={"known": 1.0, "ddc": 10.0}, window=11),
    trimap_input=False,
)
