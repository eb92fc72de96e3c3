#!/usr/bin/env python
"""onnxruntime vs PyTorch CPU time of a model's network, random weights, in one process.

    python tools/benchmark_onnx.py --config-file projects/TrimapViTMatte/configs/am2k_ddc.py \\
        --size 1024 --repeats 5

Exports the config's model (random weights) with tools/export_onnx.py's exporter, then times the
network on one random (1, C, size, size) input: ``MattingModel.predict`` under ``torch.no_grad``
and the onnxruntime session (CPU provider, default threads), alternating the two in each round so
that machine load affects both alike; prints the medians, their ratio and the largest |alpha
difference|. Needs the interop extra.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.interop.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx
from alphafree_matting.interop.onnx_predictor import open_onnx_model

DEFAULT_CONFIG = os.path.join("projects", "TrimapViTMatte", "configs", "am2k_ddc.py")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", default=DEFAULT_CONFIG, help="default: %(default)s")
    parser.add_argument("--size", type=int, default=1024, help="input side (multiple of 32)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds after a warm-up")
    parser.add_argument("--keep", default=None, help="also keep the exported ONNX file here")
    return parser.parse_args(argv)


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    model = instantiate(LazyConfig.load(args.config_file).model).eval()
    channels = 4 if model.trimap_input else 3
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or os.path.join(folder, "model.onnx")
        export_seconds, _ = timed(lambda: export_onnx(model, path))
        session, _ = open_onnx_model(path, device="cpu")
        inputs = torch.rand(1, channels, args.size, args.size)
        feed = {INPUT_NAME: inputs.numpy()}
        with torch.no_grad():
            torch_times, onnx_times = [], []
            for round_index in range(args.repeats + 1):  # round 0 warms up both
                torch_seconds, expected = timed(lambda: model.predict(inputs))
                onnx_seconds, (alpha,) = timed(lambda: session.run([OUTPUT_NAME], feed))
                if round_index:
                    torch_times.append(torch_seconds)
                    onnx_times.append(onnx_seconds)
    torch_median, onnx_median = statistics.median(torch_times), statistics.median(onnx_times)
    difference = float(np.abs(alpha - expected.numpy()).max())
    print(
        f"{args.config_file} (random weights), input 1x{channels}x{args.size}x{args.size}, "
        f"torch threads {torch.get_num_threads()}, export {export_seconds:.0f} s\n"
        f"PyTorch {torch_median:.2f} s, onnxruntime {onnx_median:.2f} s (medians of "
        f"{args.repeats}): onnxruntime / PyTorch = {onnx_median / torch_median:.2f}; "
        f"max |alpha diff| {difference:.1e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
