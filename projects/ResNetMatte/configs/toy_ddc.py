# ResNetMatte on the synthetic toy data, CPU, a few minutes: configs/demo_ddc.py with the model
# swapped for a narrow ResNet (one BasicBlock per stage) trained from scratch.
#   python tools/lazyconfig_train_net.py --config-file projects/ResNetMatte/configs/toy_ddc.py
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet
from detectron2.modeling.backbone.resnet import BasicBlock

from ....configs.demo_ddc import dataloader, lr_multiplier, optimizer, train
from .common.model import model

model.backbone.stem = L(BasicStem)(in_channels=3, out_channels=16, norm="BN")
model.backbone.stages = [
    L(ResNet.make_stage)(
        block_class=BasicBlock,
        num_blocks=1,
        in_channels=c_in,
        out_channels=c_out,
        stride_per_block=[stride],
        norm="BN",
    )
    for c_in, c_out, stride in zip([16, 16, 32, 64], [16, 32, 64, 128], [1, 2, 2, 2])
]
model.decoder.update(
    in_channels=[128, 64, 32, 16], fuse_channels=[64, 32, 16, 16, 8], detail_channels=[8]
)
optimizer.params.lr_decay_rate = None
train.output_dir = "./output/resnet_matte/toy_ddc"
