"""The built-in splits, registered in detectron2's catalogs when :mod:`alphafree_matting.data`
is imported (as detectron2's own ``data/datasets/builtin.py`` does): AM-2K, P3M-10K, their
generated label folders, the toy data of the demo and the CPU study, mixed alpha / trimap splits
and COCO instances. Configs only name them; ``datasets/README.md`` lists their folders.
"""

import os
from dataclasses import dataclass
from typing import Optional

from detectron2.data import DatasetCatalog

from .catalog import register_split
from .coco import load_coco_matting
from .datasets import DATASETS_ROOT_ENV, datasets_root, load_matting_folder
from .io import MattingDataError
from .mixing import register_mixed_split

__all__ = [
    "BUILTIN_SPLITS",
    "COCO_SPLITS",
    "MIXED_SPLITS",
    "BuiltinSplit",
    "LabelRecipe",
    "builtin_split_root",
    "load_builtin_split",
    "recipe_command",
    "register_all_builtin",
]

AM2K_DOWNLOAD = "https://github.com/JizhiziLi/GFM (section AM-2k)"
P3M_DOWNLOAD = "https://github.com/JizhiziLi/P3M (section P3M-10k)"
TOY_COMMAND = "python tools/make_toy_dataset.py --output {dataset_dir}   (or: make demo)"
TOY_ABLATION_COMMAND = (
    "python tools/make_toy_dataset.py --output {dataset_dir} --num-train 600 --num-val 50   "
    "(or: make ablation)"
)
COCO_DOWNLOAD = "https://cocodataset.org (train2017 images, 2017 train/val annotations)"


@dataclass(frozen=True)
class LabelRecipe:
    """How ``tools/make_trimap_labels.py`` makes a generated label folder of a built-in split:
    ``mode`` ``"trimap"`` (the paper's eroded alpha) or ``"mask"`` (Table 7); the other fields as
    in ``trimap_labels.alpha_to_trimap`` (the authors' code: random kernel and interpolation)."""

    source_dir: str
    output_dir: str
    mode: str = "trimap"
    kernel_size: Optional[int] = None
    seed: int = 0
    interpolation: str = "random"
    consistent_known: bool = False


@dataclass(frozen=True)
class BuiltinSplit:
    """A built-in split: ``$DETECTRON2_DATASETS/<one of dataset_dirs>/<subdir>``."""

    dataset_dirs: tuple[str, ...]  # accepted spellings of the dataset folder, preferred first
    subdir: str
    image_dir: str
    label_dirs: tuple[tuple[str, str], ...]  # (kind, subfolder)
    source: str  # download page or command that makes the data
    recipe: Optional[LabelRecipe] = None  # for a label folder made by tools/make_trimap_labels.py


def _am2k(subdir, labels, recipe=None):
    return BuiltinSplit(("AM-2K", "AM-2k"), subdir, "original", labels, AM2K_DOWNLOAD, recipe)


def _p3m(subdir, image_dir, labels, recipe=None):
    return BuiltinSplit(("P3M-10k", "P3M-10K"), subdir, image_dir, labels, P3M_DOWNLOAD, recipe)


def _toy(subdir, labels, dataset="toy_matting", source=TOY_COMMAND):
    return BuiltinSplit((dataset,), subdir, "image", labels, source)


def _toy_ablation(subdir, labels):
    return _toy(subdir, labels, "toy_ablation", TOY_ABLATION_COMMAND)


BUILTIN_SPLITS: dict[str, BuiltinSplit] = {
    "am2k_train": _am2k("train", (("trimap", "trimap"),), LabelRecipe("mask", "trimap")),
    **{
        f"am2k_train_k{size}": _am2k(
            "train",
            (("trimap", f"trimap_k{size}"),),
            LabelRecipe("mask", f"trimap_k{size}", kernel_size=size),
        )
        for size in (10, 20, 30)
    },
    "am2k_train_masklabel": _am2k(
        "train", (("mask", "seg_mask"),), LabelRecipe("mask", "seg_mask", mode="mask")
    ),
    "am2k_train_alpha": _am2k("train", (("alpha", "mask"),)),
    "am2k_val": _am2k("validation", (("alpha", "mask"), ("trimap", "trimap"))),
    "p3m_train": _p3m(
        "train", "blurred_image", (("trimap", "trimap"),), LabelRecipe("mask", "trimap")
    ),
    "p3m_train_alpha": _p3m("train", "blurred_image", (("alpha", "mask"),)),
    "p3m_val_np": _p3m(
        "validation/P3M-500-NP", "original_image", (("alpha", "mask"), ("trimap", "trimap"))
    ),
    "p3m_val_p": _p3m(
        "validation/P3M-500-P", "blurred_image", (("alpha", "mask"), ("trimap", "trimap"))
    ),
    "toy_matting_train": _toy("train", (("trimap", "trimap"),)),
    "toy_matting_val": _toy("val", (("alpha", "alpha"), ("trimap", "trimap"))),
    # the CPU-scale supervision study (make ablation): the same images with trimaps or alphas
    "toy_ablation_train": _toy_ablation("train", (("trimap", "trimap"),)),
    "toy_ablation_train_alpha": _toy_ablation("train", (("alpha", "alpha"),)),
    "toy_ablation_val": _toy_ablation("val", (("alpha", "alpha"), ("trimap", "trimap"))),
}
"""Every built-in folder split; ``datasets/README.md`` lists them with their folders."""

MIXED_SPLITS: dict[str, tuple[str, str, float]] = {
    "am2k_train_alpha10": ("am2k_train_alpha", "am2k_train", 0.1),  # configs/am2k_mixed.py
    "toy_ablation_train_alpha10": ("toy_ablation_train_alpha", "toy_ablation_train", 0.1),
}
"""Mixed-supervision splits (:func:`.mixing.mix_label_splits`, seed 0): name -> (alpha split,
trimap split, share of the images that keep their alpha)."""

COCO_ANIMALS = [
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
]
"""COCO's animal categories (configs/coco_animals_ddc.py)."""

COCO_SPLITS: dict[str, tuple[str, str, Optional[list[str]]]] = {
    "coco_animals_train": (
        "coco/annotations/instances_train2017.json",
        "coco/train2017",
        COCO_ANIMALS,
    ),
}
"""COCO instance splits (:func:`.coco.load_coco_matting`, default options): name -> (annotation
file, image folder, categories), under :func:`datasets_root` (detectron2's COCO layout)."""


def _dataset_dir(split: BuiltinSplit) -> str:
    """The split's dataset folder under :func:`datasets_root` (the first existing spelling)."""
    candidates = [os.path.join(datasets_root(), spelling) for spelling in split.dataset_dirs]
    return next((path for path in candidates if os.path.isdir(path)), candidates[0])


def builtin_split_root(name: str) -> str:
    """Folder of a built-in split, e.g. ``$DETECTRON2_DATASETS/AM-2K/train``."""
    split = BUILTIN_SPLITS[name]
    return os.path.join(_dataset_dir(split), split.subdir)


def recipe_command(name: str) -> str:
    """The command that makes the generated label folder of a built-in split."""
    recipe = BUILTIN_SPLITS[name].recipe
    split_root = builtin_split_root(name)
    kernel = "" if recipe.kernel_size is None else f" --kernel-size {recipe.kernel_size}"
    return (
        f"python tools/make_trimap_labels.py --split {name}   (same as: python "
        f"tools/make_trimap_labels.py --input {os.path.join(split_root, recipe.source_dir)} "
        f"--output {os.path.join(split_root, recipe.output_dir)} --mode {recipe.mode}{kernel} "
        f"--seed {recipe.seed})"
    )


def load_builtin_split(name: str) -> list[dict]:
    """List a built-in split; errors name the expected folder and how to get it."""
    split = BUILTIN_SPLITS[name]
    root = builtin_split_root(name)
    source = split.source.format(dataset_dir=_dataset_dir(split))
    if source.startswith("http"):
        where = (
            f"Get the data from {source} and unpack it under ${DATASETS_ROOT_ENV} "
            f"(now {os.path.abspath(datasets_root())})."
        )
    else:
        where = f"Make it with: {source}"
    if not os.path.isdir(root):
        raise MattingDataError(f"dataset folder of '{name}' not found: {root}. {where}")
    hints = {split.image_dir: where}
    hints.update({subfolder: where for _, subfolder in split.label_dirs})
    if split.recipe is not None:
        hints[split.recipe.output_dir] = (
            f"These labels are generated from {split.recipe.source_dir}/; make them with: "
            f"{recipe_command(name)}"
        )
    return load_matting_folder(
        root, image_dir=split.image_dir, label_dirs=dict(split.label_dirs), hints=hints
    )


def load_builtin_coco(name: str) -> list[dict]:
    """List a built-in COCO split; a missing annotation file names the path and the download."""
    json_file, image_root, categories = COCO_SPLITS[name]
    json_file = os.path.join(datasets_root(), json_file)
    if not os.path.isfile(json_file):
        raise MattingDataError(
            f"annotation file of '{name}' not found: {json_file}. Get COCO from {COCO_DOWNLOAD} "
            f"and unpack it under ${DATASETS_ROOT_ENV} (now {os.path.abspath(datasets_root())}) "
            "in detectron2's layout (coco/annotations, coco/train2017)."
        )
    return load_coco_matting(
        json_file, os.path.join(datasets_root(), image_root), categories=categories
    )


def register_all_builtin() -> None:
    """Register every built-in split lazily (nothing is read until a split is used; paths
    follow ``$DETECTRON2_DATASETS`` at that time). Names already registered are left alone."""
    registered = set(DatasetCatalog.list())
    for name, split in BUILTIN_SPLITS.items():
        if name not in registered:
            register_split(
                name,
                lambda name=name: load_builtin_split(name),
                label_dirs=dict(split.label_dirs),
                dataset_dir=split.dataset_dirs[0],
                split_dir=split.subdir,
                source=split.source,
            )
    for name, (alpha_split, trimap_split, fraction) in MIXED_SPLITS.items():
        if name not in registered:
            register_mixed_split(name, alpha_split, trimap_split, fraction, seed=0)
    for name in COCO_SPLITS:
        if name not in registered:
            register_split(name, lambda name=name: load_builtin_coco(name), source=COCO_DOWNLOAD)
