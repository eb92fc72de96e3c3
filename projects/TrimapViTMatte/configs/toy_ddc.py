# Trimap-input ViTMatte on the synthetic toy data (CPU, a few minutes): configs/demo_ddc.py with
# the trimap as input and label, scored on the unknown region.
#   python tools/lazyconfig_train_net.py --config-file projects/TrimapViTMatte/configs/toy_ddc.py
from ....configs.demo_ddc import dataloader, lr_multiplier, model, optimizer, train
from .common.trimap_input import use_trimap_input

use_trimap_input(model, dataloader)
train.output_dir = "./output/trimap_vitmatte/toy_ddc"
