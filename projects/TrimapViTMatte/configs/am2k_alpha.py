# The alpha-supervised counterpart of am2k_ddc.py (what ViTMatte is trained with): the same
# model, input trimaps and recipe, supervised by the GT alphas (AM-2K's mask/ folder) with L1.
from .am2k_ddc import dataloader, lr_multiplier, model, optimizer, train
from .common.trimap_input import supervise_with_alpha

supervise_with_alpha(model, dataloader, split="am2k_train", alpha_dir="mask")
train.output_dir = "./output/trimap_vitmatte/am2k_alpha"
