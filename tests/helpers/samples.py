"""Sample data the tests write to disk: alphas, composites, split folders, a toy COCO file;
and the tools as modules."""

import importlib
import json
from pathlib import Path

import cv2
import numpy as np

from alphafree_matting.data.io import write_png
from alphafree_matting.data.trimap_labels import alpha_to_trimap


def load_tool(name: str):
    """The module ``tools.<name>`` (the tools are a package, importable from the repository)."""
    return importlib.import_module(f"tools.{name}")


def make_alpha(height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(H, W)`` float32 alpha: an opaque ellipse with a soft rim, in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    centre_row, centre_col = rng.uniform(0.4, 0.6) * height, rng.uniform(0.4, 0.6) * width
    radius = np.hypot((rows - centre_row) / (0.3 * height), (cols - centre_col) / (0.3 * width))
    return np.clip((1.2 - radius) / 0.4, 0.0, 1.0).astype(np.float32)


def make_image(alpha: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(H, W, 3)`` uint8 composite of a red-ish foreground over a noisy blue-ish background."""
    rng = np.random.default_rng(seed)
    foreground = np.array([200, 60, 40], np.float32) + rng.normal(0, 10, alpha.shape + (3,))
    background = np.array([30, 80, 190], np.float32) + rng.normal(0, 10, alpha.shape + (3,))
    composite = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    return np.clip(composite, 0, 255).astype(np.uint8)


def write_sample(
    split: Path, stem: str, size: tuple, folders: dict, seed: int = 0, image_ext: str = ".jpg"
) -> None:
    """Write one sample; ``folders`` maps ``"image" | "alpha" | "trimap"`` to a subfolder."""
    alpha = make_alpha(*size, seed=seed)
    if "image" in folders:
        path = split / folders["image"] / f"{stem}{image_ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(make_image(alpha, seed), cv2.COLOR_RGB2BGR))
    if "alpha" in folders:
        alpha_u8 = np.round(alpha * 255).astype(np.uint8)
        write_png(str(split / folders["alpha"] / f"{stem}.png"), alpha_u8)
    if "trimap" in folders:
        trimap = alpha_to_trimap(alpha, kernel_size=3, resolution=0)
        write_png(str(split / folders["trimap"] / f"{stem}.png"), trimap)


# Sizes (H, W) of the samples of each miniature split: one smaller than the 32-px test crop.
SAMPLE_SIZES = ((40, 56), (48, 36), (24, 30))


def write_split(split: Path, prefix: str, folders: dict) -> None:
    for index, size in enumerate(SAMPLE_SIZES):
        write_sample(split, f"{prefix}_{index:03d}", size, folders, seed=index)


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE (crowd regions): run lengths over the column-major pixels,
    starting with background."""
    flat = mask.astype(np.uint8).flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": list(mask.shape), "counts": [int(c) for c in counts]}


def _compressed_rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_util

    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(mask.shape), "counts": rle["counts"].decode("ascii")}


def write_toy_coco(split: Path, json_file: Path, min_pixels: int = 4) -> dict:
    """Write a COCO instances file of a toy split (``split/image``, ``split/alpha``).

    Every connected component of ``alpha >= 0.5`` with ``min_pixels`` or more is an instance of
    category "toy": a polygon traced with ``cv2.findContours`` (its outer contour, through pixel
    centres), or a compressed RLE when the component has a hole (a COCO polygon cannot) and for
    the largest component of the first image; the smallest component of the first image with
    several is an ``iscrowd`` region (uncompressed RLE); the last image has no annotation.
    Category "other" has no instance.

    Returns:
        the JSON as a dict.
    """
    images, annotations, crowd_done = [], [], False
    names = sorted(path.name for path in (split / "image").glob("*.png"))
    for image_id, name in enumerate(names, start=1):
        alpha = cv2.imread(str(split / "alpha" / name), cv2.IMREAD_GRAYSCALE)
        height, width = alpha.shape
        images.append({"id": image_id, "file_name": name, "height": height, "width": width})
        if image_id == len(names):
            continue  # an image without annotations
        count, labels, stats, _ = cv2.connectedComponentsWithStats((alpha >= 128).astype(np.uint8))
        components = [c for c in range(1, count) if stats[c, cv2.CC_STAT_AREA] >= min_pixels]
        components.sort(key=lambda c: -stats[c, cv2.CC_STAT_AREA])
        for rank, component in enumerate(components):
            mask = labels == component
            contours, hierarchy = cv2.findContours(
                mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE
            )
            has_hole = bool((hierarchy[0][:, 3] >= 0).any())
            crowd = not crowd_done and len(components) > 1 and rank == len(components) - 1
            crowd_done |= crowd
            if crowd:
                segmentation = _uncompressed_rle(mask)
            elif has_hole or (image_id == 1 and rank == 0):
                segmentation = _compressed_rle(mask)
            else:
                outer = [c for c, h in zip(contours, hierarchy[0]) if h[3] < 0]
                segmentation = [(c.reshape(-1, 2) + 0.5).ravel().tolist() for c in outer]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": segmentation,
                    "area": int(mask.sum()),
                    "iscrowd": int(crowd),
                    "bbox": [float(v) for v in stats[component, :4]],
                }
            )
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "toy"}, {"id": 2, "name": "other"}],
    }
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(data))
    return data
