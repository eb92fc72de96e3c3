"""A tiny untrained ViTMatte of the demo config, saved as a run would save it (config.yaml +
``{"model": state_dict}`` checkpoint), for the predictor and tool tests (no training needed)."""

from pathlib import Path

import torch
from detectron2.config import LazyConfig, instantiate

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
