"""``MattingDatasetMapper``: a dataset dict (file names) to a model input dict (tensors).

Training: read the image and the one label kind the model is supervised with, draw one
geometric plan (random scale, random crop biased towards unknown pixels, h-flip, padding; see
:mod:`.transforms`) and apply it identically to every array. Test: the whole image, no label
read (the evaluator reads the GT itself), except the trimap of trimap-input models.
"""

import logging
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from ..conventions import (
    TRIMAP_BACKGROUND,
    TRIMAP_BACKGROUND_BELOW,
    TRIMAP_FOREGROUND,
    TRIMAP_FOREGROUND_FROM,
    TRIMAP_UNKNOWN,
    trimap_to_target,
)
from . import io
from .io import MattingDataError
from .transforms import ArrayKind, apply_transforms, sample_geometric_transforms
from .trimap_labels import CERTAIN_EPS

logger = logging.getLogger(__name__)

__all__ = ["MattingDatasetMapper", "AM2K_SCALE_RANGE", "AM2K_AUGMENTATION", "P3M_AUGMENTATION"]

AM2K_SCALE_RANGE = (0.8, 1.25)
"""Random-scale range of the AM-2K recipe. The paper's numbers were lost in the text we have;
this is the range of ViTMatte's training scale augmentation, which the authors' code builds on."""
AM2K_AUGMENTATION = dict(scale_range=AM2K_SCALE_RANGE, hflip_prob=0.5, unknown_crop_bias=1.0)
"""Mapper keyword arguments of the AM-2K recipe: random scale, biased crop, h-flip 0.5."""
P3M_AUGMENTATION = dict(scale_range=None, hflip_prob=0.0, unknown_crop_bias=1.0)
"""Mapper keyword arguments of the P3M-10K recipe: random (biased) crop only."""

LABEL_KINDS = ("trimap", "alpha", "mask")
_STORED_TRIMAP_VALUES = (TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND)

Precompute = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def _label_path(dataset_dict: dict, kind: str) -> str:
    key = f"{kind}_file_name"
    if key not in dataset_dict:
        present = [k for k in LABEL_KINDS if f"{k}_file_name" in dataset_dict]
        raise MattingDataError(
            f"dataset dict of {dataset_dict.get('file_name')} has no '{key}': the split was not "
            f"registered with {kind} labels. Register it with labels=(..., '{kind}') or give the "
            f"mapper a label kind the split has: {present}."
        )
    return dataset_dict[key]


def _check_same_size(image_path: str, image_size: tuple, label_path: str, label_size: tuple):
    if tuple(label_size) != tuple(image_size):
        raise MattingDataError(
            f"size mismatch: image {image_path} is {image_size[0]}x{image_size[1]} (HxW) but "
            f"label {label_path} is {label_size[0]}x{label_size[1]}. Labels must have the "
            "image's size; re-export the label (swapped sizes often mean the image carries an "
            "EXIF rotation the label does not have)."
        )


def _tensor(array: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` array to a ``(C, H, W)`` tensor (C = 1 for 2-D arrays)."""
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def _unknown_region(
    trimap: Optional[np.ndarray], alpha: Optional[np.ndarray]
) -> Optional[np.ndarray]:
    """Pixels the crop should favour: the trimap's unknown band, else the alpha's soft pixels."""
    if trimap is not None:  # the unknown band of trimap_to_target, on the stored uint8 values
        return (trimap >= TRIMAP_BACKGROUND_BELOW) & (trimap < TRIMAP_FOREGROUND_FROM)
    if alpha is not None:
        return (alpha > CERTAIN_EPS) & (alpha < 1.0 - CERTAIN_EPS)
    return None


class MattingDatasetMapper:
    """Map a matting dataset dict to a model input dict.

    Output (training): ``image`` float32 (3, H, W) RGB in [0, 1] (0 on padding); ``trimap``
    float32 (1, H, W) in {0, 0.5, 1} (0.5 on padding) for ``label="trimap"``, for
    ``label="mask"`` (a mask is a trimap without unknown pixels) and for trimap-input models;
    ``alpha`` float32 (1, H, W) in [0, 1] for ``label="alpha"``; ``valid`` bool (1, H, W)
    (False on padding); ``file_name``, ``image_id``, ``height``, ``width`` (the output size, for
    detectron2's aspect-ratio grouping); and whatever ``precompute`` returns.

    Output (test): the dataset dict's keys (``file_name``, ``alpha_file_name``, ...) plus
    ``image``, ``height``/``width`` when missing (the image size) and, for trimap-input models,
    ``trimap``. Label files that are not read are checked to have the image's size.
    """

    def __init__(
        self,
        is_train: bool,
        *,
        crop_size: Union[int, tuple[int, int], None] = 512,
        scale_range: Optional[tuple[float, float]] = None,
        hflip_prob: float = 0.5,
        unknown_crop_bias: float = 1.0,
        label: str = "trimap",
        trimap_input: bool = False,
        precompute: Optional[Precompute] = None,
    ):
        """
        Args:
            is_train: training (augment, read the label) or test (whole image, no label).
            crop_size: side (or ``(height, width)``) of training crops; smaller samples are
                padded. ``None`` trains on whole images.
            scale_range: ``(low, high)`` of the random scale factor; ``None`` disables it.
            hflip_prob: probability of a horizontal flip.
            unknown_crop_bias: probability that a crop is drawn among the crops that contain
                an unknown pixel (uniform otherwise, and when there is none).
            label: the training label: ``"trimap"`` (coarse trimap labels, the method),
                ``"alpha"`` (GT alpha, the fine-label baseline) or ``"mask"`` (binary
                segmentation masks). Only that label's file is read.
            trimap_input: the model takes the trimap as an input (training and test).
            precompute: optional ``(image (3, H, W), valid (1, H, W)) -> dict[str, Tensor]``
                run on each training sample (e.g. DDC neighbours in data-loader workers:
                ``alphafree_matting.criterion.NeighbourSelection``); merged into the output.
        """
        if label not in LABEL_KINDS:
            raise ValueError(f"label must be one of {LABEL_KINDS}, got {label!r}")
        if trimap_input and label == "mask":
            raise ValueError("label='mask' and trimap_input=True both need the 'trimap' key")
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if scale_range is not None and not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high: {scale_range}")
        self.is_train = is_train
        self.crop_size = None if crop_size is None else tuple(int(s) for s in crop_size)
        self.scale_range = None if scale_range is None else tuple(scale_range)
        self.hflip_prob = float(hflip_prob)
        self.unknown_crop_bias = float(unknown_crop_bias)
        self.label = label
        self.trimap_input = trimap_input
        self.precompute = precompute
        self._warned_trimap_values = False

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in (
                "is_train",
                "crop_size",
                "scale_range",
                "hflip_prob",
                "unknown_crop_bias",
                "label",
                "trimap_input",
            )
        )
        return f"MattingDatasetMapper({options})"

    def __call__(self, dataset_dict: dict) -> dict[str, Any]:
        if "file_name" not in dataset_dict:
            raise MattingDataError(f"dataset dict without 'file_name': {sorted(dataset_dict)}")
        return self._train(dataset_dict) if self.is_train else self._test(dataset_dict)

    # --- reading -------------------------------------------------------------------------------
    def _read_trimap(self, path: str, image_path: str, image_size: tuple) -> np.ndarray:
        trimap = io.read_trimap(path)
        _check_same_size(image_path, image_size, path, trimap.shape)
        counts = np.bincount(trimap.ravel(), minlength=256)
        counts[list(_STORED_TRIMAP_VALUES)] = 0
        if counts.any() and not self._warned_trimap_values:
            self._warned_trimap_values = True  # once per mapper (and data-loader worker)
            logger.warning(
                "trimap %s has values outside {0, 128, 255} (e.g. %s): they are mapped by the "
                "rule v < 85 -> background, v >= 170 -> foreground, else unknown. Further files "
                "are not reported. Save trimaps as PNG (JPEG compression changes values) or "
                "remake them with tools/make_trimap_labels.py.",
                path,
                np.flatnonzero(counts)[:5].tolist(),
            )
        return trimap

    def _read_label(self, dataset_dict: dict, kind: str, image_size: tuple) -> np.ndarray:
        path, image_path = _label_path(dataset_dict, kind), dataset_dict["file_name"]
        if kind == "trimap":
            return self._read_trimap(path, image_path, image_size)
        label = io.read_alpha(path) if kind == "alpha" else io.read_mask(path)
        _check_same_size(image_path, image_size, path, label.shape)
        if kind == "mask":  # a trimap with no unknown pixel
            label = np.where(label, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND).astype(np.uint8)
        return label

    # --- modes ---------------------------------------------------------------------------------
    def _train(self, dataset_dict: dict) -> dict[str, Any]:
        image_path = dataset_dict["file_name"]
        image = io.read_image(image_path)
        image_size = image.shape[:2]
        trimap = alpha = None
        if self.label == "mask":
            trimap = self._read_label(dataset_dict, "mask", image_size)
        elif self.label == "trimap" or self.trimap_input:
            trimap = self._read_label(dataset_dict, "trimap", image_size)
        if self.label == "alpha":
            alpha = self._read_label(dataset_dict, "alpha", image_size)

        rng = np.random.default_rng(np.random.randint(2**31))  # seeded per worker by detectron2
        plan = sample_geometric_transforms(
            rng,
            *image_size,
            crop_size=self.crop_size,
            scale_range=self.scale_range,
            hflip_prob=self.hflip_prob,
            unknown=_unknown_region(trimap, alpha),
            unknown_bias=self.unknown_crop_bias,
        )
        image = apply_transforms(plan, image, ArrayKind.IMAGE)
        valid = apply_transforms(plan, np.ones(image_size, np.uint8), ArrayKind.VALID)
        height, width = image.shape[:2]
        out: dict[str, Any] = {
            "file_name": image_path,
            "image_id": dataset_dict.get("image_id"),
            "height": height,
            "width": width,
            "image": _tensor(image).float().div_(255.0),
            "valid": _tensor(valid).bool(),
        }
        if trimap is not None:
            trimap = apply_transforms(plan, trimap, ArrayKind.LABEL)
            out["trimap"] = _tensor(trimap_to_target(trimap))
        if alpha is not None:
            alpha = apply_transforms(plan, alpha, ArrayKind.ALPHA)
            out["alpha"] = _tensor(alpha.astype(np.float32))
        if self.precompute is not None:
            extra = self.precompute(out["image"], out["valid"])
            if not isinstance(extra, dict):
                raise TypeError(f"precompute must return a dict of tensors, got {type(extra)}")
            out.update(extra)
        return out

    def _test(self, dataset_dict: dict) -> dict[str, Any]:
        out = dict(dataset_dict)
        image_path = dataset_dict["file_name"]
        image = io.read_image(image_path)
        image_size = image.shape[:2]
        out.setdefault("height", image_size[0])
        out.setdefault("width", image_size[1])
        out["image"] = _tensor(image).float().div_(255.0)
        if self.trimap_input:
            trimap = self._read_trimap(_label_path(dataset_dict, "trimap"), image_path, image_size)
            out["trimap"] = _tensor(trimap_to_target(trimap))
        for kind in LABEL_KINDS:  # labels the evaluator will read: check them now, cheaply
            path = dataset_dict.get(f"{kind}_file_name")
            if path is not None and not (kind == "trimap" and self.trimap_input):
                _check_same_size(image_path, image_size, path, io.read_image_size(path))
        return out
