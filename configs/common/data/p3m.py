# P3M-10K (Sec. 4.1): train on the 9,421 face-blurred training portraits with generated trimap
# labels, evaluate on P3M-500-NP. Augmentation: random 512 crop only.
from alphafree_matting.data import P3M_AUGMENTATION

from .matting import matting_dataloader

NUM_TRAIN_IMAGES = 9421

dataloader = matting_dataloader(
    "p3m_train",
    "p3m_val_np",
    total_batch_size=16,
    num_workers=4,
    crop_size=512,
    **P3M_AUGMENTATION,
)
