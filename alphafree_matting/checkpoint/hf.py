"""Hugging Face ``transformers`` ViTMatte checkpoints in and out of this project's ViTMatte.

``VitMatteForImageMatting`` holds the weights of the original ViTMatte release under other names
(transformers' ``convert_vitmatte_to_hf.py`` renames ``blocks`` -> ``encoder.layer``, ``attn`` ->
``attention``, ``fusion_blks`` -> ``fusion_blocks``, ``bn`` -> ``batch_norm``, and the patch and
position embeddings). :data:`KEY_RULES` states that mapping once; both directions use it. Reading
needs ``safetensors`` for ``.safetensors`` files, writing needs ``transformers``: both are imported
only here, when called (the ``interop`` extra), never by the training path.
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from .convert import CheckpointLoadError, PathLike, read_checkpoint

__all__ = [
    "KEY_RULES",
    "HFConversionReport",
    "convert_hf_vitmatte",
    "find_hf_vitmatte",
    "hf_vitmatte_overrides",
    "is_hf_vitmatte_state_dict",
    "override_strings",
    "read_hf_vitmatte",
    "to_hf_state_dict",
]

logger = logging.getLogger(__name__)

_WB = r"weight|bias"
_BN = r"weight|bias|running_mean|running_var|num_batches_tracked"
KEY_RULES = (
    # (transformers name, project name, what {p} stands for); {n} is a block / stage index.
    ("backbone.embeddings.position_embeddings", "backbone.pos_embed", None),
    ("backbone.embeddings.projection.{p}", "backbone.patch_embed.proj.{p}", _WB),
    (
        "backbone.encoder.layer.{n}.attention.{p}",
        "backbone.blocks.{n}.attn.{p}",
        r"(qkv|proj)\.(weight|bias)|rel_pos_[hw]",
    ),
    (
        "backbone.encoder.layer.{n}.{p}",
        "backbone.blocks.{n}.{p}",
        r"(norm[12]|mlp\.fc[12])\.(weight|bias)|residual\.(conv[123]\.weight|norm[123]\.(weight|bias))",
    ),
    ("decoder.convstream.convs.{n}.conv.weight", "decoder.convstream.convs.{n}.conv.weight", None),
    ("decoder.convstream.convs.{n}.batch_norm.{p}", "decoder.convstream.convs.{n}.bn.{p}", _BN),
    ("decoder.fusion_blocks.{n}.conv.conv.{p}", "decoder.fusion_blks.{n}.conv.conv.{p}", "weight"),
    ("decoder.fusion_blocks.{n}.conv.batch_norm.{p}", "decoder.fusion_blks.{n}.conv.bn.{p}", _BN),
    (
        "decoder.matting_head.matting_convs.{p}",
        "decoder.matting_head.matting_convs.{p}",
        rf"[03]\.({_WB})|1\.({_BN})",
    ),
)
"""Every tensor name of ``VitMatteForImageMatting`` and its name in :class:`ViTMatte`."""

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CONFIG_FILE = "config.json"


def _rule_regex(template: str, part: Optional[str]) -> "re.Pattern[str]":
    pattern = re.escape(template).replace(r"\{n\}", r"(?P<n>\d+)")
    return re.compile(pattern.replace(r"\{p\}", f"(?P<p>{part})") + "$")


_TO_PROJECT = [(_rule_regex(hf, part), project) for hf, project, part in KEY_RULES]
_TO_HF = [(_rule_regex(project, part), hf) for hf, project, part in KEY_RULES]


def _rename(state_dict: dict[str, torch.Tensor], rules) -> tuple[dict[str, torch.Tensor], list]:
    """Rename every key by the first matching rule; returns (renamed, keys no rule matched)."""
    renamed, unmatched = {}, []
    for key, value in state_dict.items():
        for regex, target in rules:
            match = regex.match(key)
            if match:
                renamed[target.format(**match.groupdict())] = value
                break
        else:
            unmatched.append(key)
    return renamed, sorted(unmatched)


def is_hf_vitmatte_state_dict(state_dict: dict[str, Any]) -> bool:
    """Whether a state dict uses transformers' ViTMatte names (rather than the original ones)."""
    prefixes = ("backbone.embeddings.", "backbone.encoder.layer.")
    return any(key.startswith(prefixes) for key in state_dict)


@dataclass
class HFConversionReport:
    """What :func:`read_hf_vitmatte` read: the weights file, its tensors and its config."""

    source: str
    converted: int
    in_chans: int
    overrides: dict[str, Any]  # LazyConfig values of the model (empty without config.json)

    def __str__(self) -> str:
        return (
            f"converted all {self.converted} tensors of the transformers ViTMatte {self.source} "
            f"({self.in_chans} input channels)"
        )


def convert_hf_vitmatte(
    state_dict: dict[str, torch.Tensor], *, source: str = "the checkpoint"
) -> dict[str, torch.Tensor]:
    """transformers ``VitMatteForImageMatting`` tensors -> :class:`ViTMatte` state dict.

    Args:
        state_dict: the model's tensors (``backbone.embeddings.*``, ``backbone.encoder.layer.N.*``,
            ``decoder.*``), as ``save_pretrained`` writes them.
        source: the file named in errors.

    Returns:
        the state dict with the project's (= the original ViTMatte release's) key names.
    """
    converted, unmatched = _rename(state_dict, _TO_PROJECT)
    if not converted:
        raise CheckpointLoadError(
            f"{source} is not a transformers ViTMatte checkpoint: none of its {len(state_dict)} "
            f"tensors has a VitMatteForImageMatting name (first keys: {sorted(state_dict)[:4]})"
        )
    if unmatched:
        raise CheckpointLoadError(
            f"{source} holds tensors a transformers ViTMatte does not have: "
            f"{', '.join(unmatched[:8])}{' ...' if len(unmatched) > 8 else ''}; it is another "
            "architecture (or a ViTMatte with another backbone), which this converter cannot map"
        )
    return converted


def to_hf_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """:class:`ViTMatte` state dict -> ``VitMatteForImageMatting`` tensor names (inverse of
    :func:`convert_hf_vitmatte`); a key outside ViTMatte's layout raises ValueError."""
    renamed, unmatched = _rename(state_dict, _TO_HF)
    if unmatched:
        raise ValueError(
            f"tensors outside ViTMatte's layout cannot be named for transformers: {unmatched[:8]}"
        )
    return renamed


# --- files -------------------------------------------------------------------------------------
def find_hf_vitmatte(path: PathLike) -> tuple[Path, Optional[Path]]:
    """(weights file, config.json or None) of a transformers ViTMatte directory or weights file.

    Args:
        path: a ``save_pretrained`` directory (``config.json`` + ``model.safetensors`` or
            ``pytorch_model.bin``), or one of those weight files (``config.json`` read from beside
            it when present).
    """
    path = Path(path)
    if path.is_dir():
        config = path / CONFIG_FILE
        if not config.is_file():
            raise CheckpointLoadError(
                f"{path} is not a transformers ViTMatte checkpoint: it has no {CONFIG_FILE} "
                f"(expected {CONFIG_FILE} + {' or '.join(WEIGHT_FILES)}, as save_pretrained "
                "writes them, e.g. a download of hustvl/vitmatte-small-composition-1k)"
            )
        for name in WEIGHT_FILES:
            if (path / name).is_file():
                return path / name, config
        sharded = sorted(p.name for p in path.glob("*.index.json"))
        hint = f" (sharded weights {sharded} are not supported)" if sharded else ""
        raise CheckpointLoadError(
            f"{path} has a {CONFIG_FILE} but no {' or '.join(WEIGHT_FILES)}{hint}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    config = path.parent / CONFIG_FILE
    return path, config if config.is_file() else None


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix != ".safetensors":
        return {k: v for k, v in read_checkpoint(path).items() if isinstance(v, torch.Tensor)}
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError as error:
        raise CheckpointLoadError(
            f"reading {path} needs the safetensors package: pip install -e '.[interop]'"
        ) from error
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise CheckpointLoadError(f"{path} is not a readable safetensors file ({error})") from None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointLoadError(f"{path} is not a readable JSON file ({error})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != "vitmatte":
        architectures = config.get("architectures") if isinstance(config, dict) else None
        raise CheckpointLoadError(
            f"{path} describes a {model_type!r} model ({architectures or 'no architectures'}); "
            "expected a transformers ViTMatte (model_type 'vitmatte', VitMatteForImageMatting)"
        )
    return config


def read_hf_vitmatte(path: PathLike) -> tuple[dict[str, torch.Tensor], HFConversionReport]:
    """Read a transformers ViTMatte (:func:`find_hf_vitmatte`) as a :class:`ViTMatte` state dict.

    Returns:
        the converted state dict and a report with the LazyConfig values of the model (from its
        ``config.json``; empty when there is none).
    """
    weights, config_file = find_hf_vitmatte(path)
    overrides = {}
    if config_file is not None:
        overrides = hf_vitmatte_overrides(_read_config(config_file), source=str(config_file))
    state_dict = convert_hf_vitmatte(_read_weights(weights), source=str(weights))
    patch_weight = state_dict.get("backbone.patch_embed.proj.weight")
    in_chans = int(patch_weight.shape[1]) if patch_weight is not None else -1
    if overrides and overrides["model.backbone.in_chans"] != in_chans:
        raise CheckpointLoadError(
            f"{weights} has a {in_chans}-channel patch embedding but {config_file} says "
            f"num_channels={overrides['model.backbone.in_chans']}; the directory is inconsistent"
        )
    report = HFConversionReport(str(weights), len(state_dict), in_chans, overrides)
    return state_dict, report


# --- configs -----------------------------------------------------------------------------------
def _square(value, name: str, source: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise CheckpointLoadError(f"{source}: non-square {name}={value} is not supported")
        value = value[0]
    return int(value)


def hf_vitmatte_overrides(config: dict[str, Any], *, source: str = "config.json") -> dict[str, Any]:
    """LazyConfig values of :class:`ViTMatte` (``model.*``) that rebuild a transformers ViTMatte.

    Args:
        config: a ``VitMatteConfig`` as a dict (its ``config.json``).
        source: the file named in errors.

    Returns:
        ``{"model.backbone.embed_dim": 384, ...}`` for every size the config sets.
    """
    backbone = config.get("backbone_config")
    if not isinstance(backbone, dict) or backbone.get("model_type", "vitdet") != "vitdet":
        kind = backbone.get("model_type") if isinstance(backbone, dict) else config.get("backbone")
        raise CheckpointLoadError(
            f"{source}: the ViTMatte backbone is {kind!r}; only the ViTDet backbone "
            "(backbone_config.model_type 'vitdet') maps onto this project's ViT"
        )
    depth = int(backbone.get("num_hidden_layers", 12))
    out = backbone.get("out_features") or [f"stage{i}" for i in backbone.get("out_indices") or []]
    problems = []
    if list(out) != [f"stage{depth}"]:
        problems.append(f"backbone out_features={out} (the decoder must read stage{depth})")
    if backbone.get("hidden_act", "gelu") != "gelu":
        problems.append(f"hidden_act={backbone['hidden_act']!r} (the ViT uses exact GELU)")
    if float(backbone.get("layer_norm_eps", 1e-6)) != 1e-6:
        problems.append(f"layer_norm_eps={backbone['layer_norm_eps']} (the configs use 1e-6)")
    if float(config.get("batch_norm_eps", 1e-5)) != 1e-5:
        problems.append(f"batch_norm_eps={config['batch_norm_eps']} (DetailCapture uses 1e-5)")
    hidden = int(backbone.get("hidden_size", 768))
    if int(config.get("hidden_size", hidden)) != hidden:
        problems.append(f"hidden_size={config['hidden_size']} differs from the backbone's {hidden}")
    channels = int(backbone.get("num_channels", 3))
    if channels not in (3, 4):
        problems.append(f"num_channels={channels} (3 = RGB, 4 = RGB + trimap)")
    if problems:
        raise CheckpointLoadError(
            f"{source} describes a ViTMatte this project cannot rebuild: {'; '.join(problems)}"
        )
    return {
        "model.trimap_input": channels == 4,
        "model.backbone.in_chans": channels,
        "model.backbone.img_size": _square(backbone.get("image_size", 224), "image_size", source),
        "model.backbone.patch_size": _square(backbone.get("patch_size", 16), "patch_size", source),
        "model.backbone.embed_dim": hidden,
        "model.backbone.depth": depth,
        "model.backbone.num_heads": int(backbone.get("num_attention_heads", 12)),
        "model.backbone.mlp_ratio": backbone.get("mlp_ratio", 4),
        "model.backbone.qkv_bias": bool(backbone.get("qkv_bias", True)),
        "model.backbone.use_abs_pos": bool(backbone.get("use_absolute_position_embeddings", True)),
        "model.backbone.use_rel_pos": bool(backbone.get("use_relative_position_embeddings", False)),
        "model.backbone.window_size": int(backbone.get("window_size", 0)),
        "model.backbone.window_block_indexes": list(backbone.get("window_block_indices", [])),
        "model.backbone.residual_block_indexes": list(backbone.get("residual_block_indices", [])),
        "model.backbone.pretrain_img_size": _square(
            backbone.get("pretrain_image_size", 224), "pretrain_image_size", source
        ),
        "model.backbone.pretrain_use_cls_token": True,  # transformers keeps the class-token slot
        "model.decoder.convstream_out": list(config.get("convstream_hidden_sizes", [48, 96, 192])),
        "model.decoder.fusion_out": list(config.get("fusion_hidden_sizes", [256, 128, 64, 32])),
    }


def override_strings(overrides: dict[str, Any]) -> list[str]:
    """``key=value`` strings of :func:`hf_vitmatte_overrides` for the command line and
    ``LazyConfig.apply_overrides`` (lists without spaces, so each is one shell word)."""

    def text(value) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(text(item) for item in value) + "]"
        return str(value)

    return [f"{key}={text(value)}" for key, value in overrides.items()]
