# Table 5: DDC loss supervising the unknown region only (the whole-image version is
# ../am2k_ddc.py).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.losses = {"known": 1.0, "ddc": 10.0}
model.criterion.region = "unknown"
train.output_dir = "./output/ablations/ddc_unknown"
