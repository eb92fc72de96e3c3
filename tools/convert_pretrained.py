#!/usr/bin/env python
"""Convert ImageNet-pretrained ViT weights into a backbone checkpoint for the matting model.

    python tools/convert_pretrained.py dino_deitsmall16_pretrain.pth pretrained/dino_vit_s.pth
    python tools/convert_pretrained.py mae_pretrain_vit_base.pth pretrained/mae_vit_b.pth
    python tools/convert_pretrained.py dino_deitsmall16_pretrain.pth dino_vit_s_4ch.pth --in-chans 4

Sources (timm key layout): DINO ViT-S/16
https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth,
MAE ViT-B/16 https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth.
The output ``{"model": {"backbone.*": ...}}`` is what ``train.init_checkpoint`` expects.
"""

import argparse
import os
import sys
from pathlib import Path

import torch

from alphafree_matting.checkpoint import (
    CheckpointLoadError,
    convert_vit_classifier,
    extract_state_dict,
    read_checkpoint,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="DINO / MAE / timm ViT checkpoint (.pth)")
    parser.add_argument("output", type=Path, help="converted checkpoint to write (.pth)")
    parser.add_argument(
        "--in-chans",
        type=int,
        default=3,
        help="input channels of the model: 3 (RGB) or 4 (RGB + trimap; extra weights are zero)",
    )
    parser.add_argument("--prefix", default="backbone.", help="module prefix of the backbone")
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read files holding arbitrary pickled objects (only for files you trust)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.output.resolve() == args.source.resolve():
        print("error: the output must differ from the source", file=sys.stderr)
        return 2
    try:
        checkpoint = read_checkpoint(args.source, allow_pickle=args.allow_pickle)
        state_dict = extract_state_dict(checkpoint)
        converted, report = convert_vit_classifier(
            state_dict, in_chans=args.in_chans, prefix=args.prefix
        )
    except (FileNotFoundError, CheckpointLoadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(args.output.name + ".partial")
    torch.save({"model": converted}, partial)
    os.replace(partial, args.output)  # never leave a half-written checkpoint behind
    print(f"{args.source} -> {args.output}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
