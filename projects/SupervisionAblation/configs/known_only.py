# Table 4, row 1 at CPU scale: the known loss only.
from .known_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0}
train.output_dir = "./output/ablation/known_only"
