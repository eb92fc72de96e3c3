# Table 4, row 3 at CPU scale: known + distance consistency (DC) loss (weight 10, window 11).
from .known_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "dc": 10.0}
train.output_dir = "./output/ablation/known_dc"
