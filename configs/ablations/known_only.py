# Table 4, row 1: known loss only (trimap labels, no neighbour loss).
# The neighbour losses share DDC's weight (10) and window (11).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0}
train.output_dir = "./output/ablations/known_only"
