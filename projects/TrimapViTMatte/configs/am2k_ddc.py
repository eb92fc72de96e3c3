# Trimap-input ViTMatte-S on AM-2K trained without alpha labels: the generated trimap labels are
# both the input and the supervision (known + 10 x DDC); configs/am2k_ddc.py otherwise.
# The backbone keeps img_size 512, so official ViTMatte-S checkpoints load (see README).
#   python tools/convert_pretrained.py dino_deitsmall16_pretrain.pth \
#       pretrained/dino_vit_s_4ch.pth --in-chans 4
#   python tools/lazyconfig_train_net.py \
#       --config-file projects/TrimapViTMatte/configs/am2k_ddc.py --num-gpus 8
from ....configs.am2k_ddc import dataloader, lr_multiplier, model, optimizer, train
from .common.trimap_input import use_trimap_input

use_trimap_input(model, dataloader)
train.init_checkpoint = "pretrained/dino_vit_s_4ch.pth"
train.output_dir = "./output/trimap_vitmatte/am2k_ddc"
