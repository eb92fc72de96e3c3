#!/usr/bin/env python
"""Write the synthetic toy matting dataset (``alphafree_matting.data.synthetic``) to disk.

    python tools/make_toy_dataset.py --output datasets/toy_matting \\
        [--num-train 200 --num-val 20 --size 128 --seed 0 --workers 2]

Layout (the generic matting folder layout, 8-bit PNGs, alpha rounded to 1/255 exactly)::

    OUTPUT/{train,val}/{image,trimap,alpha}/NNNN.png
    OUTPUT/.complete      JSON of the generation parameters, written last

Re-running with the same parameters is a no-op (it only refreshes the marker's time stamp, so
``make`` sees the target up to date). Other parameters, a changed generator, or an interrupted
run (no marker) regenerate the splits from scratch; the marker is removed before anything is
written, so a half-written dataset is never marked complete. The parameters include a hash of
the generator's source, so editing it regenerates the data. Samples are pure functions of
(seed, index, size): the output does not depend on ``--workers``.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

import cv2
import numpy as np
from tqdm import tqdm

from alphafree_matting.data import synthetic, trimap_labels
from alphafree_matting.data.io import write_png

MARKER = ".complete"
SPLITS = ("train", "val")
LAYERS = ("image", "trimap", "alpha")


def generator_fingerprint() -> str:
    """SHA-256 of the sources that define the samples (generator and trimap labels)."""
    digest = hashlib.sha256()
    for module in (synthetic, trimap_labels):
        with open(module.__file__, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def generation_parameters(num_train: int, num_val: int, size: int, seed: int) -> dict:
    """Everything the written files depend on (not the number of workers)."""
    return {
        "generator": "alphafree_matting.data.synthetic.make_sample",
        "generator_sha256": generator_fingerprint(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "num_train": num_train,
        "num_val": num_val,
        "size": size,
        "seed": seed,
        "splits": {
            "train": synthetic.SPLIT_FIRST_INDEX["train"],
            "val": synthetic.SPLIT_FIRST_INDEX["val"],
        },
    }


def _read_marker(path: str) -> Optional[dict]:
    try:
        with open(path) as marker:
            return json.load(marker)
    except (OSError, ValueError):
        return None


def _write_sample(task: tuple[str, str, int, int, int]) -> None:
    output, split, position, size, seed = task
    sample = synthetic.make_sample(synthetic.split_sample_index(split, position), size, seed)
    sample["alpha"] = np.round(sample["alpha"] * 255.0).astype(np.uint8)  # exact: k / 255
    for layer in LAYERS:
        write_png(os.path.join(output, split, layer, f"{position:04d}.png"), sample[layer])


def _is_generated_split(folder: str) -> bool:
    """True if ``folder`` holds only ``{image,trimap,alpha}/<digits>.png`` (this tool's output)."""
    for layer in os.listdir(folder):
        layer_folder = os.path.join(folder, layer)
        if layer not in LAYERS or not os.path.isdir(layer_folder):
            return False
        names = os.listdir(layer_folder)
        if not all(name.endswith(".png") and name[:-4].isdigit() for name in names):
            return False
    return True


def _clear_previous_run(output: str) -> None:
    """Remove an earlier (possibly partial) toy dataset; refuse to touch any other folder."""
    if not os.path.isdir(output):
        return
    entries = set(os.listdir(output))
    foreign = sorted(entries - set(SPLITS) - {MARKER, MARKER + ".tmp"})
    foreign += [
        f"{split}/"
        for split in SPLITS
        if split in entries and not _is_generated_split(os.path.join(output, split))
    ]
    if foreign:
        raise SystemExit(
            f"{output} holds files this tool did not write ({', '.join(foreign[:5])}); "
            "choose an empty or new --output folder, or remove them."
        )
    for name in (MARKER, MARKER + ".tmp"):
        if os.path.exists(os.path.join(output, name)):
            os.remove(os.path.join(output, name))
    for split in SPLITS:
        shutil.rmtree(os.path.join(output, split), ignore_errors=True)


def make_toy_dataset(
    output: str,
    num_train: int = 200,
    num_val: int = 20,
    size: int = 128,
    seed: int = 0,
    workers: int = 1,
) -> bool:
    """Write the dataset unless ``output`` already holds it with the same parameters.

    Returns:
        True if the dataset was (re)generated, False if it was already complete.
    """
    if min(num_train, num_val, seed) < 0 or workers < 1 or size < synthetic.MIN_SIZE:
        raise SystemExit(
            f"need --num-train, --num-val, --seed >= 0, --workers >= 1 and "
            f"--size >= {synthetic.MIN_SIZE}"
        )
    parameters = generation_parameters(num_train, num_val, size, seed)
    marker = os.path.join(output, MARKER)
    if _read_marker(marker) == parameters:
        os.utime(marker)
        print(f"{output} is up to date ({num_train} train, {num_val} val, {size}px, seed {seed})")
        return False
    _clear_previous_run(output)
    tasks = [
        (output, split, position, size, seed)
        for split, count in zip(SPLITS, (num_train, num_val))
        for position in range(count)
    ]
    start = time.perf_counter()
    with tqdm(total=len(tasks), desc=f"writing {output}", unit="sample") as progress:
        if workers == 1:
            for task in tasks:
                _write_sample(task)
                progress.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(_write_sample, tasks, chunksize=8):
                    progress.update()
    for split in SPLITS:  # empty splits still get their folders (the layout is complete)
        for layer in LAYERS:
            os.makedirs(os.path.join(output, split, layer), exist_ok=True)
    with open(marker + ".tmp", "w") as temporary:
        json.dump(parameters, temporary, indent=2, sort_keys=True)
    os.replace(marker + ".tmp", marker)  # atomic: the marker appears only when all is written
    print(
        f"wrote {num_train} train + {num_val} val samples of {size}px to {output} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return True


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="datasets/toy_matting", help="dataset folder")
    parser.add_argument("--num-train", type=int, default=200, help="training images")
    parser.add_argument("--num-val", type=int, default=20, help="validation images")
    parser.add_argument("--size", type=int, default=128, help="side of the square images")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes (the output does not depend on it)",
    )
    args = parser.parse_args(argv)
    make_toy_dataset(args.output, args.num_train, args.num_val, args.size, args.seed, args.workers)


if __name__ == "__main__":
    sys.exit(main())
