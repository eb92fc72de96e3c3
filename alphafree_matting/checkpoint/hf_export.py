"""Write a trimap-input :class:`ViTMatte` as a transformers ``VitMatteForImageMatting`` directory.

The directory (``config.json``, ``model.safetensors``, ``preprocessor_config.json``) loads with
``VitMatteForImageMatting.from_pretrained(dir)``; the image processor's settings are this model's
preprocessing (its normalisation constants, rescaling by 1/255, zero padding to its size
divisibility) instead of the processor's defaults (mean = std = 0.5). ``transformers`` is imported
only when :func:`save_hf_vitmatte` runs (the ``interop`` extra).
"""

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..modeling import DetailCapture, MattingModel, ViT
from .hf import to_hf_state_dict

__all__ = ["hf_vitmatte_config", "hf_processor_config", "save_hf_vitmatte"]

logger = logging.getLogger(__name__)

HEAD_MID_CHANNELS = 16  # transformers' VitMatteHead has a fixed 16-channel hidden layer
BATCH_NORM_EPS = 1e-5


def _check_exportable(model: nn.Module) -> None:
    if not isinstance(model, MattingModel):
        raise TypeError(f"expected a MattingModel (e.g. ViTMatte), got {type(model).__name__}")
    if not isinstance(model.backbone, ViT) or not isinstance(model.decoder, DetailCapture):
        raise ValueError(
            "transformers' ViTMatte is a ViT backbone + the detail-capture decoder; this model is "
            f"{type(model.backbone).__name__} + {type(model.decoder).__name__} (export it with "
            "tools/export_onnx.py instead)"
        )


def _unique(values: set, what: str):
    if len(values) != 1:
        raise ValueError(f"transformers' VitDet has one {what} for all blocks, this ViT {values}")
    return values.pop()


def hf_vitmatte_config(model: MattingModel) -> dict[str, Any]:
    """``VitMatteConfig`` arguments (``backbone_config`` a ``VitDetConfig`` dict) of a ViTMatte.

    Raises ValueError naming what transformers' ViTMatte cannot represent.
    """
    _check_exportable(model)
    vit, decoder = model.backbone, model.decoder
    blocks = list(vit.blocks)
    patch = vit.patch_embed.proj.kernel_size[0]
    embed_dim = vit.patch_embed.proj.out_channels
    first = blocks[0]
    if not isinstance(first.norm1, nn.LayerNorm) or not isinstance(first.mlp.act, nn.GELU):
        raise ValueError("transformers' VitDet needs nn.LayerNorm token norms and exact nn.GELU")
    if getattr(first.mlp.act, "approximate", "none") != "none":
        raise ValueError("transformers' VitDet uses exact GELU, not the tanh approximation")
    mlp_ratio = first.mlp.fc1.out_features / embed_dim
    window_blocks = [i for i, block in enumerate(blocks) if block.window_size > 0]
    global_blocks = [i for i, block in enumerate(blocks) if block.window_size == 0]
    img_size = 224
    if global_blocks and first.attn.use_rel_pos:  # the size global rel-pos tables were built for
        img_size = (blocks[global_blocks[0]].attn.rel_pos_h.shape[0] + 1) // 2 * patch
    pretrain_img_size = 224
    if vit.pos_embed is not None:
        grid = vit.pos_embed.shape[1] - int(vit.pretrain_use_cls_token)
        pretrain_img_size = round(grid**0.5) * patch
    backbone_config = {
        "model_type": "vitdet",
        "num_channels": vit.in_chans,
        "image_size": img_size,
        "pretrain_image_size": pretrain_img_size,
        "patch_size": patch,
        "hidden_size": embed_dim,
        "num_hidden_layers": len(blocks),
        "num_attention_heads": first.attn.num_heads,
        "mlp_ratio": int(mlp_ratio) if float(mlp_ratio).is_integer() else mlp_ratio,
        "qkv_bias": first.attn.qkv.bias is not None,
        "layer_norm_eps": first.norm1.eps,
        "hidden_act": "gelu",
        "use_absolute_position_embeddings": vit.pos_embed is not None,
        "use_relative_position_embeddings": bool(first.attn.use_rel_pos),
        "window_size": _unique({blocks[i].window_size for i in window_blocks}, "window size")
        if window_blocks
        else 0,
        "window_block_indices": window_blocks,
        "residual_block_indices": [i for i, b in enumerate(blocks) if b.residual is not None],
        "out_features": [f"stage{len(blocks)}"],
    }
    batch_norms = [m for m in decoder.modules() if isinstance(m, nn.BatchNorm2d)]
    if {m.eps for m in batch_norms} != {BATCH_NORM_EPS}:
        raise ValueError(f"transformers' ViTMatte decoder uses BatchNorm eps={BATCH_NORM_EPS}")
    if decoder.matting_head.matting_convs[0].out_channels != HEAD_MID_CHANNELS:
        raise ValueError(f"transformers' ViTMatte head has {HEAD_MID_CHANNELS} hidden channels")
    if decoder.in_chans != embed_dim:
        raise ValueError(f"decoder.in_chans={decoder.in_chans} differs from embed_dim={embed_dim}")
    return {
        "backbone_config": backbone_config,
        "hidden_size": embed_dim,
        "batch_norm_eps": BATCH_NORM_EPS,
        "convstream_hidden_sizes": [conv.conv.out_channels for conv in decoder.convstream.convs],
        "fusion_hidden_sizes": [block.conv.conv.out_channels for block in decoder.fusion_blks],
    }


def hf_processor_config(model: MattingModel) -> dict[str, Any]:
    """``VitMatteImageProcessor`` arguments that reproduce the model's own preprocessing."""
    return {
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [float(v) for v in model.pixel_mean.flatten()],
        "image_std": [float(v) for v in model.pixel_std.flatten()],
        "do_pad": True,
        "size_divisibility": int(model.size_divisibility),
    }


def _hf_state_dict(model: MattingModel) -> dict[str, torch.Tensor]:
    state_dict = {
        key: value.detach().cpu().clone()
        for key, value in model.state_dict().items()
        if key.startswith(("backbone.", "decoder."))  # not a criterion's buffers
    }
    if model.backbone.pos_embed is not None and not model.backbone.pretrain_use_cls_token:
        # transformers always skips a class-token slot: give it one (never read).
        pos_embed = state_dict["backbone.pos_embed"]
        state_dict["backbone.pos_embed"] = torch.cat([pos_embed[:, :1] * 0, pos_embed], dim=1)
    return to_hf_state_dict(state_dict)


def save_hf_vitmatte(model: MattingModel, directory: str) -> dict[str, list[str]]:
    """Write ``model`` as a ``VitMatteForImageMatting`` directory and check it loads back.

    Args:
        model: a trimap-input ViTMatte (ViT backbone + DetailCapture decoder).
        directory: output folder (created; existing files of the same names are replaced).

    Returns:
        transformers' loading info of the written directory (``missing_keys``,
        ``unexpected_keys``, ...), all empty for a faithful export.
    """
    try:
        from transformers import (
            VitDetConfig,
            VitMatteConfig,
            VitMatteForImageMatting,
            VitMatteImageProcessor,
        )
    except ImportError as error:
        raise ImportError(
            "exporting to transformers needs the interop extra: pip install -e '.[interop]'"
        ) from error
    config = hf_vitmatte_config(model)
    if not model.trimap_input:
        raise ValueError(
            "only trimap-input models (model.trimap_input=True) can be exported: transformers' "
            "VitMatteImageProcessor always appends the trimap channel (export automatic models "
            "with tools/export_onnx.py)"
        )
    backbone = dict(config.pop("backbone_config"))
    backbone.pop("model_type")
    hf_config = VitMatteConfig(backbone_config=VitDetConfig(**backbone), **config)
    hf_model = VitMatteForImageMatting(hf_config)
    hf_model.load_state_dict(_hf_state_dict(model), strict=True)
    Path(directory).mkdir(parents=True, exist_ok=True)
    hf_model.eval().save_pretrained(directory)
    VitMatteImageProcessor(**hf_processor_config(model)).save_pretrained(directory)
    _, info = VitMatteForImageMatting.from_pretrained(directory, output_loading_info=True)
    logger.info("Wrote the transformers ViTMatte %s (loading info: %s)", directory, info)
    return {key: list(value) for key, value in info.items()}
