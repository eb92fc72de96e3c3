#!/usr/bin/env python
"""Predict alpha mattes, RGBA cut-outs and composites for image files with a trained model.

    python tools/predict.py --config-file configs/demo_ddc.py \\
        --checkpoint output/demo_ddc/model_final.pth --input photos/ --output predictions/ \\
        [--device auto|cpu|cuda] [--max-side 1024] [--trimap trimaps/] [--background white]
    python tools/predict.py --onnx model.onnx --input photos/ --output predictions/   # onnxruntime

``--input`` takes folders (their images), files and globs (quote them: ``"photos/*.jpg"``).
Per input image ``NAME.ext`` it writes::

    OUTPUT/alpha/NAME.png       8-bit alpha matte, round(alpha * 255)
    OUTPUT/cutout/NAME.png      RGBA: estimated foreground colours + that alpha
    OUTPUT/composite/NAME.png   with --background: the foreground over a colour or an image

Images are predicted at full resolution in bounded memory (the model's ``bounded_inference``);
when one takes longer than a few seconds a second bar follows its tiles. ``--max-side`` predicts
large images smaller, for speed. A file that fails (unreadable, wrong trimap size, ...) is
reported with the reason and skipped;
the exit code is the number of failed images (at most 255), 0 when all succeeded. Problems that
stop everything before the first image (bad config, checkpoint, background, no input) exit 2.
An ``--input`` that matches no image counts as one failure.
"""

import argparse
import contextlib
import glob
import os
import sys
import time
from collections.abc import Sequence
from typing import Optional

from detectron2.utils.logger import setup_logger
from tqdm import tqdm

from alphafree_matting.compositing import load_foreground_estimator, matte_outputs, parse_color
from alphafree_matting.data.io import (
    IMAGE_EXTENSIONS,
    LABEL_EXTENSIONS,
    MattingDataError,
    read_image,
    write_png,
)
from alphafree_matting.predictor import DEVICES, MattingPredictor, load_predictor
from alphafree_matting.utils.errors import describe_error, is_user_error

MAX_EXIT_CODE = 255
TILE_BAR_DELAY = 3.0
"""Seconds one image takes before a progress bar over its tiles appears."""


def collect_inputs(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Image files named by folders (their image files, sorted), files and glob patterns.

    Returns:
        the files (each once, in the order given) and the patterns that matched nothing.
    """
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            names = sorted(name for name in os.listdir(pattern) if not name.startswith("."))
            names = [name for name in names if os.path.isfile(os.path.join(pattern, name))]
            matches = [
                os.path.join(pattern, name)
                for name in names
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
            ]
            skipped = len(names) - len(matches)
            if skipped:
                print(
                    f"{pattern}: skipped {skipped} file(s) that are not images "
                    f"({' '.join(IMAGE_EXTENSIONS)})",
                    file=sys.stderr,
                )
        elif os.path.isfile(pattern):
            matches = [pattern]
        else:
            matches = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
        files += matches
        if not matches:
            unmatched.append(pattern)
    return list(dict.fromkeys(os.path.normpath(path) for path in files)), unmatched


def output_names(files: Sequence[str]) -> list[str]:
    """Output name of each input: its stem, or ``stem.ext`` when two inputs share a stem."""
    stems = [os.path.splitext(os.path.basename(path))[0] for path in files]
    names = []
    for path, stem in zip(files, stems):
        names.append(os.path.basename(path) if stems.count(stem) > 1 else stem)
    if len(set(names)) != len(names):  # same file name in two folders: keep them apart
        names = [f"{index:05d}_{name}" for index, name in enumerate(names)]
    return names


def find_trimap(trimap_dir: str, file_name: str) -> str:
    """``trimap_dir/<stem>.<label extension>`` of an image; MattingDataError if there is none."""
    stem = os.path.splitext(os.path.basename(file_name))[0]
    for extension in LABEL_EXTENSIONS:
        path = os.path.join(trimap_dir, stem + extension)
        if os.path.isfile(path):
            return path
    raise MattingDataError(
        f"no trimap {stem}.png (or {'/'.join(LABEL_EXTENSIONS[1:])}) in {trimap_dir}"
    )


def load_background(text: str):
    """``--background``: an image file (uint8 RGB array) or a colour ((3,) float RGB)."""
    if os.path.isfile(text):
        return read_image(text)
    try:
        return parse_color(text)
    except ValueError as error:
        raise ValueError(
            f"--background {text!r} is neither an image file nor a colour: {error}"
        ) from None


def check_output_folder(output: str) -> None:
    """OSError unless ``output`` is a writable folder or can be made one (nothing is created)."""
    existing = os.path.abspath(output)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise NotADirectoryError(
            f"--output {output}: {existing} is a file, not a folder; give another --output"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--output {output}: no permission to write in {existing}")


def write_outputs(prediction, name: str, output: str, background) -> None:
    """alpha / cutout (/ composite) PNGs of one prediction."""
    outputs = matte_outputs(prediction.image, prediction.alpha, background)
    write_png(os.path.join(output, "alpha", f"{name}.png"), outputs.alpha)
    write_png(os.path.join(output, "cutout", f"{name}.png"), outputs.cutout)
    if outputs.composite is not None:
        write_png(os.path.join(output, "composite", f"{name}.png"), outputs.composite)


def build_predictor(args: argparse.Namespace) -> MattingPredictor:
    """The predictor of --checkpoint (with --config-file) or --onnx."""
    return load_predictor(
        args.config_file,
        checkpoint=args.checkpoint,
        onnx=args.onnx,
        device=args.device,
        max_side=args.max_side,
    )


@contextlib.contextmanager
def tile_progress(name: str):
    """A ``progress(done, total)`` callback drawing a bar over the tiles of one image, shown only
    once the image takes longer than ``TILE_BAR_DELAY`` seconds."""
    bar = tqdm(
        total=0,
        desc=name,
        unit="tile",
        leave=False,
        position=1,
        delay=TILE_BAR_DELAY,
        mininterval=0,  # a tile takes seconds: draw every one (tqdm's default skips fast updates)
        miniters=1,
        dynamic_ncols=True,
    )

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "--config-file", help="LazyConfig of the model (with --onnx: optional, only checked)"
    )
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--checkpoint", help="model weights (model_final.pth)")
    weights.add_argument("--onnx", help="ONNX model from tools/export_onnx.py, run by onnxruntime")
    parser.add_argument("--input", required=True, nargs="+", help="folders, files or globs")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--device", default="auto", help=f"one of {DEVICES} or cuda:N")
    parser.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="predict larger images at this longer side and resize the alpha back, for speed "
        "(default: the config's model.max_side; full resolution fits in memory without it)",
    )
    parser.add_argument(
        "--trimap", default=None, help="folder of <stem>.png trimaps, for trimap-input models"
    )
    parser.add_argument(
        "--background",
        default=None,
        help="also write composites over this colour (white, #00ff00, 0,255,0) or image file",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logger(name="alphafree_matting", abbrev_name="afm")

    files, unmatched = collect_inputs(args.input)
    if not files:
        parser.error(f"no image found in --input {' '.join(args.input)}")
    failures = [(pattern, "no image file, folder or glob match") for pattern in unmatched]
    for pattern, reason in failures:
        print(f"FAILED {pattern}: {reason}", file=sys.stderr)
    if args.trimap is not None and not os.path.isdir(args.trimap):
        parser.error(f"--trimap {args.trimap} is not a folder")
    try:  # before the first image, not once per image
        check_output_folder(args.output)
    except OSError as error:
        parser.error(str(error))
    try:
        background = None if args.background is None else load_background(args.background)
        load_foreground_estimator()  # its slow first import before the timed loop
        predictor = build_predictor(args)
        if args.trimap is not None and not predictor.trimap_input:
            raise ValueError("--trimap given, but this model does not take a trimap input")
        if args.trimap is None and predictor.trimap_input:
            raise ValueError("this model takes a trimap input: give --trimap DIR")
    except Exception as error:  # a setup problem: one line if it is the user's, exit 2
        if args.debug or not is_user_error(error):
            print(describe_error(error, debug=args.debug), file=sys.stderr)
            return 2
        parser.error(describe_error(error))

    start = time.perf_counter()
    progress = tqdm(
        zip(files, output_names(files)),
        total=len(files),
        unit="img",
        desc="predict",
        dynamic_ncols=True,
    )
    for file_name, name in progress:
        try:
            trimap = None if args.trimap is None else find_trimap(args.trimap, file_name)
            with tile_progress(name) as on_tile:
                prediction = predictor.predict(file_name, trimap, progress=on_tile)
            write_outputs(prediction, name, args.output, background)
        except Exception as error:  # report the file and go on with the rest
            failures.append((file_name, f"{type(error).__name__}: {error}"))
            tqdm.write(
                f"FAILED {file_name}: {describe_error(error, debug=args.debug)}", file=sys.stderr
            )
    progress.close()

    elapsed = time.perf_counter() - start
    done = len(files) + len(unmatched) - len(failures)
    print(
        f"{done} of {len(files)} images written to {args.output} in {elapsed:.1f} s "
        f"({len(files) / max(elapsed, 1e-9):.2f} img/s)"
    )
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for file_name, reason in failures:
            print(f"  {file_name}: {reason}", file=sys.stderr)
    return min(len(failures), MAX_EXIT_CODE)


if __name__ == "__main__":
    sys.exit(main())
