# ResNetMatte on AM-2K from trimap labels (known + 10 x DDC): configs/am2k_ddc.py with the model
# swapped. Data, criterion, schedule, evaluator and training script are the plugin's; the ViT's
# layer-wise lr decay does not apply to a CNN. The lr is the paper's, not tuned for this model.
#   python projects/ResNetMatte/convert_torchvision_resnet.py resnet34-b627a593.pth \
#       pretrained/resnet34_torchvision.pth
#   python tools/lazyconfig_train_net.py \
#       --config-file projects/ResNetMatte/configs/am2k_ddc.py --num-gpus 8
from ....configs.am2k_ddc import dataloader, lr_multiplier, optimizer, train
from .common.model import model

optimizer.params.lr_decay_rate = None
train.init_checkpoint = "pretrained/resnet34_torchvision.pth"
train.output_dir = "./output/resnet_matte/am2k_ddc"
