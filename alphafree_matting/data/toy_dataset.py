"""The :mod:`.synthetic` toy dataset as ``OUTPUT/{train,val}/{image,trimap,alpha}/NNNN.png``.

``OUTPUT/.complete``, the generation parameters (with the generator's source hash) written last,
makes a rewrite with the same parameters a no-op; anything else regenerates the splits.
"""

import ast
import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

import cv2
import numpy as np
from tqdm import tqdm

from . import synthetic, trimap_labels
from .io import write_png

__all__ = ["MARKER", "generation_parameters", "make_toy_dataset"]

logger = logging.getLogger(__name__)

MARKER = ".complete"
SPLITS = ("train", "val")
LAYERS = ("image", "trimap", "alpha")


def _code_without_docs(path: str) -> str:
    """The module's syntax tree without docstrings (comments are not in it): edits of the
    documentation leave the fingerprint, and the data, as they are."""
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def generator_fingerprint() -> str:
    """SHA-256 of the code that defines the files (generator, trimap labels, this writer)."""
    digest = hashlib.sha256()
    for path in (synthetic.__file__, trimap_labels.__file__, __file__):
        digest.update(_code_without_docs(path).encode())
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
        raise FileExistsError(
            f"{output} holds files make_toy_dataset did not write ({', '.join(foreign[:5])}); "
            "choose an empty or new output folder, or remove them."
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
        raise ValueError(
            f"make_toy_dataset needs num_train, num_val, seed >= 0, workers >= 1 and "
            f"size >= {synthetic.MIN_SIZE}"
        )
    parameters = generation_parameters(num_train, num_val, size, seed)
    marker = os.path.join(output, MARKER)
    if _read_marker(marker) == parameters:
        os.utime(marker)  # make sees the target up to date
        logger.info("%s is up to date (%d train, %d val, %d px)", output, num_train, num_val, size)
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
    logger.info(
        "Wrote %d train + %d val samples of %d px to %s in %.1f s",
        num_train,
        num_val,
        size,
        output,
        time.perf_counter() - start,
    )
    return True
