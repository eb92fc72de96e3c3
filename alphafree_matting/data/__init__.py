"""The matting data path: datasets (file names) -> mapper (tensors) -> detectron2 loaders.

Importing this package registers the built-in splits (:mod:`.builtin`: AM-2K, P3M-10K, toy data,
mixed alpha / trimap splits, COCO animals; see ``datasets/README.md``) in detectron2's
``DatasetCatalog``, lazily: nothing is read from disk until a split is used. Other data: a node
in the config (``L(load_matting_folder)(root=...)``, ``L(load_coco_matting)(...)``), or a
``register_*`` call in your own code before training.
"""

from .builtin import BUILTIN_SPLITS, builtin_split_root, load_builtin_split, register_all_builtin
from .coco import load_coco_matting, register_coco_matting
from .datasets import LABEL_KINDS, datasets_root, load_matting_folder, register_matting_folder
from .io import MattingDataError, read_alpha, read_image, read_mask, read_trimap, write_png
from .mapper import PER_SAMPLE, MattingDatasetMapper
from .mixing import (
    label_repeat_factors,
    mix_label_splits,
    register_mixed_split,
    sample_label_kind,
)
from .transforms import (
    MattingAugInput,
    PadToSize,
    RandomHFlip,
    RandomScale,
    UnknownCenteredCrop,
    UnknownContainingCrop,
    UpscaleSmall,
)
from .trimap_labels import alpha_to_mask, alpha_to_trimap, mask_to_trimap

__all__ = [
    "BUILTIN_SPLITS",
    "LABEL_KINDS",
    "MattingAugInput",
    "MattingDataError",
    "MattingDatasetMapper",
    "PER_SAMPLE",
    "alpha_to_mask",
    "alpha_to_trimap",
    "builtin_split_root",
    "datasets_root",
    "label_repeat_factors",
    "load_coco_matting",
    "load_builtin_split",
    "load_matting_folder",
    "mask_to_trimap",
    "mix_label_splits",
    "PadToSize",
    "RandomHFlip",
    "RandomScale",
    "UnknownCenteredCrop",
    "UnknownContainingCrop",
    "UpscaleSmall",
    "read_alpha",
    "read_image",
    "read_mask",
    "read_trimap",
    "register_all_builtin",
    "register_coco_matting",
    "register_matting_folder",
    "register_mixed_split",
    "sample_label_kind",
    "write_png",
]

register_all_builtin()
