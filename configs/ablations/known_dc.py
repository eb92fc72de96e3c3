# Table 4, row 3 / Table 5 "whole": known loss + DC loss (Eq. 8) over the whole image.
# The neighbour losses share DDC's weight (10) and window (11).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "dc": 10.0}
train.output_dir = "./output/ablations/known_dc"
