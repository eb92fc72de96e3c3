# Table 4, row 2 at CPU scale: known + affinity loss (weight 10, window 11, as DDC).
from .known_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "affinity": 10.0}
train.output_dir = "./output/ablation/known_affinity"
