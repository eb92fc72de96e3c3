#!/usr/bin/env python
"""Make coarse training labels (trimaps or segmentation masks) next to a matting dataset.

Modes (one output PNG per input file, same stem and size):

* ``trimap``: the authors' trimap labels from GT alphas (``alpha2trimap.py``): 640x640 resize
  with a random interpolation, certain foreground and background eroded with elliptic kernels
  (random sizes in [1, 29] drawn independently, or ``--kernel-size K`` for the roughness study:
  10 / 20 / 30), nearest resize back. ``--consistent-known`` also turns known pixels that
  contradict the full-resolution alpha unknown (off in the authors' released code).
* ``band``: trimaps from binary masks (Appendix B): the mask and its complement are eroded, the
  band between is unknown (alphas given as input count as masks at 0.5).
* ``mask``: the segmentation-mask labels of Table 7 from GT alphas: random threshold, random
  erosion / dilation. Values 0 / 255.
* ``--coco JSON --image-root DIR``: the trimap labels the mapper makes from COCO instance masks
  (``alphafree_matting.data.coco``: band scaled to the instance, other instances and crowd
  regions unknown), one ``<image_id>.png`` per sample (``<stem>_<annotation id>``, or
  ``<stem>`` with ``--per-image``), for inspection.

Every file gets its own random generator derived from ``--seed`` and its file name (the
interpolation and kernel sizes are drawn from it), so the labels do not depend on file order or
on ``--workers``.

Examples::

    python tools/make_trimap_labels.py --split am2k_train          # a built-in split's recipe
    python tools/make_trimap_labels.py --split am2k_train_k10 --split am2k_train_k20
    python tools/make_trimap_labels.py --input AM-2K/train/mask --output AM-2K/train/trimap \\
        --mode trimap --seed 0 --workers 4
    python tools/make_trimap_labels.py --coco coco/annotations/instances_val2017.json \\
        --image-root coco/val2017 --output coco/trimaps_val2017 --categories dog,cat
"""

import argparse
import json
import os
import sys
from multiprocessing import Pool
from typing import Optional

from tqdm import tqdm

from alphafree_matting.data import io
from alphafree_matting.data.builtin import BUILTIN_SPLITS, builtin_split_root
from alphafree_matting.data.coco import MIN_AREA, instance_label, load_coco_matting
from alphafree_matting.data.trimap_labels import (
    LABEL_RESOLUTION,
    RANDOM,
    alpha_to_mask,
    alpha_to_trimap,
    label_rng,
    mask_to_trimap,
)

MODES = ("trimap", "band", "mask")
RECIPE_FILE = ".label_recipe.json"  # provenance of an output folder (hidden: not listed as data)


def make_label(path: str, recipe: dict):
    """The label of one input file, as a uint8 ``(H, W)`` array; ``recipe`` as in make_labels."""
    stem = os.path.splitext(os.path.basename(path))[0]
    rng = label_rng(recipe["seed"], stem)
    kernel_size, resolution = recipe["kernel_size"], recipe["resolution"]
    if recipe["mode"] == "trimap":
        return alpha_to_trimap(
            io.read_alpha(path),
            kernel_size,
            rng=rng,
            resolution=resolution,
            interpolation=recipe["interpolation"],
            consistent_known=recipe["consistent_known"],
        )
    if recipe["mode"] == "band":
        return mask_to_trimap(io.read_mask(path), kernel_size, rng=rng, resolution=resolution)
    return alpha_to_mask(
        io.read_alpha(path), rng=rng, resolution=resolution, interpolation=recipe["interpolation"]
    )


def _work(job: tuple) -> Optional[str]:
    """Write one label; returns an error message instead of raising (for the summary)."""
    path, output_path, recipe = job
    try:
        io.write_png(output_path, make_label(path, recipe))
    except (io.MattingDataError, OSError) as error:
        return str(error)
    return None


def _check_recipe(output_dir: str, recipe: dict, overwrite: bool) -> None:
    recipe_path = os.path.join(output_dir, RECIPE_FILE)
    if os.path.isfile(recipe_path) and not overwrite:
        with open(recipe_path) as file:
            previous = json.load(file)
        if previous != recipe:
            raise SystemExit(
                f"{output_dir} holds labels made with {previous}, not {recipe}. Use --overwrite "
                "to remake them or choose another --output."
            )
    os.makedirs(output_dir, exist_ok=True)
    with open(recipe_path, "w") as file:
        json.dump(recipe, file, indent=1)


def make_labels(
    input_dir: str,
    output_dir: str,
    *,
    mode: str = "trimap",
    kernel_size: Optional[int] = None,
    seed: int = 0,
    resolution: int = LABEL_RESOLUTION,
    interpolation: str = RANDOM,
    consistent_known: bool = False,
    workers: int = 0,
    overwrite: bool = False,
) -> dict:
    """Write the labels of every file of ``input_dir`` to ``output_dir`` (``<stem>.png``).

    Existing outputs are kept unless ``overwrite`` (labels are reproducible, so an interrupted
    run can be resumed). Unreadable inputs are reported together at the end.

    Returns:
        ``{"written": int, "kept": int, "errors": [message, ...]}``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not os.path.isdir(input_dir):
        raise SystemExit(f"input folder not found: {input_dir}")
    names = sorted(
        name
        for name in os.listdir(input_dir)
        if os.path.splitext(name)[1].lower() in io.LABEL_EXTENSIONS and not name.startswith(".")
    )
    if not names:
        raise SystemExit(f"no label files ({' '.join(io.LABEL_EXTENSIONS)}) in {input_dir}")
    recipe = dict(
        mode=mode,
        kernel_size=kernel_size,
        seed=seed,
        resolution=resolution,
        interpolation=interpolation,
        consistent_known=consistent_known,
        source=os.path.basename(os.path.normpath(input_dir)),
    )
    _check_recipe(output_dir, recipe, overwrite)
    jobs = []
    for name in names:
        output_path = os.path.join(output_dir, os.path.splitext(name)[0] + ".png")
        if overwrite or not os.path.isfile(output_path):
            jobs.append((os.path.join(input_dir, name), output_path, recipe))
    progress = dict(total=len(jobs), desc=f"{mode} labels -> {output_dir}", unit="file")
    if workers > 1:
        with Pool(workers) as pool:
            errors = list(tqdm(pool.imap_unordered(_work, jobs, chunksize=8), **progress))
    else:
        errors = [_work(job) for job in tqdm(jobs, **progress)]
    errors = sorted(error for error in errors if error is not None)
    return {"written": len(jobs) - len(errors), "kept": len(names) - len(jobs), "errors": errors}


def make_coco_labels(
    json_file: str,
    image_root: str,
    output_dir: str,
    *,
    categories: Optional[list] = None,
    per_instance: bool = True,
    min_area: float = MIN_AREA,
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Write the mapper's trimap label of every sample of a COCO file to ``output_dir``.

    Returns:
        ``{"written": int, "kept": int, "errors": []}``.
    """
    options = dict(categories=categories, per_instance=per_instance, min_area=min_area, seed=seed)
    try:
        dataset_dicts = load_coco_matting(json_file, image_root, **options)
    except io.MattingDataError as error:
        raise SystemExit(str(error)) from error
    recipe = dict(mode="coco", source=os.path.basename(json_file), **options)
    _check_recipe(output_dir, recipe, overwrite)
    written = 0
    for record in tqdm(dataset_dicts, desc=f"COCO labels -> {output_dir}", unit="sample"):
        path = os.path.join(output_dir, f"{record['image_id']}.png")
        if overwrite or not os.path.isfile(path):
            io.write_png(path, instance_label(record, "trimap")[0])
            written += 1
    return {"written": written, "kept": len(dataset_dicts) - written, "errors": []}


def _split_jobs(names: list) -> list:
    """(input_dir, output_dir, make_labels options) of built-in splits' recipes."""
    jobs = []
    for name in names:
        if name not in BUILTIN_SPLITS:
            raise SystemExit(f"unknown split {name!r}; built-in splits: {sorted(BUILTIN_SPLITS)}")
        recipe = BUILTIN_SPLITS[name].recipe
        if recipe is None:
            raise SystemExit(f"split {name!r} uses the labels shipped with the dataset")
        root = builtin_split_root(name)
        options = dict(
            mode=recipe.mode,
            kernel_size=recipe.kernel_size,
            seed=recipe.seed,
            interpolation=recipe.interpolation,
            consistent_known=recipe.consistent_known,
        )
        jobs.append(
            (
                os.path.join(root, recipe.source_dir),
                os.path.join(root, recipe.output_dir),
                options,
            )
        )
    return jobs


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        help="built-in split whose generated labels to make (repeatable)",
    )
    parser.add_argument("--input", help="folder of GT alphas (modes trimap, mask) or masks (band)")
    parser.add_argument("--output", help="folder to write the labels to")
    parser.add_argument("--coco", metavar="JSON", help="COCO instances file (with --image-root)")
    parser.add_argument("--image-root", help="folder of the COCO file's images")
    parser.add_argument("--categories", help="--coco: comma-separated category names (default all)")
    parser.add_argument(
        "--per-image", action="store_true", help="--coco: one label per image (union of instances)"
    )
    parser.add_argument(
        "--min-area", type=float, default=MIN_AREA, help="--coco: smallest instance area (px)"
    )
    parser.add_argument("--mode", choices=MODES, default="trimap")
    parser.add_argument(
        "--kernel-size",
        type=int,
        default=None,
        help="fixed kernel size (default: random in [1, 29] for fg and bg)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resolution",
        type=int,
        default=LABEL_RESOLUTION,
        help="square working resolution (0: the file's own size)",
    )
    parser.add_argument(
        "--interpolation",
        choices=(RANDOM, "nearest", "linear", "cubic", "lanczos"),
        default=RANDOM,
        help="of the alpha's resize to the working resolution (release: random per file)",
    )
    parser.add_argument(
        "--consistent-known",
        action="store_true",
        help="turn known pixels that contradict the full-resolution alpha unknown",
    )
    parser.add_argument("--workers", type=int, default=0, help="processes (0: in this process)")
    parser.add_argument("--overwrite", action="store_true", help="remake existing label files")
    args = parser.parse_args(argv)
    sources = bool(args.split) + bool(args.input) + bool(args.coco)
    usage = (
        "give one of --split NAME, --input DIR with --output DIR, or --coco JSON with "
        "--image-root DIR and --output DIR"
    )
    if sources != 1 or bool(args.split) == bool(args.output):
        parser.error(usage)
    if bool(args.coco) != bool(args.image_root):
        parser.error("--coco and --image-root go together; " + usage)
    recipe_flags = ("--mode", "--kernel-size", "--seed", "--interpolation", "--consistent-known")
    given = [
        flag for flag in recipe_flags if any(a.split("=")[0] == flag for a in (argv or sys.argv))
    ]
    if args.split and given:
        parser.error(f"--split uses the split's own recipe; {', '.join(given)} go with --input")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.coco:
        categories = args.categories.split(",") if args.categories else None
        summary = make_coco_labels(
            args.coco,
            args.image_root,
            args.output,
            categories=categories,
            per_instance=not args.per_image,
            min_area=args.min_area,
            seed=args.seed,
            overwrite=args.overwrite,
        )
        print(f"{args.output}: {summary['written']} written, {summary['kept']} kept (existing)")
        return 0
    if args.split:  # a built-in split's recipe, as datasets/README.md lists it
        jobs = _split_jobs(args.split)
    else:
        options = dict(
            mode=args.mode,
            kernel_size=args.kernel_size,
            seed=args.seed,
            interpolation=args.interpolation,
            consistent_known=args.consistent_known,
        )
        jobs = [(args.input, args.output, options)]
    failed = False
    for input_dir, output_dir, options in jobs:
        summary = make_labels(
            input_dir,
            output_dir,
            **options,
            resolution=args.resolution,
            workers=args.workers,
            overwrite=args.overwrite,
        )
        print(f"{output_dir}: {summary['written']} written, {summary['kept']} kept (existing)")
        if summary["errors"]:
            failed = True
            print(
                f"{len(summary['errors'])} file(s) failed:",
                *summary["errors"],
                sep="\n  ",
                file=sys.stderr,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
