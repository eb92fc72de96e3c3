# P3M-10K (Sec. 4.1): the 9,421 face-blurred training portraits with generated trimap labels,
# evaluated on P3M-500-NP. The authors' code has no P3M config. The paper text: random crop only;
# ours: that crop is the authors' AM-2K crop (upscale small images, crop centred on unknown
# pixels), and the batch is AM-2K's (2 GPUs x 16).
from detectron2.config import LazyCall as L

from alphafree_matting.data import UnknownCenteredCrop, UpscaleSmall

from .matting import matting_dataloader

NUM_TRAIN_IMAGES = 9421

dataloader = matting_dataloader(
    "p3m_train",
    "p3m_val_np",
    total_batch_size=32,
    num_workers=4,
    augmentations=[
        L(UpscaleSmall)(min_size=512, ratio=1.1),
        L(UnknownCenteredCrop)(crop_size=512, grid=4, min_candidates=10, no_unknown="resize"),
    ],
)
