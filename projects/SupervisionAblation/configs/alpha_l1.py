# Table 1, row "Matte" at CPU scale: the same images supervised by their GT alphas (L1).
from .known_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "toy_ablation_train_alpha"
dataloader.train.mapper.label = "alpha"
model.criterion.losses = {"alpha_l1": 1.0}
train.output_dir = "./output/ablation/alpha_l1"
