#!/usr/bin/env python
"""Convert torchvision ImageNet ResNet weights into a backbone checkpoint for ResNetMatte.

    python projects/ResNetMatte/convert_torchvision_resnet.py resnet34-b627a593.pth \\
        pretrained/resnet34_torchvision.pth

Source: https://download.pytorch.org/models/resnet34-b627a593.pth (torchvision's ResNet-34).
The output ``{"model": {"backbone.*": ...}}`` is what ``train.init_checkpoint`` expects.
"""

import argparse
import sys
from pathlib import Path

import torch
from resnet_matte import convert_torchvision_resnet

from alphafree_matting.checkpoint import CheckpointLoadError, extract_state_dict, read_checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="torchvision ResNet state dict (.pth)")
    parser.add_argument("output", type=Path, help="converted checkpoint to write (.pth)")
    args = parser.parse_args(argv)
    try:
        converted, dropped = convert_torchvision_resnet(
            extract_state_dict(read_checkpoint(args.source))
        )
    except (FileNotFoundError, ValueError, CheckpointLoadError) as error:
        print(f"error: {args.source}: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": converted}, args.output)
    print(f"wrote {args.output}: {len(converted)} tensors, dropped {', '.join(dropped) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
