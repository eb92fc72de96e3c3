"""Folder matting datasets in detectron2's ``DatasetCatalog`` (the built-in splits, AM-2K,
P3M-10K and others, are :mod:`.builtin`).

A matting split is an image folder plus one folder per label kind, files matched by stem::

    <root>/<image_dir>/<stem>.jpg      (.jpg .jpeg .png .bmp .webp .tif .tiff)
    <root>/<trimap_dir>/<stem>.png     coarse trimap labels (0 / 128 / 255)
    <root>/<alpha_dir>/<stem>.png      alpha mattes (GT)
    <root>/<mask_dir>/<stem>.png       binary segmentation masks

A dataset dict holds ``file_name``, ``image_id`` (the stem) and ``<kind>_file_name`` **only for
the label kinds the split is registered with** (a trimap split cannot leak a GT alpha).
Registration is lazy: folders (and ``$DETECTRON2_DATASETS``, default ``./datasets``) are read at
``DatasetCatalog.get``, and structural problems are reported together in one
:class:`~.io.MattingDataError`.
"""

import logging
import os
from collections.abc import Sequence
from typing import Optional

from .catalog import register_split
from .io import (
    IMAGE_EXTENSIONS,
    LABEL_EXTENSIONS,
    MattingDataError,
    check_complete,
    read_image_size,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LABEL_KINDS",
    "DATASETS_ROOT_ENV",
    "datasets_root",
    "load_matting_folder",
    "register_matting_folder",
]

LABEL_KINDS = ("trimap", "alpha", "mask")
"""Label kinds a split can carry; each gives the dataset dict key ``<kind>_file_name``."""
DATASETS_ROOT_ENV = "DETECTRON2_DATASETS"
_MAX_LISTED = 50  # offending files named in one error message


def datasets_root() -> str:
    """The folder built-in datasets live in: ``$DETECTRON2_DATASETS``, default ``./datasets``."""
    return os.path.expanduser(os.environ.get(DATASETS_ROOT_ENV, "datasets"))


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f" ... and {more} more" if more > 0 else "")


def _list_folder(folder: str, extensions: Sequence[str], what: str, hint: str) -> dict[str, str]:
    """Map file stem -> path for the files of ``folder`` with one of ``extensions``."""
    if not os.path.isdir(folder):
        raise MattingDataError(f"{what} folder not found: {folder}. {hint}")
    stems: dict[str, list[str]] = {}
    other = []
    for entry in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(entry)
        if entry.startswith(".") or not os.path.isfile(os.path.join(folder, entry)):
            continue
        if ext.lower() in extensions:
            stems.setdefault(stem, []).append(entry)
        else:
            other.append(entry)
    if not stems:
        found = f" (it holds only: {_listing(other)})" if other else " (it is empty)"
        raise MattingDataError(
            f"no {what} files ({' '.join(extensions)}) in {folder}{found}. {hint}"
        )
    if other:
        logger.warning(
            "%s folder %s: skipped %d file(s) that are not %s files (%s): %s",
            what,
            folder,
            len(other),
            what,
            " ".join(extensions),
            _listing(other),
        )
    duplicates = [" / ".join(names) for names in stems.values() if len(names) > 1]
    if duplicates:
        raise MattingDataError(
            f"{what} folder {folder} has several files with one stem: {_listing(duplicates)}. "
            "Keep one file per stem."
        )
    return {stem: os.path.join(folder, names[0]) for stem, names in stems.items()}


def _match_stems(
    images: dict[str, str],
    labels: dict[str, str],
    image_folder: str,
    label_folder: str,
    missing_labels: str,
) -> list[str]:
    """Stems with both an image and a label; raise (or warn, for "skip") on the others."""
    no_label = sorted(set(images) - set(labels))
    no_image = sorted(set(labels) - set(images))
    if not set(images) & set(labels):
        raise MattingDataError(
            f"no file stem in common between {image_folder} (e.g. {_listing(sorted(images)[:3])}) "
            f"and {label_folder} (e.g. {_listing(sorted(labels)[:3])}). A label must have its "
            "image's file name (any label extension), e.g. image/cat_01.jpg -> trimap/cat_01.png."
        )
    if not no_label and not no_image:
        return sorted(images)
    problems = []
    if no_label:
        problems.append(
            f"{len(no_label)} image(s) in {image_folder} without a label in "
            f"{label_folder}: {_listing(no_label)}"
        )
    if no_image:
        problems.append(
            f"{len(no_image)} label(s) in {label_folder} without an image in "
            f"{image_folder}: {_listing(no_image)}"
        )
    if missing_labels == "error":
        raise MattingDataError(
            "; ".join(problems) + ". Add or remove the files, or register the split with "
            "missing_labels='skip' to use only the images that have every label."
        )
    logger.warning("%s. Skipping them (missing_labels='skip').", "; ".join(problems))
    return sorted(set(images) & set(labels))


def _verify_files(dataset_dicts: list[dict]) -> None:
    """Read every file's header and check it is complete (JPEG / PNG end markers); raise one
    error listing unreadable or truncated files and size mismatches."""
    problems = []

    def size_of(path: str, what: str) -> Optional[tuple[int, int]]:
        try:
            size = read_image_size(path)
            check_complete(path, what)
        except MattingDataError as error:
            problems.append(str(error))
            return None
        return size

    for record in dataset_dicts:
        size = size_of(record["file_name"], "image")
        for kind in LABEL_KINDS:
            path = record.get(f"{kind}_file_name")
            label_size = None if path is None else size_of(path, kind)
            if None not in (size, label_size) and label_size != size:
                problems.append(
                    f"size mismatch: {path} is {label_size}, {record['file_name']} is {size}"
                )
    if problems:
        raise MattingDataError(
            f"{len(problems)} problem(s) in the dataset (sizes are (H, W)):\n  "
            + "\n  ".join(problems[:_MAX_LISTED])
            + "\nFix or remove these files (with their labels)."
        )


def load_matting_folder(
    root: str,
    *,
    image_dir: str = "image",
    label_dirs: Optional[dict[str, str]] = None,
    missing_labels: str = "error",
    verify: bool = False,
    hints: Optional[dict[str, str]] = None,
) -> list[dict]:
    """List a matting split folder ``root`` as detectron2 dataset dicts (sorted by stem).

    Args:
        label_dirs: label kind (:data:`LABEL_KINDS`) -> subfolder of ``root``; only these kinds
            get a ``<kind>_file_name`` key. Empty for image-only (inference) splits.
        missing_labels: ``"error"``: unmatched images or labels raise one error naming all of
            them; ``"skip"``: such images are left out with a warning.
        verify: also read every file's header and end marker and raise on unreadable or
            truncated files and size mismatches (else the mapper finds them).
        hints: subfolder -> how to get it (download page, label command) for error messages.
    """
    if missing_labels not in ("error", "skip"):
        raise ValueError(f"missing_labels must be 'error' or 'skip', got {missing_labels!r}")
    label_dirs = dict(label_dirs or {})
    unknown_kinds = set(label_dirs) - set(LABEL_KINDS)
    if unknown_kinds:
        raise ValueError(f"unknown label kinds {sorted(unknown_kinds)}; use {LABEL_KINDS}")
    hints = hints or {}
    default_hint = f"Check the split folder {root} and the folder names it was registered with."

    def folder_hint(subfolder: str) -> str:
        return hints.get(subfolder, default_hint)

    image_folder = os.path.join(root, image_dir)
    images = _list_folder(image_folder, IMAGE_EXTENSIONS, "image", folder_hint(image_dir))
    labels = {}
    stems = sorted(images)
    for kind, subfolder in label_dirs.items():
        label_folder = os.path.join(root, subfolder)
        labels[kind] = _list_folder(label_folder, LABEL_EXTENSIONS, kind, folder_hint(subfolder))
        matched = _match_stems(images, labels[kind], image_folder, label_folder, missing_labels)
        matched = set(matched)
        stems = [stem for stem in stems if stem in matched]
    dataset_dicts = []
    for stem in stems:
        record = {"file_name": images[stem], "image_id": stem}
        record.update({f"{kind}_file_name": labels[kind][stem] for kind in label_dirs})
        dataset_dicts.append(record)
    if verify:
        _verify_files(dataset_dicts)
    logger.info(
        "Listed %d matting samples from %s (labels: %s)",
        len(dataset_dicts),
        root,
        ", ".join(label_dirs) or "none",
    )
    return dataset_dicts


def register_matting_folder(
    name: str,
    root: str,
    *,
    image_dir: str = "image",
    trimap_dir: Optional[str] = "trimap",
    alpha_dir: Optional[str] = "alpha",
    mask_dir: Optional[str] = "mask",
    labels: Sequence[str] = ("trimap",),
    missing_labels: str = "error",
    verify: bool = False,
    **metadata,
) -> None:
    """Register the folder dataset ``root`` lazily as ``name``, with its ``MetadataCatalog`` entry
    (``metadata``: extra fields); ``missing_labels``, ``verify``: see :func:`load_matting_folder`.

    Args:
        image_dir, trimap_dir, alpha_dir, mask_dir: subfolders of ``root``.
        labels: the label kinds the dicts carry paths for: ``("trimap",)`` for trimap training,
            ``("alpha", "trimap")`` for evaluation, ``()`` for inference.
    """
    folders = {"trimap": trimap_dir, "alpha": alpha_dir, "mask": mask_dir}
    labels = tuple(labels)
    for kind in labels:
        if kind not in folders:
            raise ValueError(f"unknown label kind {kind!r} for {name}; use {LABEL_KINDS}")
        if folders[kind] is None:
            raise ValueError(f"{name} is registered with {kind} labels but {kind}_dir is None")
    label_dirs = {kind: folders[kind] for kind in labels}
    options = dict(image_dir=image_dir, label_dirs=label_dirs, missing_labels=missing_labels)
    register_split(
        name,
        lambda: load_matting_folder(root, **options, verify=verify),
        root=root,
        image_dir=image_dir,
        label_dirs=label_dirs,
        **metadata,
    )
