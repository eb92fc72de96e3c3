"""The matting data path: datasets (file names) -> mapper (tensors) -> detectron2 loaders.

Importing this package registers the built-in splits (AM-2K, P3M-10K, toy data; see
``datasets/README.md``) in detectron2's ``DatasetCatalog``, lazily: nothing is read from disk
until a split is used.
"""

from .datasets import (
    BUILTIN_SPLITS,
    LABEL_KINDS,
    datasets_root,
    load_builtin_split,
    load_matting_folder,
    register_all_builtin,
    register_matting_folder,
)
from .io import MattingDataError, read_alpha, read_image, read_mask, read_trimap, write_png
from .mapper import MattingDatasetMapper
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
    "alpha_to_mask",
    "alpha_to_trimap",
    "datasets_root",
    "load_builtin_split",
    "load_matting_folder",
    "mask_to_trimap",
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
    "register_matting_folder",
    "write_png",
]

register_all_builtin()
