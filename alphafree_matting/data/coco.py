"""COCO-format instance annotations as matting training data: :func:`register_coco_matting`.

Each usable instance (or each image's union of them, ``per_instance=False``) is a sample whose
mask the mapper turns into a trimap with a seeded, size-scaled unknown band
(:mod:`.instance_labels`). ``iscrowd`` regions, instances below ``min_area`` and, in an
instance's label, the other chosen instances are unknown; other categories are background.
Malformed annotations are skipped and counted in the log; a non-COCO file, a bad category
selection, missing image files and an empty selection are errors.
"""

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np
from pycocotools import mask as mask_util

from .catalog import register_split
from .instance_labels import BAND_RANGE, band_trimap, band_widths, check_band, object_size
from .io import MattingDataError
from .trimap_labels import label_rng

logger = logging.getLogger(__name__)

__all__ = [
    "INSTANCE_MASK_KEY",
    "MIN_AREA",
    "load_coco_matting",
    "register_coco_matting",
    "decode_segmentations",
    "instance_label",
]

INSTANCE_MASK_KEY = "instance_mask"
"""Dataset dict key of a COCO sample's ``{"segmentation": [...], "unknown": [...], "seed": int,
"band": (low, high)}`` (segmentations of the foreground and of always-unknown pixels)."""
MIN_AREA = 32 * 32
"""Default smallest instance area in px (COCO's small-object limit)."""
_REQUIRED_KEYS = ("images", "annotations", "categories")
_IMAGE_KEYS = ("id", "file_name", "height", "width")
_MAX_LISTED = 50

Segmentation = Union[list, dict]
Categories = Optional[Sequence[Union[str, int]]]


# --- reading and checking the file ---------------------------------------------------------------
def _read_json(json_file: str) -> dict:
    if not os.path.isfile(json_file):
        raise MattingDataError(f"COCO annotation file not found: {json_file}. Check the path.")
    try:
        with open(json_file) as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise MattingDataError(
            f"{json_file} is not valid JSON ({error}); give a COCO instances file "
            "(e.g. annotations/instances_train2017.json)."
        ) from error
    missing = [key for key in _REQUIRED_KEYS if not isinstance(data, dict) or key not in data]
    wrong = [
        key for key in _REQUIRED_KEYS if key not in missing and not isinstance(data[key], list)
    ]
    if missing or wrong:
        found = sorted(data)[:10] if isinstance(data, dict) else type(data).__name__
        raise MattingDataError(
            f"{json_file} is not a COCO instances file: it needs the lists "
            f"{list(_REQUIRED_KEYS)} but lacks {missing + wrong} (it holds: {found}). Give an "
            "instance-segmentation file such as annotations/instances_train2017.json."
        )
    return data


def _images_by_id(images: list, json_file: str) -> dict[Any, dict]:
    problems, by_id = [], {}
    for index, image in enumerate(images):
        lacks = [key for key in _IMAGE_KEYS if not isinstance(image, dict) or key not in image]
        if lacks:
            problems.append(f"images[{index}] lacks {lacks}")
        elif image["id"] in by_id:
            problems.append(f"images[{index}] repeats id {image['id']!r}")
        else:
            by_id[image["id"]] = image
    if problems:
        raise MattingDataError(
            f"{json_file}: {len(problems)} bad entries in 'images': "
            f"{'; '.join(problems[:_MAX_LISTED])}. Every image needs {list(_IMAGE_KEYS)}."
        )
    return by_id


def _category_ids(categories: Categories, available: list, json_file: str) -> set:
    names = {c.get("name"): c.get("id") for c in available if isinstance(c, dict)}
    ids = set(names.values())
    if categories is None:
        return ids
    chosen, unknown = set(), []
    for category in categories:
        if category in names:
            chosen.add(names[category])
        elif not isinstance(category, str) and category in ids:
            chosen.add(category)
        else:
            unknown.append(category)
    if unknown or not chosen:
        problem = f"{unknown} are not categories of" if unknown else "selects no category of"
        raise MattingDataError(
            f"categories={list(categories)}: {problem} {json_file}. Give names (or ids) from its "
            f"categories, e.g. {sorted(map(str, names))[:20]}, or categories=None for all."
        )
    return chosen


def _clean_segmentation(segmentation, height: int, width: int, skipped: Counter):
    """The annotation's segmentation with bad polygon parts dropped, or None to skip it."""
    if isinstance(segmentation, list):
        parts = []
        for part in segmentation:
            numbers = isinstance(part, list) and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in part
            )
            if not numbers or len(part) % 2:
                skipped["malformed polygon parts"] += 1
            elif len(part) < 6:
                skipped["polygon parts with fewer than three points"] += 1
            else:
                parts.append([float(v) for v in part])
        return parts or None
    if isinstance(segmentation, dict) and {"counts", "size"} <= set(segmentation):
        if list(segmentation["size"]) != [height, width]:
            skipped["RLEs whose size is not their image's"] += 1
            return None
        if not _valid_counts(segmentation["counts"], height, width):
            skipped["RLEs with malformed counts"] += 1
            return None
        return {"size": [height, width], "counts": segmentation["counts"]}
    skipped["segmentations in no COCO format (polygons or RLE)"] += 1
    return None


def _valid_counts(counts, height: int, width: int) -> bool:
    """Whether RLE counts cover the image exactly (a compressed string is decoded and checked
    against its area: pycocotools decodes some malformed strings to garbage silently)."""
    if isinstance(counts, list):
        runs_ok = all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
        return runs_ok and sum(counts) == height * width
    if not isinstance(counts, str) or not counts or not counts.isascii():
        return False
    rle = {"size": [height, width], "counts": counts.encode("ascii")}
    try:
        decoded = mask_util.decode(rle)
    except ValueError:
        return False
    return int(decoded.sum()) == int(mask_util.area(rle))


def _rle(segmentation: Segmentation, height: int, width: int) -> dict:
    """One pycocotools RLE of a cleaned segmentation (polygon parts merged)."""
    if isinstance(segmentation, list):
        return mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):  # uncompressed (crowd regions)
        return mask_util.frPyObjects(segmentation, height, width)
    return {"size": [height, width], "counts": segmentation["counts"].encode("ascii")}


def _union_rle(segmentations: Sequence[Segmentation], height: int, width: int) -> dict:
    """One compressed RLE (counts as str) of the union of segmentations."""
    union = mask_util.merge([_rle(s, height, width) for s in segmentations], intersect=False)
    return {"size": [height, width], "counts": union["counts"].decode("ascii")}


def decode_segmentations(segmentations: Sequence[Segmentation], height: int, width: int):
    """(H, W) bool union of COCO segmentations (polygon lists or RLE dicts), via pycocotools."""
    mask = np.zeros((height, width), bool)
    for segmentation in segmentations:
        mask |= mask_util.decode(_rle(segmentation, height, width)).astype(bool)
    return mask


def _area(annotation: dict, segmentation: Segmentation, height: int, width: int) -> float:
    area = annotation.get("area")
    if isinstance(area, (int, float)) and math.isfinite(area):
        return float(area)
    return float(mask_util.area(_rle(segmentation, height, width)))


def _usable_annotations(data: dict, images: dict, category_ids: set, min_area: float, skipped):
    """image id -> (usable instances [(annotation id, segmentation)], unknown segmentations)."""
    per_image: dict[Any, tuple[list, list]] = {}
    for index, annotation in enumerate(data["annotations"]):
        if not isinstance(annotation, dict) or not {"image_id", "segmentation"} <= set(annotation):
            skipped["annotations without image_id or segmentation"] += 1
            continue
        image = images.get(annotation["image_id"])
        if image is None:
            skipped["annotations of an image id not in 'images'"] += 1
            continue
        if annotation.get("category_id") not in category_ids:
            continue  # another category: background
        height, width = int(image["height"]), int(image["width"])
        segmentation = _clean_segmentation(annotation["segmentation"], height, width, skipped)
        if segmentation is None:
            skipped["annotations without a usable segmentation"] += 1
            continue
        instances, unknown = per_image.setdefault(annotation["image_id"], ([], []))
        if annotation.get("iscrowd"):
            unknown.append(segmentation)
        elif _area(annotation, segmentation, height, width) < min_area:
            skipped[f"instances below min_area={min_area:g} (unknown in the others)"] += 1
            unknown.append(segmentation)
        else:
            instances.append((annotation.get("id", index), segmentation))
    return per_image


def _checked_options(
    where: str, categories, per_instance, band, min_area, seed, missing_images
) -> dict:
    """The options of :func:`load_coco_matting`, validated (errors start with ``where``) and
    normalised."""
    if categories is not None and (isinstance(categories, (str, int)) or not list(categories)):
        raise ValueError(
            f"{where}: categories must be a non-empty list of names or ids, or None for all; "
            f"got {categories!r}"
        )
    if missing_images not in ("error", "skip"):
        raise ValueError(
            f"{where}: missing_images must be 'error' or 'skip', got {missing_images!r}"
        )
    return dict(
        categories=None if categories is None else list(categories),
        per_instance=per_instance,
        band=check_band(band),
        min_area=min_area,
        seed=seed,
        missing_images=missing_images,
    )


def load_coco_matting(
    json_file: str,
    image_root: str,
    *,
    categories: Categories = None,
    per_instance: bool = True,
    band: Sequence[int] = BAND_RANGE,
    min_area: float = MIN_AREA,
    seed: int = 0,
    missing_images: str = "error",
) -> list[dict]:
    """List a COCO instances file as matting dataset dicts (one per instance or per image).

    Args:
        categories: category names or ids to matte; None for all.
        per_instance: one sample per instance (else one per image: the union of its instances).
        band: inclusive range of the band's kernel sizes (see :mod:`.instance_labels`).
        min_area: instances with a smaller ``area`` (px) are no sample and unknown in others.
        seed: seed of the band widths (with each sample's ``image_id``).
        missing_images: ``"error"`` (listing every missing image file) or ``"skip"``.

    Returns:
        dicts with ``file_name``, ``image_id`` (``<stem>_<annotation id>``, or ``<stem>``),
        ``height``, ``width``, ``coco_image_id`` and :data:`INSTANCE_MASK_KEY`.
    """
    where = f"load_coco_matting({json_file!r})"
    options = _checked_options(
        where, categories, per_instance, band, min_area, seed, missing_images
    )
    categories, band = options["categories"], options["band"]
    data = _read_json(json_file)
    images = _images_by_id(data["images"], json_file)
    category_ids = _category_ids(categories, data["categories"], json_file)
    skipped: Counter = Counter()
    per_image = _usable_annotations(data, images, category_ids, min_area, skipped)
    dataset_dicts, missing, without = [], [], 0
    for image_id, image in images.items():
        instances, unknown = per_image.get(image_id, ([], []))
        if not instances:
            without += 1
            continue
        path = os.path.join(image_root, image["file_name"])
        if not os.path.isfile(path):
            missing.append(path)
            continue
        stem = os.path.splitext(os.path.basename(image["file_name"]))[0]
        base = {"file_name": path, "height": int(image["height"]), "width": int(image["width"])}
        base["coco_image_id"] = image_id
        label = {"seed": int(seed), "band": band}
        if not per_instance:
            segmentations = [segmentation for _, segmentation in instances]
            mask = {**label, "segmentation": segmentations, "unknown": unknown}
            dataset_dicts.append({**base, "image_id": stem, INSTANCE_MASK_KEY: mask})
            continue
        # one RLE per image of every instance, crowd and small region (unknown unless its own)
        regions = [segmentation for _, segmentation in instances] + unknown
        others = [_union_rle(regions, base["height"], base["width"])] if len(regions) > 1 else []
        for annotation_id, segmentation in instances:
            mask = {**label, "segmentation": [segmentation], "unknown": others}
            sample_id = f"{stem}_{annotation_id}"
            dataset_dicts.append({**base, "image_id": sample_id, INSTANCE_MASK_KEY: mask})
    if missing and missing_images == "error":
        shown = ", ".join(missing[:_MAX_LISTED])
        raise MattingDataError(
            f"{len(missing)} image file(s) of {json_file} not found under {image_root}: {shown}. "
            "Check image_root, or register with missing_images='skip' to leave them out."
        )
    if missing:
        skipped["images whose file is missing (missing_images='skip')"] += len(missing)
    if skipped:
        logger.warning(
            "COCO file %s: skipped %s.",
            json_file,
            ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items())),
        )
    if not dataset_dicts:
        raise MattingDataError(
            f"no usable instance in {json_file} for categories={categories} and "
            f"min_area={min_area:g} ({len(data['annotations'])} annotations). Check the "
            "category selection and min_area."
        )
    logger.info(
        "Listed %d matting samples (%s) from %s; %d image(s) without a usable instance.",
        len(dataset_dicts),
        "one per instance" if per_instance else "one per image",
        json_file,
        without,
    )
    return dataset_dicts


def register_coco_matting(
    name: str,
    json_file: str,
    image_root: str,
    *,
    categories: Categories = None,
    per_instance: bool = True,
    band: Sequence[int] = BAND_RANGE,
    min_area: float = MIN_AREA,
    seed: int = 0,
    missing_images: str = "error",
    **metadata,
) -> None:
    """Register :func:`load_coco_matting` of a COCO instances file as the training split
    ``name``, lazily like detectron2's ``register_coco_instances``; ``metadata``: extra
    ``MetadataCatalog`` fields."""
    # Checked now: the file is read at the first DatasetCatalog.get.
    where = f"register_coco_matting({name!r})"
    options = _checked_options(
        where, categories, per_instance, band, min_area, seed, missing_images
    )
    register_split(
        name,
        lambda: load_coco_matting(json_file, image_root, **options),
        json_file=json_file,
        image_root=image_root,
        **metadata,
    )


# --- the label of one sample (the mapper's and tools/make_trimap_labels.py's) ------------------
def instance_label(dataset_dict: dict, kind: str = "trimap") -> tuple[np.ndarray, np.ndarray]:
    """(H, W) uint8 0 / 128 / 255 label of a :func:`load_coco_matting` dict and its (H, W) bool
    boundary band (crops centre on it); ``kind="mask"``: no band, only the unknown regions."""
    record = dataset_dict[INSTANCE_MASK_KEY]
    height, width = int(dataset_dict["height"]), int(dataset_dict["width"])
    mask = decode_segmentations(record["segmentation"], height, width)
    unknown = decode_segmentations(record["unknown"], height, width)
    rng = label_rng(record["seed"], str(dataset_dict["image_id"]))
    inner, outer = band_widths(rng, object_size(mask), record["band"])
    trimap, focus = band_trimap(mask, inner, outer, unknown)
    if kind == "mask":
        trimap = band_trimap(mask, 0, 0, unknown)[0]
    elif kind != "trimap":
        raise ValueError(f"kind must be 'trimap' or 'mask', got {kind!r}")
    return trimap, focus
