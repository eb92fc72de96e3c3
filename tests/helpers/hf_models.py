"""Random transformers ViTMatte models built from configs (nothing is downloaded), of the sizes
of the plugin's own: the tiny test model's, and ViTMatte-S (``configs/common/model.py``), the
layout of the released hustvl checkpoints."""

import torch
from detectron2.config import LazyConfig

from tests.helpers.models import MODEL_CONFIG, TINY_BACKBONE, TINY_DECODER


def hf_backbone(backbone: dict, **extra) -> dict:
    """transformers' ``VitDetConfig`` arguments of a plugin ViT config (its argument names)."""
    return dict(
        image_size=backbone["img_size"],
        pretrain_image_size=224,
        patch_size=16,
        hidden_size=backbone["embed_dim"],
        num_hidden_layers=backbone["depth"],
        num_attention_heads=backbone["num_heads"],
        use_relative_position_embeddings=True,
        window_size=backbone["window_size"],
        window_block_indices=list(backbone["window_block_indexes"]),
        residual_block_indices=list(backbone["residual_block_indexes"]),
        out_features=[f"stage{backbone['depth']}"],
        **extra,
    )


VITMATTE_S_BACKBONE = hf_backbone(
    LazyConfig.load(str(MODEL_CONFIG)).model.backbone, use_absolute_position_embeddings=True
)
"""ViTMatte-S, as transformers' conversion script configures hustvl/vitmatte-small-*."""

TINY_HF_BACKBONE = hf_backbone(TINY_BACKBONE)


def hf_vitmatte(backbone: dict, decoder: dict, num_channels: int = 4, seed: int = 0):
    """A ``VitMatteForImageMatting`` in eval mode, every tensor random (relative positions,
    residual norms and BN statistics too), He-scaled so that its alpha is spread over (0, 1)."""
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting

    config = VitMatteConfig(
        backbone_config=VitDetConfig(num_channels=num_channels, **backbone),
        hidden_size=backbone["hidden_size"],
        **decoder,
    )
    model = VitMatteForImageMatting(config).eval()
    generator = torch.Generator().manual_seed(seed)
    state_dict = {}
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            state_dict[key] = value
            continue
        noise = torch.randn(value.shape, generator=generator)
        if key.endswith("running_var"):
            state_dict[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith("weight") and value.dim() >= 2:  # conv / linear: He-scaled
            state_dict[key] = noise * (2 / value[0].numel()) ** 0.5
        elif key.endswith("weight"):  # LayerNorm / BatchNorm scales
            state_dict[key] = 1 + 0.1 * noise
        else:  # biases, position tables, BN means
            state_dict[key] = 0.1 * noise
    model.load_state_dict(state_dict)
    return model


def tiny_hf_vitmatte(num_channels: int = 4, seed: int = 0):
    """The tiny test ViTMatte (:data:`~tests.helpers.models.TINY_BACKBONE`) as a transformers
    model."""
    decoder = dict(
        convstream_hidden_sizes=TINY_DECODER["convstream_out"],
        fusion_hidden_sizes=TINY_DECODER["fusion_out"],
    )
    return hf_vitmatte(TINY_HF_BACKBONE, decoder, num_channels, seed)
