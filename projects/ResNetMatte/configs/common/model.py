# ResNetMatte: detectron2's stock ResNet-34 backbone (ImageNet weights, frozen BatchNorm) and a
# light U-Net decoder with skips down to full resolution; image-only input. Trained with the
# plugin's criterion: known loss + 10 x DDC on trimap labels, exactly as ViTMatte is.
# The model code is the project's package resnet_matte (pip install -e projects/ResNetMatte).
from detectron2.config import LazyCall as L
from detectron2.modeling.backbone import BasicStem, ResNet
from resnet_matte import UNetDecoder

from alphafree_matting.criterion import TrimapCriterion
from alphafree_matting.modeling import MattingModel

# The plugin's meta-architecture takes any backbone + decoder: only the model differs.
model = L(MattingModel)(
    backbone=L(ResNet)(
        stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
        stages=L(ResNet.make_default_stages)(depth=34, norm="FrozenBN"),
        out_features=["res2", "res3", "res4", "res5"],
    ),
    decoder=L(UNetDecoder)(
        in_features=["res5", "res4", "res3", "res2"],  # strides 32, 16, 8, 4
        in_channels=[512, 256, 128, 64],
        fuse_channels=[256, 128, 64, 32, 16],  # at strides 16, 8, 4, 2, 1
        detail_channels=[32],  # one stride-2 conv stage on the image gives the stride-2 skip
        norm="BN",
    ),
    criterion=L(TrimapCriterion)(losses={"known": 1.0, "ddc": 10.0}, window=11),
)
