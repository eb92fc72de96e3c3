"""The matting meta-architecture: batching, normalisation, backbone + decoder, loss or alpha output.

Input: one dict per image (:mod:`.inputs`; trimap-input models need ``trimap`` in evaluation
too). If every training dict has ``label_kind`` (``"trimap"`` / ``"alpha"``), a batch may mix the
two labels. Training returns the criterion's dict of losses; evaluation ``[{"alpha": (1, H, W)}]``
at each input's size, in bounded memory by default (parts whose ``forward`` takes a ``budget``).
"""

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import inf
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..conventions import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LABEL_KIND_KEY,
    SIZE_DIVISIBILITY,
    UNKNOWN_TARGET,
    padded_size,
)
from ..criterion.neighbours import NO_NEIGHBOUR
from .inputs import LABEL_TARGETS, check_input
from .tiling import TileBudget

logger = logging.getLogger(__name__)

__all__ = ["MattingModel", "MattingBatch", "check_input", "pad_and_stack"]

TARGET_KEYS = ("trimap", "alpha", "valid", "neighbour_index", "neighbour_distance")
"""Keys of the input dicts that are passed to the criterion (when present)."""

_NO_MAP = torch.zeros((1, 0, 0))  # a mixed batch's missing label: pad_and_stack fills it


@dataclass
class MattingBatch:
    """A padded batch, as built by :meth:`MattingModel.preprocess`.

    Attributes:
        inputs: (B, C, Hp, Wp) ImageNet-normalised RGB (+ trimap channel), 0 on padding.
        images: (B, 3, Hp, Wp) RGB in [0, 1], un-normalised, 0 on padding.
        targets: the keys present in the inputs: (B, 1, Hp, Wp) ``trimap`` 0.5 on padding,
            ``alpha`` 0, bool ``valid`` (always) False; (B, k, Hp, Wp) ``neighbour_*``; mixed
            batches add (B,) bool ``has_trimap`` / ``has_alpha``. Empty unless requested.
        image_sizes: (H, W) of every input before padding.
    """

    inputs: torch.Tensor
    images: torch.Tensor
    targets: dict[str, torch.Tensor]
    image_sizes: list[tuple[int, int]]


def _call(module: nn.Module, budget: Optional[TileBudget], *args):
    """``module(*args)``, with ``budget=`` when there is one and the module's forward takes it."""
    if budget is not None and "budget" in inspect.signature(module.forward).parameters:
        return module(*args, budget=budget)
    return module(*args)


def pad_and_stack(
    maps: Sequence[torch.Tensor],
    size: tuple[int, int],
    pad_value,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Stack (C, h_i, w_i) maps into (B, C, H, W) of ``dtype``, top-left aligned, ``pad_value``
    elsewhere."""
    batch = torch.full((len(maps), maps[0].shape[0], *size), pad_value, dtype=dtype, device=device)
    for index, value in enumerate(maps):
        batch[index, :, : value.shape[1], : value.shape[2]] = value.to(device, non_blocking=True)
    return batch


class MattingModel(nn.Module):
    """Backbone + decoder as a detectron2 matting meta-architecture (model-agnostic).

    Args:
        backbone: (B, C, H, W) input -> a feature map or a dict of them (detectron2 ``Backbone``).
        decoder: ``decoder(features, inputs)`` -> (B, 1, H, W) alpha in [0, 1]; ``features`` is
            the single (or ``backbone_feature``) feature map, else the backbone's whole dict.
        criterion: ``criterion(alpha, image, targets)`` -> dict of losses; needed for training.
        pixel_mean, pixel_std: RGB normalisation of images in [0, 1].
        size_divisibility: inputs are padded to a multiple of this.
        trimap_input: concatenate the un-normalised {0, 0.5, 1} trimap as a 4th input channel
            (as the official ViTMatte).
        max_side: in evaluation, predict images with a longer side above it downscaled and
            resize the alpha back (bilinear). None: no limit.
        bounded_inference: in evaluation, run the parts that support it in tiles (same output,
            memory about linear in pixels). False: the plain path of training and export.
        inference_memory_mb: working memory (MiB) of one tile; input, stored maps and output
            come on top.
    """

    def __init__(
        self,
        *,
        backbone: nn.Module,
        decoder: nn.Module,
        criterion: Optional[nn.Module] = None,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
        size_divisibility: int = SIZE_DIVISIBILITY,
        trimap_input: bool = False,
        max_side: Optional[int] = None,
        backbone_feature: Optional[str] = None,
        bounded_inference: bool = True,
        inference_memory_mb: float = 1024,
    ):
        super().__init__()
        in_chans = 4 if trimap_input else 3
        for part, attribute in ((backbone, "in_chans"), (decoder, "img_chans")):
            declared = getattr(part, attribute, in_chans)
            if declared != in_chans:
                raise ValueError(
                    f"{type(self).__name__}(trimap_input={trimap_input}) feeds {in_chans} input "
                    "channels but "
                    f"{type(part).__name__}.{attribute}={declared}; set it to {in_chans}"
                )
        if max_side is not None and max_side < size_divisibility:
            raise ValueError(f"max_side={max_side} must be None or >= {size_divisibility}")
        if not inference_memory_mb > 0:
            raise ValueError(f"inference_memory_mb={inference_memory_mb} must be > 0 (MiB)")
        self.backbone = backbone
        self.decoder = decoder
        self.criterion = criterion
        self.size_divisibility = size_divisibility
        self.trimap_input = trimap_input
        self.max_side = max_side
        self.backbone_feature = backbone_feature
        self.bounded_inference = bounded_inference
        self.inference_memory_mb = inference_memory_mb
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)
        if self.pixel_mean.shape != (3, 1, 1) or self.pixel_std.shape != (3, 1, 1):
            raise ValueError("pixel_mean and pixel_std must hold 3 (RGB) values each")
        self._logged_resize = False

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    # --- batching -------------------------------------------------------------------------------
    def preprocess(
        self, batched_inputs: list[dict[str, Any]], with_targets: bool = True
    ) -> MattingBatch:
        """Validate, pad to a multiple of ``size_divisibility``, normalise, and (``with_targets``)
        stack the targets: a :class:`MattingBatch` on the model's device."""
        image_sizes = self._check_inputs(batched_inputs)
        return self._batch(batched_inputs, image_sizes, with_targets)

    def _check_inputs(self, batched_inputs: list[dict[str, Any]]) -> list[tuple[int, int]]:
        if not isinstance(batched_inputs, (list, tuple)) or not batched_inputs:
            raise ValueError(
                f"{type(self).__name__} expects a non-empty list of dicts (one per image)"
            )
        return [
            check_input(i, item, need_trimap=self.trimap_input, check_values=not self.training)
            for i, item in enumerate(batched_inputs)
        ]

    def _batch(self, batched_inputs, image_sizes, with_targets: bool) -> MattingBatch:
        size = padded_size(
            max(h for h, _ in image_sizes), max(w for _, w in image_sizes), self.size_divisibility
        )
        images = pad_and_stack([x["image"] for x in batched_inputs], size, 0.0, self.device)
        inside = torch.zeros((len(image_sizes), 1, *size), dtype=torch.bool, device=self.device)
        for index, (height, width) in enumerate(image_sizes):
            inside[index, :, :height, :width] = True
        # zero on padding, as in the official ViTMatte
        inputs = ((images - self.pixel_mean) / self.pixel_std) * inside
        present = self._present_keys(batched_inputs) if with_targets else ()
        trimap = None
        if "trimap" in present or self.trimap_input:
            trimap = pad_and_stack(
                [x.get("trimap", _NO_MAP) for x in batched_inputs],
                size,
                UNKNOWN_TARGET,
                self.device,
            )
        if self.trimap_input:
            # un-normalised {0, 0.5, 1}, zero on padding
            inputs = torch.cat([inputs, trimap * inside], dim=1)
        targets: dict[str, torch.Tensor] = {}
        if with_targets:
            targets = self._stack_targets(batched_inputs, present, size, inside)
            if trimap is not None:
                targets["trimap"] = trimap
        return MattingBatch(inputs=inputs, images=images, targets=targets, image_sizes=image_sizes)

    @staticmethod
    def _present_keys(batched_inputs: list[dict[str, Any]]) -> tuple[str, ...]:
        present = []
        for key in (*TARGET_KEYS, LABEL_KIND_KEY):
            count = sum(key in item for item in batched_inputs)
            mixed = key in LABEL_TARGETS and all(LABEL_KIND_KEY in x for x in batched_inputs)
            if 0 < count < len(batched_inputs) and not mixed:
                raise ValueError(
                    f"'{key}' is present in {count} of {len(batched_inputs)} inputs of the batch; "
                    "every input of a batch must carry the same keys"
                )
            if count:
                present.append(key)
        return tuple(present)

    def _stack_targets(self, batched_inputs, present, size, inside):
        targets = {"valid": inside}
        if "valid" in present:
            targets["valid"] = inside & pad_and_stack(
                [x["valid"] for x in batched_inputs], size, False, self.device, torch.bool
            )
        if "alpha" in present:
            targets["alpha"] = pad_and_stack(
                [x.get("alpha", _NO_MAP) for x in batched_inputs], size, 0.0, self.device
            )
        if LABEL_KIND_KEY in present:  # mixed supervision: which samples carry which label
            for key in LABEL_TARGETS:
                has = [x[LABEL_KIND_KEY] == key for x in batched_inputs]
                targets[f"has_{key}"] = torch.tensor(has, dtype=torch.bool, device=self.device)
        if "neighbour_index" in present or "neighbour_distance" in present:
            # Selected per sample in workers (offsets are position-free); padding: empty slots.
            for key, pad_value in (("neighbour_index", NO_NEIGHBOUR), ("neighbour_distance", inf)):
                if key not in present:
                    raise ValueError(
                        "precomputed neighbours need both 'neighbour_index' and "
                        "'neighbour_distance' (the outputs of NeighbourSelection)"
                    )
                maps = [torch.as_tensor(x[key]) for x in batched_inputs]
                targets[key] = pad_and_stack(maps, size, pad_value, self.device, maps[0].dtype)
        return targets

    # --- forward --------------------------------------------------------------------------------
    def predict(self, inputs: torch.Tensor, budget: Optional[TileBudget] = None) -> torch.Tensor:
        """(B, C, Hp, Wp) normalised padded input -> (B, 1, Hp, Wp) alpha in [0, 1]; ``budget``
        goes to the parts that take one (None: the plain path)."""
        features = _call(self.backbone, budget, inputs)
        if isinstance(features, dict):
            if self.backbone_feature is not None:
                features = features[self.backbone_feature]
            elif len(features) == 1:
                features = next(iter(features.values()))
        return _call(self.decoder, budget, features, inputs)

    def inference_budget(
        self, progress: Optional[Callable[[int, int], None]] = None
    ) -> Optional[TileBudget]:
        """The tile budget of an evaluation forward; None when it takes the plain path."""
        if not self.bounded_inference or self.training:
            return None
        return TileBudget(int(self.inference_memory_mb * 2**20), progress)

    def forward(self, batched_inputs: list[dict[str, Any]]):
        """Training: the criterion's dict of losses; eval: ``[{"alpha": (1, H, W)}]`` in [0, 1]."""
        if not self.training:
            return self.inference(batched_inputs)
        if self.criterion is None:
            raise ValueError(
                f"{type(self).__name__} in training mode needs a criterion: set model.criterion "
                "in the config (e.g. L(TrimapCriterion)(...)), or call model.eval() to predict"
            )
        batch = self.preprocess(batched_inputs, with_targets=True)
        if "trimap" not in batch.targets and "alpha" not in batch.targets:
            raise ValueError(
                f"{type(self).__name__} training inputs carry neither 'trimap' nor 'alpha': build "
                "the train loader's mapper with is_train=True and a dataset that has "
                "trimap_file_name (or alpha_file_name for the fine-label baseline)"
            )
        alpha = self.predict(batch.inputs)
        losses = self.criterion(alpha, batch.images, batch.targets)
        if not isinstance(losses, dict):
            raise TypeError(
                f"the criterion must return a dict of losses, got {type(losses).__name__}"
            )
        return losses

    def inference(
        self,
        batched_inputs: list[dict[str, Any]],
        progress: Optional[Callable[[int, int], None]] = None,
    ) -> list[dict[str, torch.Tensor]]:
        """Alpha of every input at its own size (see ``max_side``); ``progress(tiles done, tiles
        announced)`` is called after every tile of bounded inference."""
        original_sizes = self._check_inputs(batched_inputs)
        resized_inputs = [self._limit_size(item) for item in batched_inputs]
        resized_sizes = [tuple(item["image"].shape[1:]) for item in resized_inputs]
        batch = self._batch(resized_inputs, resized_sizes, with_targets=False)
        alpha = self.predict(batch.inputs, self.inference_budget(progress))
        results = []
        for index, ((height, width), original) in enumerate(zip(batch.image_sizes, original_sizes)):
            alpha_i = alpha[index : index + 1, :, :height, :width].float()
            if (height, width) != original:
                alpha_i = F.interpolate(
                    alpha_i, size=original, mode="bilinear", align_corners=False
                ).clamp(0.0, 1.0)
            results.append({"alpha": alpha_i[0]})
        return results

    def _limit_size(self, item: dict[str, Any]) -> dict[str, Any]:
        """Resize image (bilinear, antialiased) and trimap (nearest) to longer side <= max_side."""
        height, width = item["image"].shape[1:]
        if self.max_side is None or max(height, width) <= self.max_side:
            return item
        scale = self.max_side / max(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        if not self._logged_resize:
            logger.info(
                "%s: images larger than max_side=%d are predicted at a smaller size and "
                "the alpha resized back (first: %dx%d -> %dx%d)",
                type(self).__name__,
                self.max_side,
                height,
                width,
                size[0],
                size[1],
            )
            self._logged_resize = True
        resized = dict(item)
        image = item["image"].to(self.device)[None]
        resized["image"] = F.interpolate(
            image, size=size, mode="bilinear", align_corners=False, antialias=True
        )[0].clamp(0.0, 1.0)
        if "trimap" in item:
            trimap = item["trimap"].to(self.device)[None]
            resized["trimap"] = F.interpolate(trimap, size=size, mode="nearest")[0]
        return resized
