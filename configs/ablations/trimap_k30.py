# Table 6 (Appendix A): trimap labels eroded with a fixed kernel of 30 (random [1, 29] is
# ../am2k_ddc.py). Make them with: python tools/make_trimap_labels.py --split am2k_train_k30
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "am2k_train_k30"
train.output_dir = "./output/ablations/trimap_k30"
