# Table 4, row 2: known loss + affinity loss (nonlocal principle, Eq. 4).
# The neighbour losses share DDC's weight (10) and window (11).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "affinity": 10.0}
train.output_dir = "./output/ablations/known_affinity"
