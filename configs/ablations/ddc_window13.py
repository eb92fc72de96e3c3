# Table 8 (Appendix D): DDC window (and neighbour count) 13 instead of 11 (../am2k_ddc.py).
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.criterion.window = 13
train.output_dir = "./output/ablations/ddc_window13"
