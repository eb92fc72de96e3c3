# Table 7 (Appendix B): segmentation-mask labels (no unknown region) with the BCE known loss,
# plus DDC. Make the masks with: python tools/make_trimap_labels.py --split am2k_train_masklabel
from ..am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "am2k_train_masklabel"
dataloader.train.mapper.label = "mask"
model.criterion.losses = {"known_bce": 1.0, "ddc": 10.0}
train.output_dir = "./output/ablations/masklabel_bce"
