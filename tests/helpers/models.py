"""The models of the tests, one per purpose:

* :func:`build_tiny_vitmatte`: a tiny ViTMatte built in code, seeded (unit tests of the model,
  the criterion, the engine);
* :func:`tiny_config` / :func:`write_tiny_model`: the demo config with :data:`TINY_BACKBONE`,
  saved as a run saves it (config.yaml + checkpoint), for the predictor, tool and config tests;
* :func:`vitmatte_s`: ViTMatte-S exactly as ``configs/common/model.py`` builds it, on the meta
  device by default (layout and conversion tests: names and shapes, no memory).
"""

from pathlib import Path

import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.modeling import DetailCapture, ViT, ViTMatte

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "demo_ddc.py"
MODEL_CONFIG = REPO / "configs" / "common" / "model.py"

TINY_BACKBONE = dict(
    img_size=64,
    embed_dim=32,
    depth=2,
    num_heads=2,
    window_size=2,  # smaller than the 4 x 4 token grid of a 64 px crop: real windows
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


def vitmatte_s(trimap_input: bool = False, device: str = "meta") -> ViTMatte:
    """ViTMatte-S of ``configs/common/model.py`` (``trimap_input``: the 4-channel input of the
    official ViTMatte checkpoints); on ``device`` ("meta": shapes only, no memory)."""
    cfg = LazyConfig.load(str(MODEL_CONFIG))
    cfg.model.backbone.in_chans = 4 if trimap_input else 3
    cfg.model.trimap_input = trimap_input
    with torch.device(device):
        return instantiate(cfg.model)


def vitmatte_of_size(
    embed_dim: int,
    depth: int,
    num_heads: int,
    trimap_input: bool = False,
    empty: bool = False,
    img_size: int = 64,
) -> ViTMatte:
    """ViTMatte with a ViT of the given width and depth in ViTMatte-S's layout (window 14, a
    residual block after every third block), for conversion tests of other sizes and of few
    blocks; ``empty``: uninitialised weights (fast)."""
    in_chans = 4 if trimap_input else 3
    window_blocks = tuple(i for i in range(depth) if i % 3 != 2)
    residual_blocks = tuple(i for i in range(depth) if i % 3 == 2)
    with torch.device("meta" if empty else "cpu"):
        backbone = ViT(
            img_size=img_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            window_size=14,
            window_block_indexes=window_blocks,
            residual_block_indexes=residual_blocks,
            use_rel_pos=True,
        )
        decoder = DetailCapture(in_chans=embed_dim, img_chans=in_chans)
        model = ViTMatte(backbone=backbone, decoder=decoder, trimap_input=trimap_input)
    return model.to_empty(device="cpu") if empty else model


def infer_alpha(model, item: dict, bounded: bool, progress=None) -> torch.Tensor:
    """(1, H, W) eval alpha of one model input, by the bounded-memory path or the plain one."""
    model.bounded_inference = bounded
    with torch.no_grad():
        return model.inference([item], progress=progress)[0]["alpha"]
