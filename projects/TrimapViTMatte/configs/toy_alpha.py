# The alpha-supervised counterpart of toy_ddc.py: GT alphas (the toy data's alpha/ folder), L1.
from .common.trimap_input import supervise_with_alpha
from .toy_ddc import dataloader, lr_multiplier, model, optimizer, train

supervise_with_alpha(model, dataloader, split="toy_matting_train", alpha_dir="alpha")
train.output_dir = "./output/trimap_vitmatte/toy_alpha"
