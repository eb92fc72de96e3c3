"""ResNetMatte: the alpha-free criterion in a CNN matting model on detectron2's ResNet."""
from .decoder import UNetDecoder
from .meta_arch import ResNetMatte
from .torchvision_weights import convert_torchvision_resnet

__all__ = ["ResNetMatte", "UNetDecoder", "convert_torchvision_resnet"]
