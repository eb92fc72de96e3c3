"""The model's input dicts (one per image, detectron2 style) and their validation.

``image`` float (3, H, W) RGB in [0, 1]; training dicts add ``trimap`` (1, H, W) in {0, 0.5, 1}
and/or ``alpha`` (1, H, W) in [0, 1], optionally ``valid`` bool (1, H, W), precomputed neighbours
and, for mixed supervision, ``label_kind``.
"""

from typing import Any

import torch

from ..conventions import LABEL_KIND_KEY, UNKNOWN_TARGET

__all__ = ["LABEL_TARGETS", "check_input"]

_TRIMAP_VALUES = (0.0, UNKNOWN_TARGET, 1.0)
LABEL_TARGETS = ("trimap", "alpha")
"""The label kinds of mixed supervision, each the key of its target."""


def _describe(index: int, item: dict[str, Any]) -> str:
    name = item.get("file_name", item.get("image_id"))
    return f"batched_inputs[{index}]" + (f" ({name})" if name is not None else "")


def _check_map(index: int, item: dict[str, Any], key: str, channels: int, hw: tuple[int, int]):
    value = item[key]
    if (
        not isinstance(value, torch.Tensor)
        or value.dim() != 3
        or value.shape[0] != channels
        or (tuple(value.shape[1:]) != hw)
    ):
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(
            f"{_describe(index, item)}['{key}'] must be a tensor of shape ({channels}, {hw[0]}, "
            f"{hw[1]}) matching 'image'; got {shape}"
        )
    return value


def check_input(
    index: int, item: dict[str, Any], *, need_trimap: bool, check_values: bool = True
) -> tuple[int, int]:
    """Validate one input dict and return its (H, W); raises ValueError naming the key.
    ``check_values`` also checks image range and trimap levels (evaluation; training trusts
    the mapper)."""
    if not isinstance(item, dict) or "image" not in item:
        raise ValueError(f"batched_inputs[{index}] must be a dict with an 'image' tensor (3, H, W)")
    image = item["image"]
    if (
        not isinstance(image, torch.Tensor)
        or image.dim() != 3
        or image.shape[0] != 3
        or (not image.is_floating_point() or image.numel() == 0)
    ):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        dtype = getattr(image, "dtype", None)
        raise ValueError(
            f"{_describe(index, item)}['image'] must be a float tensor (3, H, W), RGB in [0, 1]; "
            f"got {shape} of dtype {dtype}"
        )
    if check_values:
        low, high = torch.aminmax(image.detach())
        if low < 0 or high > 1:
            raise ValueError(
                f"{_describe(index, item)}['image'] has values in [{low:.3g}, {high:.3g}]; the "
                "model expects RGB in [0, 1] (divide 8-bit images by 255 in the mapper)"
            )
    hw = (image.shape[1], image.shape[2])
    if need_trimap and "trimap" not in item:
        raise ValueError(
            f"{_describe(index, item)} has no 'trimap', but this model takes the trimap as "
            "input (trimap_input=True): the test dataset needs trimap_file_name and the mapper "
            "must load it"
        )
    if "trimap" in item:
        trimap = _check_map(index, item, "trimap", 1, hw)
    if "trimap" in item and check_values:
        is_level = torch.zeros_like(trimap, dtype=torch.bool)
        for level in _TRIMAP_VALUES:
            is_level |= trimap == level
        if not bool(is_level.all()):
            raise ValueError(
                f"{_describe(index, item)}['trimap'] must hold only 0, 0.5 and 1; map stored PNG "
                "values with alphafree_matting.conventions.trimap_to_target"
            )
    if "alpha" in item:
        _check_map(index, item, "alpha", 1, hw)
    if "valid" in item and _check_map(index, item, "valid", 1, hw).dtype != torch.bool:
        raise ValueError(f"{_describe(index, item)}['valid'] must be a bool tensor (1, H, W)")
    kind = item.get(LABEL_KIND_KEY)
    if kind is not None and (kind not in LABEL_TARGETS or kind not in item):
        raise ValueError(
            f"{_describe(index, item)}['{LABEL_KIND_KEY}'] is {kind!r}: it must be 'trimap' or "
            "'alpha' and name a label the input carries"
        )
    return hw
