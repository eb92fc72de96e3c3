#!/usr/bin/env python
"""Export a trimap-input ViTMatte trained here as a transformers ViTMatte directory.

    python tools/export_hf.py --config-file projects/TrimapViTMatte/configs/am2k_ddc.py \\
        --checkpoint output/trimap_vitmatte/am2k_ddc/model_final.pth --output vitmatte_afm/

The directory holds config.json + model.safetensors (``VitMatteForImageMatting.from_pretrained``
loads it with no missing key; the tool checks) and a preprocessor_config.json whose settings are
this project's preprocessing (ImageNet mean / std, not the processor's 0.5 defaults; see README,
"Hugging Face ViTMatte"). Needs the interop extra (``pip install -e ".[interop]"``).
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from alphafree_matting.checkpoint.hf_export import save_hf_vitmatte
from alphafree_matting.predictor import MattingPredictor
from alphafree_matting.utils.errors import describe_error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="LazyConfig of the model")
    parser.add_argument("--checkpoint", required=True, help="model weights (model_final.pth)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    parser.add_argument("--output", required=True, help="directory to write")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        model = MattingPredictor(args.config_file, args.checkpoint, device="cpu").model
        info = save_hf_vitmatte(model, args.output)
    except Exception as error:  # one line for a user's mistake, the traceback for a bug
        print(f"error: {describe_error(error, debug=args.debug)}", file=sys.stderr)
        return 1
    problems = {key: value for key, value in info.items() if value}
    if problems:
        print(f"error: {args.output} does not load back cleanly: {problems}", file=sys.stderr)
        return 1
    print(f"{args.checkpoint} -> {args.output}: transformers ViTMatte, loads with no missing key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
