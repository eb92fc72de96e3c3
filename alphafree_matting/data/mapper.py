"""``MattingDatasetMapper``: a dataset dict (file names) to a model input dict (tensors).

Training: read the image and the one label kind the model is supervised with (the config's, or
each sample's own for mixed supervision), run the config's detectron2 augmentations on them
together (:mod:`.transforms`). COCO samples (:mod:`.coco`) get their trimap from their instance
mask. Test: the whole image, no label read (the evaluator reads the GT itself), except the trimap
of trimap-input models.
"""

import logging
from collections.abc import Sequence
from typing import Any, Callable, Optional

import numpy as np
import torch
from detectron2.data import transforms as T

from ..conventions import (
    LABEL_KIND_KEY,
    TRIMAP_BACKGROUND,
    TRIMAP_FOREGROUND,
    UNKNOWN_TARGET,
    trimap_to_target,
)
from . import io
from .coco import INSTANCE_MASK_KEY, instance_label
from .datasets import LABEL_KINDS
from .io import MattingDataError
from .mixing import label_kinds, sample_label_kind
from .transforms import MattingAugInput
from .trimap_checks import (
    check_trimap_values,
    declared_trimap_lut,
    remap_declared_values,
    single_region,
    value_counts,
)

logger = logging.getLogger(__name__)

__all__ = ["MattingDatasetMapper", "PER_SAMPLE", "inference_inputs"]

PER_SAMPLE = "per_sample"
"""``label=PER_SAMPLE``: each training sample is supervised by the one label its dict carries."""

_MAX_NAMED = 50  # file names in one warning
_SINGLE_REGION_PROBLEM = {
    "unknown": "have no known pixel (every value is unknown): they give the known loss nothing "
    "to learn from. Remake them with smaller erosion kernels (tools/make_trimap_labels.py) or "
    "remove them.",
    "foreground": "are foreground everywhere (no background, no unknown band): they teach "
    "nothing about edges. Check that they belong to these images, or remove them.",
    "background": "are background everywhere (no foreground, no unknown band): they teach "
    "nothing about edges. Check that they belong to these images (an empty mask?), or remove "
    "them.",
}

Precompute = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def _label_path(dataset_dict: dict, kind: str) -> str:
    key = f"{kind}_file_name"
    if key not in dataset_dict:
        present = label_kinds(dataset_dict)
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


class MattingDatasetMapper:
    """Map a matting dataset dict to a model input dict.

    Output (training): ``image`` float32 (3, H, W) RGB in [0, 1] (0 on padding); ``trimap``
    float32 (1, H, W) in {0, 0.5, 1} (0.5 on padding) for ``label="trimap"``, ``"mask"`` and
    trimap-input models; ``alpha`` float32 (1, H, W) in [0, 1] for ``label="alpha"``; ``valid``
    bool (1, H, W) (False on padding); ``file_name``, ``image_id``, ``height``, ``width`` (the
    output size); with ``label="per_sample"``, ``label_kind`` (``"trimap"`` or ``"alpha"``: the
    one of the two keys the sample has); and whatever ``precompute`` returns.

    Output (test): the dataset dict's keys plus ``image``, ``height``/``width`` when missing and,
    for trimap-input models, ``trimap``. Label files that are not read are checked to have the
    image's size.

    Args:
        is_train: training (augment, read the label) or test (whole image, no label).
        augmentations: detectron2 ``Augmentation``s applied in order to each training sample
            (see :mod:`.transforms`); empty trains on whole images.
        label: the training label: ``"trimap"`` (coarse labels, the method; COCO samples: the
            band label of their mask), ``"alpha"`` (GT alpha, the fine-label baseline), ``"mask"``
            (binary masks) or ``"per_sample"`` (mixed supervision: each sample's one label kind,
            see ``mixing.sample_label_kind``). Only its file is read.
        trimap_input: the model takes the trimap as an input (training and test).
        precompute: optional ``(image (3, H, W), valid (1, H, W)) -> dict[str, Tensor]`` run on
            each training sample (e.g. ``criterion.NeighbourSelection``); merged into the output.
        trimap_values: the stored (background, unknown, foreground) values of trimaps that are
            not 0 / 128 / 255, e.g. ``(0, 1, 2)`` for class-index exports; any other value is an
            error. None: 0 / 128 / 255, checked by :mod:`.trimap_checks`.
    """

    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: Sequence[T.Augmentation] = (),
        label: str = "trimap",
        trimap_input: bool = False,
        precompute: Optional[Precompute] = None,
        trimap_values: Optional[Sequence[int]] = None,
    ):
        if label not in (*LABEL_KINDS, PER_SAMPLE):
            raise ValueError(f"label must be one of {(*LABEL_KINDS, PER_SAMPLE)}, got {label!r}")
        if trimap_input and label in ("mask", PER_SAMPLE):
            raise ValueError(f"label={label!r} and trimap_input=True both need the 'trimap' key")
        augmentations = list(augmentations)
        for index, augmentation in enumerate(augmentations):
            if not isinstance(augmentation, (T.Augmentation, T.Transform)):
                raise TypeError(
                    f"MattingDatasetMapper: augmentations[{index}] is a "
                    f"{type(augmentation).__name__}, not a detectron2 Augmentation; write it as "
                    "L(SomeAugmentation)(...) in the config"
                )
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.label = label
        self.trimap_input = trimap_input
        self.precompute = precompute
        self.trimap_values = None if trimap_values is None else tuple(trimap_values)
        self._trimap_lut = None if trimap_values is None else declared_trimap_lut(trimap_values)
        self._warned_trimap_values = False
        # training trimaps of one region only (region -> paths, in order): see _count_single_region
        self._single_region: dict[str, dict[str, None]] = {r: {} for r in _SINGLE_REGION_PROBLEM}

    def __repr__(self) -> str:
        return (
            f"MattingDatasetMapper(is_train={self.is_train}, label={self.label!r}, "
            f"trimap_input={self.trimap_input}, augmentations={self.augmentations})"
        )

    def __call__(self, dataset_dict: dict) -> dict[str, Any]:
        if "file_name" not in dataset_dict:
            raise MattingDataError(f"dataset dict without 'file_name': {sorted(dataset_dict)}")
        return self._train(dataset_dict) if self.is_train else self._test(dataset_dict)

    # --- reading -------------------------------------------------------------------------------
    def _read_trimap(self, path: str, image_path: str, image_size: tuple) -> np.ndarray:
        trimap = io.read_trimap(path)
        _check_same_size(image_path, image_size, path, trimap.shape)
        counts = value_counts(trimap)  # the one pass over the pixels of the checks
        if self._trimap_lut is not None:
            trimap = remap_declared_values(trimap, counts, self._trimap_lut, path)
            counts = np.bincount(self._trimap_lut.clip(0), weights=counts, minlength=256)
        elif check_trimap_values(counts, path) and not self._warned_trimap_values:
            self._warned_trimap_values = True  # once per mapper (and data-loader worker)
            logger.warning(
                "trimap %s has values outside {0, 128, 255} (e.g. %s): they are mapped by the "
                "rule v < 85 -> background, v >= 170 -> foreground, else unknown. Further files "
                "are not reported. Save trimaps as PNG (JPEG compression changes values) or "
                "remake them with tools/make_trimap_labels.py.",
                path,
                [int(v) for v in np.flatnonzero(counts) if v not in (0, 128, 255)][:5],
            )
        region = single_region(counts) if self.is_train else None
        if region is not None:
            self._count_single_region(path, region)
        return trimap

    def _count_single_region(self, path: str, region: str) -> None:
        """Record a training trimap that is all one ``region``; warn at counts 1, 2, 4, 8, ..."""
        paths = self._single_region[region]
        if path in paths:
            return
        paths[path] = None
        count = len(paths)
        if count & (count - 1) == 0:
            names = list(paths)
            more = f" ... and {count - _MAX_NAMED} more" if count > _MAX_NAMED else ""
            logger.warning(
                "%d training trimap(s) of this split %s Files: %s%s. (Warned again when the "
                "count doubles; counted per data-loader worker.)",
                count,
                _SINGLE_REGION_PROBLEM[region],
                ", ".join(names[:_MAX_NAMED]),
                more,
            )

    def _read_label(self, dataset_dict: dict, kind: str, image_size: tuple) -> np.ndarray:
        path, image_path = _label_path(dataset_dict, kind), dataset_dict["file_name"]
        if kind == "trimap":
            return self._read_trimap(path, image_path, image_size)
        label = io.read_alpha(path) if kind == "alpha" else io.read_mask(path)
        _check_same_size(image_path, image_size, path, label.shape)
        if kind == "mask":  # a trimap with no unknown pixel
            label = np.where(label, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND).astype(np.uint8)
        return label

    @staticmethod
    def _instance_label(dataset_dict: dict, kind: str, image_size: tuple):
        """A COCO sample's (trimap, focus) from its instance mask (see ``coco.instance_label``)."""
        labelled_size = (int(dataset_dict["height"]), int(dataset_dict["width"]))
        if tuple(image_size) != labelled_size:
            raise MattingDataError(
                f"size mismatch: image {dataset_dict['file_name']} is {image_size[0]}x"
                f"{image_size[1]} (HxW) but its COCO entry (id {dataset_dict.get('coco_image_id')})"
                f" says {labelled_size[0]}x{labelled_size[1]}. Fix the entry's height / width or "
                "the image (swapped sizes often mean an EXIF rotation)."
            )
        return instance_label(dataset_dict, kind)

    # --- modes ---------------------------------------------------------------------------------
    def _train(self, dataset_dict: dict) -> dict[str, Any]:
        image_path = dataset_dict["file_name"]
        image = io.read_image(image_path)
        image_size = image.shape[:2]
        label = sample_label_kind(dataset_dict) if self.label == PER_SAMPLE else self.label
        trimap = alpha = focus = None
        trimap_kind = "mask" if label == "mask" else "trimap"
        if label in ("mask", "trimap") or self.trimap_input:
            if f"{trimap_kind}_file_name" not in dataset_dict and INSTANCE_MASK_KEY in dataset_dict:
                trimap, focus = self._instance_label(dataset_dict, trimap_kind, image_size)
            else:
                trimap = self._read_label(dataset_dict, trimap_kind, image_size)
        if label == "alpha":
            alpha = self._read_label(dataset_dict, "alpha", image_size)

        # The sample's generator, from np.random (which detectron2 seeds per data-loader worker).
        rng = np.random.default_rng(np.random.randint(2**31))
        aug_input = MattingAugInput(image, trimap=trimap, alpha=alpha, rng=rng, focus=focus)
        self.augmentations(aug_input)
        valid = np.ascontiguousarray(aug_input.valid)
        height, width = valid.shape
        out: dict[str, Any] = {
            "file_name": image_path,
            "image_id": dataset_dict.get("image_id"),
            "height": height,
            "width": width,
            "image": _tensor(aug_input.image).float().div_(255.0),
            "valid": _tensor(valid).bool(),
        }
        if self.label == PER_SAMPLE:
            out[LABEL_KIND_KEY] = "alpha" if label == "alpha" else "trimap"
        if trimap is not None:
            target = trimap_to_target(aug_input.trimap)
            target[valid == 0] = UNKNOWN_TARGET  # padding is never a known label
            out["trimap"] = _tensor(target)
        if alpha is not None:  # cubic / Lanczos resizes overshoot
            out["alpha"] = _tensor(np.clip(aug_input.alpha, 0.0, 1.0).astype(np.float32))
        if self.precompute is not None:
            extra = self.precompute(out["image"], out["valid"])
            if not isinstance(extra, dict):
                raise TypeError(f"precompute must return a dict of tensors, got {type(extra)}")
            out.update(extra)
        return out

    def _test(self, dataset_dict: dict) -> dict[str, Any]:
        image_path = dataset_dict["file_name"]
        image = io.read_image(image_path)
        image_size = image.shape[:2]
        trimap = None
        if self.trimap_input:
            trimap = self._read_trimap(_label_path(dataset_dict, "trimap"), image_path, image_size)
        for kind in LABEL_KINDS:  # labels the evaluator will read: check them now, cheaply
            path = dataset_dict.get(f"{kind}_file_name")
            if path is not None and not (kind == "trimap" and self.trimap_input):
                _check_same_size(image_path, image_size, path, io.read_image_size(path))
        return inference_inputs(image, trimap, dataset_dict)


def inference_inputs(image: np.ndarray, trimap: Optional[np.ndarray], dataset_dict: dict) -> dict:
    """The test-mode model input of an image already read: the dataset dict's keys plus
    ``image`` float32 (3, H, W) in [0, 1], ``height``/``width`` when missing and, given a stored
    trimap (H, W) uint8 (0 / 128 / 255, checked by the caller), ``trimap`` (1, H, W) in
    {0, 0.5, 1}. The one conversion the mapper and the predictor's array path share."""
    out = dict(dataset_dict)
    out.setdefault("height", image.shape[0])
    out.setdefault("width", image.shape[1])
    out["image"] = _tensor(image).float().div_(255.0)
    if trimap is not None:
        out["trimap"] = _tensor(trimap_to_target(trimap))
    return out
