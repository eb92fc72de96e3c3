"""ImageNet weights of torchvision's ResNets for detectron2's ``ResNet`` backbone.

torchvision's ResNets take RGB in [0, 1] normalised with the ImageNet mean/std, exactly the
input ``ResNetMatte`` builds, so their weights need only new names::

    conv1 / bn1                      -> stem.conv1 / stem.conv1.norm
    layerN.B.convK / bnK             -> res(N+1).B.convK / res(N+1).B.convK.norm
    layerN.B.downsample.0 / .1       -> res(N+1).B.shortcut / res(N+1).B.shortcut.norm
    fc.*                             -> dropped (classifier)

torchvision's bottleneck blocks (ResNet-50 and deeper) stride in the 3x3 conv: build those
detectron2 stages with ``stride_in_1x1=False``.
"""

import re

import torch

__all__ = ["convert_torchvision_resnet"]

_STAGE_KEY = re.compile(r"^layer([1-4])\.(\d+)\.(.+)$")
_BLOCK_NORM = re.compile(r"^bn(\d)\.")


def _detectron2_name(key: str):
    """The detectron2 ``ResNet`` name of a torchvision key, or None for dropped keys."""
    if key == "conv1.weight":
        return "stem.conv1.weight"
    if key.startswith("bn1."):
        return "stem.conv1.norm." + key[len("bn1.") :]
    match = _STAGE_KEY.match(key)
    if match is None:
        return None
    layer, block, rest = match.groups()
    rest = _BLOCK_NORM.sub(r"conv\1.norm.", rest)
    rest = rest.replace("downsample.0.", "shortcut.").replace("downsample.1.", "shortcut.norm.")
    return f"res{int(layer) + 1}.{block}.{rest}"


def convert_torchvision_resnet(
    state_dict: dict[str, torch.Tensor], *, prefix: str = "backbone."
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a torchvision ResNet state dict to detectron2 ``ResNet`` keys.

    Args:
        state_dict: e.g. ``torchvision.models.resnet34(weights=...).state_dict()`` or the
            downloaded ``resnet34-b627a593.pth``.
        prefix: module prefix of the ResNet in the target model.

    Returns:
        the converted state dict (``prefix`` + detectron2 name) and the dropped keys.
    """
    if "conv1.weight" not in state_dict or not any(key.startswith("layer1.") for key in state_dict):
        raise ValueError(
            "not a torchvision ResNet state dict: it needs 'conv1.weight' and 'layer1.*' keys "
            f"(first keys: {sorted(state_dict)[:5]})"
        )
    converted, dropped = {}, []
    for key, value in state_dict.items():
        name = _detectron2_name(key)
        if name is None:
            dropped.append(key)
        else:
            converted[prefix + name] = value
    return converted, sorted(dropped)
