# The paper text's AM-2K augmentation (Sec. 4.1: random scale and horizontal flip; the text lost
# the values: the scale range 0.8-1.25 is ViTMatte's) around the authors' crop. The authors' code
# trains without them (../am2k_ddc.py); everything else is the authors' recipe.
from detectron2.config import LazyCall as L

from alphafree_matting.data import RandomHFlip, RandomScale, UnknownCenteredCrop, UpscaleSmall

from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.mapper.augmentations = [
    L(RandomScale)(scale_range=(0.8, 1.25), interpolation="linear"),
    L(UpscaleSmall)(min_size=512, ratio=1.1),
    L(UnknownCenteredCrop)(crop_size=512, grid=4, min_candidates=10, no_unknown="resize"),
    L(RandomHFlip)(prob=0.5),
]
train.output_dir = "./output/ablations/am2k_paper_text_aug"
