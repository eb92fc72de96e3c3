# The synthetic toy data (`make demo` writes it with tools/make_toy_dataset.py): 128 px composites,
# trimap labels for training, GT alpha + trimap for evaluation. 96 px crops containing a random
# unknown pixel, h-flip.
from detectron2.config import LazyCall as L

from alphafree_matting.data import RandomHFlip, UnknownContainingCrop

from .matting import matting_dataloader

dataloader = matting_dataloader(
    "toy_matting_train",
    "toy_matting_val",
    total_batch_size=8,
    num_workers=1,
    augmentations=[
        L(UnknownContainingCrop)(crop_size=96, unknown_bias=1.0),
        L(RandomHFlip)(prob=0.5),
    ],
    max_visuals=4,
)
