# AM-2K (Sec. 4.1): train on the 1,800 training images with generated trimap labels, evaluate on
# the 200 validation images. Augmentation: random scale, 512 crop biased to unknown pixels, h-flip.
from alphafree_matting.data import AM2K_AUGMENTATION

from .matting import matting_dataloader

NUM_TRAIN_IMAGES = 1800

dataloader = matting_dataloader(
    "am2k_train",
    "am2k_val",
    total_batch_size=16,
    num_workers=4,
    crop_size=512,
    **AM2K_AUGMENTATION,
)
