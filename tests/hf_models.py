"""Random transformers ViTMatte models built from configs (nothing is downloaded): a tiny one of
the size of ``tiny_model``'s, and the ViTMatte-S layout of the released hustvl checkpoints."""

import torch

from tests.tiny_model import TINY_BACKBONE, TINY_DECODER

VITMATTE_S_BACKBONE = dict(
    image_size=512,
    pretrain_image_size=224,
    patch_size=16,
    hidden_size=384,
    num_hidden_layers=12,
    num_attention_heads=6,
    use_absolute_position_embeddings=True,
    use_relative_position_embeddings=True,
    window_size=14,
    window_block_indices=[0, 1, 3, 4, 6, 7, 9, 10],
    residual_block_indices=[2, 5, 8, 11],
    out_features=["stage12"],
)
"""ViTMatte-S as transformers' conversion script configures hustvl/vitmatte-small-*."""

TINY_HF_BACKBONE = dict(
    image_size=TINY_BACKBONE["img_size"],
    pretrain_image_size=224,
    patch_size=16,
    hidden_size=TINY_BACKBONE["embed_dim"],
    num_hidden_layers=TINY_BACKBONE["depth"],
    num_attention_heads=TINY_BACKBONE["num_heads"],
    use_relative_position_embeddings=True,
    window_size=TINY_BACKBONE["window_size"],
    window_block_indices=TINY_BACKBONE["window_block_indexes"],
    residual_block_indices=TINY_BACKBONE["residual_block_indexes"],
    out_features=[f"stage{TINY_BACKBONE['depth']}"],
)


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
    """The tiny test ViTMatte (``tiny_model`` sizes) as a transformers model."""
    decoder = dict(
        convstream_hidden_sizes=TINY_DECODER["convstream_out"],
        fusion_hidden_sizes=TINY_DECODER["fusion_out"],
    )
    return hf_vitmatte(TINY_HF_BACKBONE, decoder, num_channels, seed)
