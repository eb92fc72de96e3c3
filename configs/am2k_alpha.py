# Fine-label baseline (Table 1, row "Matte"): the same model and recipe as am2k_ddc.py, supervised
# by the GT alpha mattes with an L1 loss instead of trimap labels.
from .am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "am2k_train_alpha"
dataloader.train.mapper.label = "alpha"
model.criterion.losses = {"alpha_l1": 1.0}
train.output_dir = "./output/am2k_alpha"
