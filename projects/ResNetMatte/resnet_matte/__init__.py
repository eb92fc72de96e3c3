"""ResNetMatte: the alpha-free criterion in a CNN matting model on detectron2's ResNet.

The meta-architecture is the plugin's model-agnostic ``MattingModel``; this project only adds
the decoder for multi-scale CNN features and a torchvision weight converter.
"""

from .decoder import UNetDecoder
from .torchvision_weights import convert_torchvision_resnet

__all__ = ["UNetDecoder", "convert_torchvision_resnet"]
