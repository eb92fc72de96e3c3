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
from .mapper import AM2K_AUGMENTATION, AM2K_SCALE_RANGE, P3M_AUGMENTATION, MattingDatasetMapper
from .trimap_labels import alpha_to_mask, alpha_to_trimap, mask_to_trimap

__all__ = [
    "AM2K_AUGMENTATION",
    "AM2K_SCALE_RANGE",
    "BUILTIN_SPLITS",
    "LABEL_KINDS",
    "MattingDataError",
    "MattingDatasetMapper",
    "P3M_AUGMENTATION",
    "alpha_to_mask",
    "alpha_to_trimap",
    "datasets_root",
    "load_builtin_split",
    "load_matting_folder",
    "mask_to_trimap",
    "read_alpha",
    "read_image",
    "read_mask",
    "read_trimap",
    "register_all_builtin",
    "register_matting_folder",
    "write_png",
]

register_all_builtin()
