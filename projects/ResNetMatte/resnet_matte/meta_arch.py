"""ResNetMatte: a detectron2 CNN backbone + U-Net decoder as a matting meta-architecture.

It keeps ViTMatte's contract, so the plugin's data path, criterion, evaluator and training
script drive it unchanged:

* input: one dict per image, ``image`` float (3, H, W) RGB in [0, 1]; training dicts add
  ``trimap`` (1, H, W) in {0, 0.5, 1} and/or ``alpha`` (1, H, W), optionally ``valid`` bool
  (1, H, W);
* train: ``criterion(alpha_pred, image, targets)``, a dict of scalar losses, with the image
  un-normalised and, on the padding added for batching, ``image`` 0, ``trimap`` 0.5 and
  ``valid`` False;
* eval: ``[{"alpha": (1, H, W) in [0, 1]}]``, one per input, at the input's size.

Batching is detectron2's: normalise, then :meth:`ImageList.from_tensors` pads every map to a
common size that is a multiple of ``size_divisibility``.
"""
from collections.abc import Sequence
from typing import Any, Optional

import torch
from detectron2.modeling import Backbone
from detectron2.structures import ImageList
from torch import nn

from alphafree_matting.conventions import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SIZE_DIVISIBILITY,
    UNKNOWN_TARGET,
)

__all__ = ["ResNetMatte"]

# Pad value of every map the model batches (the image itself pads with 0).
TARGET_PAD_VALUES = {"trimap": UNKNOWN_TARGET, "alpha": 0.0, "valid": 0.0}


def _describe(index: int, item: Any) -> str:
    name = item.get("file_name", item.get("image_id")) if isinstance(item, dict) else None
    return f"batched_inputs[{index}]" + (f" ({name})" if name is not None else "")


def check_inputs(batched_inputs: Sequence[dict[str, Any]]) -> None:
    """Raise a ValueError naming the input and key when a model input breaks the contract."""
    if not isinstance(batched_inputs, (list, tuple)) or not batched_inputs:
        raise ValueError("ResNetMatte expects a non-empty list of dicts (one per image)")
    for index, item in enumerate(batched_inputs):
        image = item.get("image") if isinstance(item, dict) else None
        if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3 or (
            not image.is_floating_point()
        ):
            raise ValueError(
                f"{_describe(index, item)} needs 'image', a float tensor (3, H, W) RGB in [0, 1]; "
                f"got {getattr(image, 'shape', type(image).__name__)}"
            )
        low, high = torch.aminmax(image.detach())
        if low < 0 or high > 1:
            raise ValueError(
                f"{_describe(index, item)}['image'] has values in [{low:.3g}, {high:.3g}]; "
                "expected RGB in [0, 1] (the mapper divides 8-bit images by 255)"
            )
        for key in TARGET_PAD_VALUES:
            value = item.get(key)
            if value is not None and tuple(value.shape) != (1, *image.shape[1:]):
                raise ValueError(
                    f"{_describe(index, item)}['{key}'] has shape {tuple(value.shape)}; expected "
                    f"(1, {image.shape[1]}, {image.shape[2]}) to match 'image'"
                )
    for key in TARGET_PAD_VALUES:
        count = sum(key in item for item in batched_inputs)
        if 0 < count < len(batched_inputs):
            raise ValueError(
                f"'{key}' is present in {count} of {len(batched_inputs)} inputs of the batch; "
                "every input of a batch must carry the same keys"
            )


class ResNetMatte(nn.Module):
    """Matting meta-architecture over a multi-scale detectron2 backbone (e.g. ``ResNet``).

    Args:
        backbone: a detectron2 ``Backbone`` returning the features the decoder names.
        decoder: ``decoder(features: dict, inputs: (B, 3, H, W)) -> alpha (B, 1, H, W)`` in
            [0, 1]; if it declares ``in_features``/``in_channels``/``finest_stride`` (as
            :class:`UNetDecoder` does) they are checked against ``backbone.output_shape()``.
        criterion: ``criterion(alpha, image, targets)`` -> dict of losses; needed for training.
        pixel_mean, pixel_std: RGB normalisation of images in [0, 1].
        size_divisibility: inputs are padded to a multiple of this (a multiple of the coarsest
            feature stride).
    """

    def __init__(
        self,
        *,
        backbone: Backbone,
        decoder: nn.Module,
        criterion: Optional[nn.Module] = None,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        size_divisibility: int = SIZE_DIVISIBILITY,
    ):
        super().__init__()
        coarsest_stride = check_decoder_fits_backbone(backbone, decoder)
        if size_divisibility % coarsest_stride:
            raise ValueError(
                f"ResNetMatte: size_divisibility={size_divisibility} must be a multiple of the "
                f"coarsest decoded feature stride {coarsest_stride}"
            )
        self.backbone = backbone
        self.decoder = decoder
        self.criterion = criterion
        self.size_divisibility = size_divisibility
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess(self, batched_inputs: Sequence[dict[str, Any]]) -> tuple[ImageList, ImageList]:
        """The batch as (un-normalised images, normalised network input), both (B, 3, Hp, Wp)
        zero-padded ``ImageList`` s with the per-image sizes."""
        images = [item["image"].to(self.device) for item in batched_inputs]
        normalised = [(image - self.pixel_mean) / self.pixel_std for image in images]
        return (
            ImageList.from_tensors(images, self.size_divisibility),
            ImageList.from_tensors(normalised, self.size_divisibility),
        )

    def stack_targets(self, batched_inputs: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """``trimap`` / ``alpha`` (B, 1, Hp, Wp) as present, and ``valid`` (B, 1, Hp, Wp) bool,
        False on the padding (the mapper's and the batching's)."""
        def stacked(maps: list[torch.Tensor], pad_value: float) -> torch.Tensor:
            maps = [value.to(self.device).float() for value in maps]
            return ImageList.from_tensors(maps, self.size_divisibility, pad_value).tensor

        targets = {
            key: stacked([item[key] for item in batched_inputs], TARGET_PAD_VALUES[key])
            for key in ("trimap", "alpha")
            if key in batched_inputs[0]
        }
        valid = [
            item.get("valid", torch.ones((1, *item["image"].shape[1:]), dtype=torch.bool))
            for item in batched_inputs
        ]
        targets["valid"] = stacked(valid, TARGET_PAD_VALUES["valid"]) > 0.5
        return targets

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, 3, Hp, Wp) normalised padded input -> alpha (B, 1, Hp, Wp) in [0, 1]."""
        return self.decoder(self.backbone(inputs), inputs)

    def forward(self, batched_inputs: Sequence[dict[str, Any]]):
        """
        Args:
            batched_inputs: list of dicts, see the module docstring.

        Returns:
            train: dict of scalar losses from the criterion.
            eval: ``[{"alpha": (1, H, W)}]`` at each input's size, values in [0, 1].
        """
        if not self.training:
            return self.inference(batched_inputs)
        if self.criterion is None:
            raise ValueError(
                "ResNetMatte in training mode needs a criterion: set model.criterion in the "
                "config (e.g. L(TrimapCriterion)(...)), or call model.eval() to predict"
            )
        check_inputs(batched_inputs)
        targets = self.stack_targets(batched_inputs)
        if "trimap" not in targets and "alpha" not in targets:
            raise ValueError(
                "ResNetMatte training inputs carry neither 'trimap' nor 'alpha': build the train "
                "loader's mapper with is_train=True and a dataset that has trimap_file_name "
                "(or alpha_file_name for the fine-label baseline)"
            )
        images, normalised = self.preprocess(batched_inputs)
        alpha = self.predict(normalised.tensor)
        return self.criterion(alpha, images.tensor, targets)

    def inference(self, batched_inputs: Sequence[dict[str, Any]]) -> list[dict[str, torch.Tensor]]:
        """Predict alpha for every input, cropped back to the input's size (float32)."""
        check_inputs(batched_inputs)
        _, normalised = self.preprocess(batched_inputs)
        alpha = self.predict(normalised.tensor)
        return [
            {"alpha": alpha[index, :, :height, :width].float()}
            for index, (height, width) in enumerate(normalised.image_sizes)
        ]


def check_decoder_fits_backbone(backbone: Backbone, decoder: nn.Module) -> int:
    """Check the decoder's declared inputs against ``backbone.output_shape()``.

    Returns:
        the stride of the coarsest feature the decoder reads (1 if it declares none).
    """
    in_features = getattr(decoder, "in_features", None)
    if in_features is None:
        return 1
    shapes = backbone.output_shape()
    missing = [name for name in in_features if name not in shapes]
    if missing:
        raise ValueError(
            f"decoder.in_features {list(in_features)} names {missing}, which the backbone does "
            f"not output (its out_features: {sorted(shapes)}); set backbone.out_features"
        )
    channels = [shapes[name].channels for name in in_features]
    declared = list(getattr(decoder, "in_channels", channels))
    if declared != channels:
        raise ValueError(
            f"decoder.in_channels={declared} but the backbone's {list(in_features)} have "
            f"{channels} channels; set decoder.in_channels={channels}"
        )
    strides = [shapes[name].stride for name in in_features]
    finest = getattr(decoder, "finest_stride", strides[-1])
    expected = [finest * 2 ** (len(strides) - 1 - i) for i in range(len(strides))]
    if strides != expected:
        raise ValueError(
            f"the decoder upsamples 2x per step down to stride {finest}, so its in_features "
            f"{list(in_features)} need strides {expected}; the backbone gives {strides}"
        )
    return strides[0]
