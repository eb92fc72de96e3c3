#!/usr/bin/env python
"""Export a trained matting model (any MattingModel config) to ONNX with dynamic height and width.

    python tools/export_onnx.py --config-file configs/demo_ddc.py \\
        --checkpoint output/demo_ddc/model_final.pth --output model.onnx [--opset 18]

The graph maps the model's normalised, zero-padded input (1, C, H, W), H and W multiples of 32,
to the alpha (1, 1, H, W); the pre-processing constants are in the file's metadata (see README,
"ONNX"). Run it with ``tools/predict.py --onnx model.onnx ...``. The tool checks the export: it
compares onnxruntime with PyTorch at a size not traced and prints the largest difference.
Needs the interop extra (``pip install -e ".[interop]"``).
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch

from alphafree_matting.interop.onnx_export import DEFAULT_OPSET, example_size, export_onnx
from alphafree_matting.interop.onnx_predictor import onnx_matting_model
from alphafree_matting.predictor import MattingPredictor
from alphafree_matting.utils.errors import describe_error

CHECK_TOLERANCE = 1e-4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="LazyConfig of the model")
    parser.add_argument("--checkpoint", required=True, help="model weights (model_final.pth)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    parser.add_argument("--output", required=True, help="ONNX file to write")
    parser.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default: %(default)s)"
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison"
    )
    return parser


def check_export(model, path: str) -> float:
    """Largest |alpha difference| of onnxruntime vs PyTorch on a random input at a size that
    was not traced and is not a multiple of 32 (the model pads and crops as in evaluation)."""
    height, width = example_size(model)
    generator = torch.Generator().manual_seed(0)
    item = {"image": torch.rand(3, height + 37, width - 19, generator=generator)}
    if model.trimap_input:
        item["trimap"] = torch.randint(0, 3, (1, *item["image"].shape[1:]), generator=generator) / 2
    with torch.no_grad():
        expected = model([item])[0]["alpha"]
        alpha = onnx_matting_model(path, device="cpu", max_side=model.max_side)([item])[0]["alpha"]
    return float(np.abs(alpha.numpy() - expected.numpy()).max())


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = MattingPredictor(args.config_file, args.checkpoint, device="cpu").model
        export_onnx(model, args.output, opset=args.opset)
        difference = None if args.no_check else check_export(model, args.output)
    except Exception as error:  # one line for a user's mistake, the traceback for a bug
        print(f"error: {describe_error(error, debug=args.debug)}", file=sys.stderr)
        return 1
    if difference is not None and difference > CHECK_TOLERANCE:
        print(
            f"error: {args.output} differs from PyTorch by {difference:.2e} (> {CHECK_TOLERANCE})",
            file=sys.stderr,
        )
        return 1
    check = "" if difference is None else f"; onnxruntime vs PyTorch max |diff| {difference:.1e}"
    print(f"{args.checkpoint} -> {args.output} (opset {args.opset}, dynamic H x W{check})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
