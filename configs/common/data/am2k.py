# AM-2K (Sec. 4.1) as the authors' released code trains it: the 1,800 training images with generated
# trimap labels, 2 GPUs x 16 images (train.sh, configs/vitmatte_s_am2k_100ep.py), evaluated on the
# 200 validation images. Augmentation: data/am2k_dataset.py's RandomCrop only (no scale, no flip).
from detectron2.config import LazyCall as L

from alphafree_matting.data import UnknownCenteredCrop, UpscaleSmall

from .matting import matting_dataloader

NUM_TRAIN_IMAGES = 1800

dataloader = matting_dataloader(
    "am2k_train",
    "am2k_val",
    total_batch_size=32,  # 2 GPUs x 16: the decoder's BatchNorm sees 16 images per GPU
    num_workers=4,
    augmentations=[
        # Sides <= 512 upscaled by 1.1 x 512 / short side (random interpolation) ...
        L(UpscaleSmall)(min_size=512, ratio=1.1),
        # ... then a 512 crop centred on a random unknown pixel of the interior, drawn on a
        # 1/4-resolution grid; uniform if fewer than 10 candidates, whole image resized if none.
        L(UnknownCenteredCrop)(crop_size=512, grid=4, min_candidates=10, no_unknown="resize"),
    ],
)
