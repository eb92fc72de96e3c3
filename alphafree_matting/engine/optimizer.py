"""Optimizer parameter groups for ViT fine-tuning: layer-wise lr decay, weight-decay exemptions.

The groups of detectron2 main's ``get_default_optimizer_params(..., lr_factor_func=...)`` as the
authors' release uses it; detectron2 0.6 has no ``lr_factor_func``.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn

__all__ = ["NORM_TYPES", "vit_lr_decay_factor", "get_param_groups"]

NORM_TYPES = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,  # and detectron2's NaiveSyncBatchNorm, a subclass
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)
"""Modules ``weight_decay_norm`` applies to, as detectron2's list; the ViT's ChannelLayerNorm
is not one of them (base weight decay, as in the authors' released code)."""
_BLOCK_INDEX = re.compile(r"(?:^|\.)blocks\.(\d+)\.")


def vit_lr_decay_factor(
    name: str, *, num_layers: int = 12, lr_decay_rate: float = 0.65, prefix: str = "backbone."
) -> float:
    """Layer-wise lr factor of a parameter ``name``, e.g. ``backbone.blocks.3.mlp.fc1.weight``.

    ``lr_decay_rate`` is per block of ``num_layers`` (0.65 for ViT-S in the paper); names outside
    ``prefix`` (the decoder) get factor 1.
    """
    if not name.startswith(prefix):
        return 1.0
    layer_id = num_layers + 1
    if ".pos_embed" in name or ".patch_embed" in name:
        layer_id = 0
    elif ".residual." not in name:
        match = _BLOCK_INDEX.search(name)
        if match:
            layer_id = int(match.group(1)) + 1
    return lr_decay_rate ** (num_layers + 1 - layer_id)


def get_param_groups(
    model: nn.Module,
    *,
    base_lr: float,
    weight_decay: float,
    weight_decay_norm: float = 0.0,
    zero_weight_decay_names: Sequence[str] = ("pos_embed",),
    num_layers: Optional[int] = 12,
    lr_decay_rate: Optional[float] = 0.65,
    backbone_prefix: str = "backbone.",
) -> list[dict[str, Any]]:
    """``{"params", "lr", "weight_decay"}`` groups of the trainable parameters, one per distinct
    (lr, weight_decay); a shared parameter appears once.

    Args:
        weight_decay_norm: weight decay of the parameters of :data:`NORM_TYPES` modules.
        zero_weight_decay_names: parameter attribute names without weight decay.
        num_layers, lr_decay_rate: backbone layer-wise lr decay; ``lr_decay_rate=None`` disables it.
    """
    groups: dict[tuple, list[torch.nn.Parameter]] = defaultdict(list)
    seen = set()
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or param in seen:
                continue
            seen.add(param)
            full_name = f"{module_name}.{param_name}" if module_name else param_name
            decay = weight_decay
            if isinstance(module, NORM_TYPES):
                decay = weight_decay_norm
            if param_name in zero_weight_decay_names:
                decay = 0.0
            factor = 1.0
            if lr_decay_rate is not None:
                factor = vit_lr_decay_factor(
                    full_name,
                    num_layers=num_layers,
                    lr_decay_rate=lr_decay_rate,
                    prefix=backbone_prefix,
                )
            groups[(base_lr * factor, decay)].append(param)
    return [
        {"params": params, "lr": lr, "weight_decay": decay}
        for (lr, decay), params in sorted(groups.items(), key=lambda item: item[0])
    ]
