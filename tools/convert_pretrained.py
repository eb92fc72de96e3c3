#!/usr/bin/env python
"""Convert pretrained weights into a checkpoint of this project's models.

    python tools/convert_pretrained.py dino_deitsmall16_pretrain.pth pretrained/dino_vit_s.pth
    python tools/convert_pretrained.py mae_pretrain_vit_base.pth pretrained/mae_vit_b.pth
    python tools/convert_pretrained.py dino_deitsmall16_pretrain.pth dino_vit_s_4ch.pth --in-chans 4
    python tools/convert_pretrained.py vitmatte-small-composition-1k/ pretrained/vitmatte_s_hf.pth

Sources: ImageNet-pretrained ViTs in timm's key layout (DINO ViT-S/16
https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth,
MAE ViT-B/16 https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth), converted to
``{"model": {"backbone.*": ...}}``; or a transformers ViTMatte (a ``save_pretrained`` directory
with config.json, or its model.safetensors / pytorch_model.bin, e.g. hustvl/vitmatte-small-
composition-1k), converted key by key to the whole trimap-input ViTMatte and checked against
--config-file (default projects/TrimapViTMatte/configs/am2k_ddc.py): every weight must load, and
the tool prints the config overrides a ViTMatte of another size needs. Either output is what
``train.init_checkpoint`` expects.
"""

import argparse
import os
import sys
from pathlib import Path

import torch

from alphafree_matting.checkpoint import (
    CheckpointLoadError,
    convert_hf_vitmatte,
    convert_vit_classifier,
    extract_state_dict,
    hf_vitmatte_overrides,
    is_hf_vitmatte_state_dict,
    load_pretrained,
    override_strings,
    read_checkpoint,
    read_hf_vitmatte,
)

REPO = Path(__file__).resolve().parents[1]
TRIMAP_VITMATTE_CONFIG = REPO / "projects" / "TrimapViTMatte" / "configs" / "am2k_ddc.py"
HF_WEIGHT_NAMES = ("pytorch_model.bin",)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "source",
        type=Path,
        help="DINO / MAE / timm ViT checkpoint (.pth), or a transformers ViTMatte directory / "
        "model.safetensors / pytorch_model.bin",
    )
    parser.add_argument("output", type=Path, help="converted checkpoint to write (.pth)")
    parser.add_argument(
        "--in-chans",
        type=int,
        default=None,
        help="input channels of the model: 3 (RGB, default) or 4 (RGB + trimap; extra weights "
        "are zero). A transformers ViTMatte keeps its own (4)",
    )
    parser.add_argument("--prefix", default="backbone.", help="module prefix of a ViT backbone")
    parser.add_argument(
        "--config-file",
        type=Path,
        default=TRIMAP_VITMATTE_CONFIG,
        help="LazyConfig a converted transformers ViTMatte is checked against "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read files holding arbitrary pickled objects (only for files you trust)",
    )
    return parser.parse_args(argv)


def is_hf_source(path: Path) -> bool:
    """A directory or a weights file as transformers' ``save_pretrained`` names them."""
    return path.is_dir() or path.suffix == ".safetensors" or path.name in HF_WEIGHT_NAMES


def convert_vit_backbone(args: argparse.Namespace, state_dict: dict) -> tuple[dict, str]:
    converted, report = convert_vit_classifier(
        state_dict, in_chans=args.in_chans or 3, prefix=args.prefix
    )
    return converted, str(report)


def check_against_config(args, overrides: dict, partial: Path) -> str:
    """Load the converted file into --config-file's model (with the overrides the source's
    config.json needs); raises CheckpointLoadError with the loader's report if anything is off."""
    from detectron2.config import LazyConfig, instantiate

    from alphafree_matting.checkpoint.hf_export import hf_vitmatte_config

    def build(cfg):  # shapes only: no weight initialisation
        with torch.device("meta"):
            return instantiate(cfg.model).to_empty(device="cpu")

    cfg = LazyConfig.load(str(args.config_file))
    try:
        configured = hf_vitmatte_overrides(hf_vitmatte_config(build(cfg)))
    except ValueError as error:
        raise CheckpointLoadError(f"{args.config_file} builds no ViTMatte: {error}") from None
    needed = {key: value for key, value in overrides.items() if configured.get(key) != value}
    LazyConfig.apply_overrides(cfg, override_strings(needed))
    words = " ".join(override_strings(needed))
    target = f"{args.config_file}" + (f" with {words}" if words else "")
    try:
        load_pretrained(build(cfg), partial, require_prefixes=("",), allow_missing=())
    except CheckpointLoadError as error:
        hint = "" if overrides else " (without its config.json; give --config-file of its model)"
        problems = str(error).split("\n", 1)[-1]
        raise CheckpointLoadError(
            f"{args.source} does not fit {target}{hint}:\n{problems}"
        ) from None
    return f"loads completely into {target}"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.output.resolve() == args.source.resolve():
        print("error: the output must differ from the source", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        overrides, hf_source = {}, is_hf_source(args.source)
        if hf_source:
            converted, report = read_hf_vitmatte(args.source)
            overrides, in_chans, summary = report.overrides, report.in_chans, str(report)
        else:
            state_dict = extract_state_dict(
                read_checkpoint(args.source, allow_pickle=args.allow_pickle)
            )
            hf_source = is_hf_vitmatte_state_dict(state_dict)
            if hf_source:  # transformers ViTMatte tensors saved as a .pth, without config.json
                converted = convert_hf_vitmatte(state_dict, source=str(args.source))
                in_chans = converted["backbone.patch_embed.proj.weight"].shape[1]
                summary = f"converted all {len(converted)} tensors of the transformers ViTMatte"
            else:
                converted, summary = convert_vit_backbone(args, state_dict)
        if hf_source and args.in_chans not in (None, in_chans):
            raise CheckpointLoadError(
                f"{args.source} is a whole ViTMatte for {in_chans} input channels; --in-chans "
                f"{args.in_chans} cannot change that (its decoder reads the input too)"
            )
        torch.save({"model": converted}, partial)
        if hf_source:
            summary += "; " + check_against_config(args, overrides, partial)
    except (FileNotFoundError, CheckpointLoadError, ValueError) as error:
        partial.unlink(missing_ok=True)
        print(f"error: {error}", file=sys.stderr)
        return 1
    os.replace(partial, args.output)  # never leave a half-written or unchecked checkpoint behind
    print(f"{args.source} -> {args.output}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
