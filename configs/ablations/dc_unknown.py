# Table 5: DC loss supervising the unknown region only (the whole-image version is
# known_dc.py).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "dc": 10.0}
model.criterion.region = "unknown"
train.output_dir = "./output/ablations/dc_unknown"
