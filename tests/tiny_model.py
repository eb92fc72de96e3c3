"""Tiny untrained ViTMattes for the tests: built in code (:func:`build_tiny_vitmatte`), or the
demo config's, saved as a run would save it (config.yaml + ``{"model": state_dict}`` checkpoint)
for the predictor and tool tests (no training needed)."""

from pathlib import Path

import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.modeling import DetailCapture, ViT, ViTMatte

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "configs" / "demo_ddc.py"

TINY_BACKBONE = dict(
    img_size=64,
    embed_dim=32,
    depth=2,
    num_heads=2,
    window_size=4,
    window_block_indexes=[0],
    residual_block_indexes=[1],
)
TINY_DECODER = dict(convstream_out=[4, 8, 8], fusion_out=[8, 8, 8, 8])
OUTPUT_GAIN = 30.0


def build_tiny_vitmatte(
    *,
    trimap_input: bool = False,
    img_size: int = 64,
    embed_dim: int = 32,
    window_size: int = 2,
    fusion_out: tuple[int, ...] = (12, 10, 8, 6),
    use_rel_pos: bool = True,
    seed: int = 0,
    **model_options,
) -> ViTMatte:
    """A 2-block ViT (window + global attention, a residual block) and a narrow detail-capture
    decoder, seeded; ``model_options`` go to ``ViTMatte`` (criterion, inference_memory_mb, ...)."""
    torch.manual_seed(seed)
    in_chans = 4 if trimap_input else 3
    backbone = ViT(
        img_size=img_size,
        in_chans=in_chans,
        embed_dim=embed_dim,
        depth=2,
        num_heads=2,
        window_size=window_size,
        window_block_indexes=(0,),
        residual_block_indexes=(1,),
        use_rel_pos=use_rel_pos,
        pretrain_img_size=img_size,
    )
    decoder = DetailCapture(
        in_chans=embed_dim, img_chans=in_chans, convstream_out=(4, 6, 8), fusion_out=fusion_out
    )
    return ViTMatte(backbone=backbone, decoder=decoder, trimap_input=trimap_input, **model_options)


def tiny_config(trimap_input: bool = False):
    """``configs/demo_ddc.py`` with a tiny backbone and decoder (3- or 4-channel input)."""
    cfg = LazyConfig.load(str(DEMO_CONFIG))
    cfg.model.backbone.update(TINY_BACKBONE, in_chans=4 if trimap_input else 3)
    cfg.model.decoder.update(TINY_DECODER)
    cfg.model.trimap_input = trimap_input
    return cfg


def write_tiny_model(folder: Path, trimap_input: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """Save the tiny config as ``config.yaml`` and its random weights as ``model_final.pth``.

    Returns:
        (config path, checkpoint path).
    """
    folder.mkdir(parents=True, exist_ok=True)
    cfg = tiny_config(trimap_input)
    torch.manual_seed(seed)
    model = instantiate(cfg.model)
    # Random weights predict ~0.5 everywhere; a steeper last layer spreads the alpha over
    # [0, 1] so that comparisons of predictions are not trivially met.
    last_conv = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last_conv.weight.mul_(OUTPUT_GAIN)
    config_path, checkpoint_path = folder / "config.yaml", folder / "model_final.pth"
    LazyConfig.save(cfg, str(config_path))
    torch.save({"model": model.state_dict(), "iteration": 0}, checkpoint_path)
    return config_path, checkpoint_path
