"""Mixed supervision: training splits whose samples carry different label kinds (alpha, trimap
or mask), for ``MattingDatasetMapper(label="per_sample")``: a seeded alpha fraction of one set
of images (e.g. 10 % of AM-2K), or repeat factors that draw each kind with a chosen share.
"""

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from detectron2.data import DatasetCatalog

from .catalog import register_split
from .coco import INSTANCE_MASK_KEY
from .datasets import LABEL_KINDS
from .io import MattingDataError

logger = logging.getLogger(__name__)

__all__ = [
    "label_kinds",
    "sample_label_kind",
    "mix_label_splits",
    "register_mixed_split",
    "label_repeat_factors",
]


def label_kinds(dataset_dict: Mapping[str, Any]) -> list[str]:
    """The label kinds a dataset dict can supervise with (:data:`LABEL_KINDS` order); a COCO
    instance mask gives ``"trimap"`` (band label) and ``"mask"``."""
    kinds = [kind for kind in LABEL_KINDS if f"{kind}_file_name" in dataset_dict]
    if INSTANCE_MASK_KEY in dataset_dict:
        kinds += [kind for kind in ("trimap", "mask") if kind not in kinds]
    return [kind for kind in LABEL_KINDS if kind in kinds]


def sample_label_kind(dataset_dict: Mapping[str, Any]) -> str:
    """The one label kind of a training dict of a mixed split (COCO masks: ``"trimap"``).

    Raises:
        MattingDataError: the dict carries no label, or several label files.
    """
    files = [kind for kind in LABEL_KINDS if f"{kind}_file_name" in dataset_dict]
    if len(files) == 1:
        return files[0]
    if not files and INSTANCE_MASK_KEY in dataset_dict:
        return "trimap"
    raise MattingDataError(
        f"dataset dict of {dataset_dict.get('file_name')} carries "
        f"{'no label' if not files else f'several labels ({files})'}, but label='per_sample' "
        "needs exactly one; register each training split with one label kind (e.g. "
        "labels=('alpha',) and ('trimap',))."
    )


def _listing(split: str, names) -> str:
    names = sorted(names)
    return f"{len(names)} image(s) only in {split} (e.g. {names[:3]})"


def mix_label_splits(
    alpha_split: str, trimap_split: str, alpha_fraction: float, *, seed: int = 0
) -> list[dict]:
    """Dataset dicts (sorted by file name) of two splits of the same images:
    ``round(alpha_fraction * N)`` of them, chosen with ``seed`` (not the training seed), from
    ``alpha_split`` (e.g. ``"am2k_train_alpha"``), the others from ``trimap_split`` (trimap or
    mask labels)."""
    if not 0.0 <= alpha_fraction <= 1.0:
        raise ValueError(f"alpha_fraction must be in [0, 1], got {alpha_fraction}")
    alpha_dicts = {d["file_name"]: d for d in DatasetCatalog.get(alpha_split)}
    trimap_dicts = {d["file_name"]: d for d in DatasetCatalog.get(trimap_split)}
    if set(alpha_dicts) != set(trimap_dicts):
        raise MattingDataError(
            f"mix_label_splits: {alpha_split} and {trimap_split} must list the same images; "
            f"{_listing(alpha_split, set(alpha_dicts) - set(trimap_dicts))}, "
            f"{_listing(trimap_split, set(trimap_dicts) - set(alpha_dicts))}. To mix different "
            "images, concatenate the splits (dataset names=[...]) and use label_repeat_factors."
        )
    names = sorted(alpha_dicts)
    num_alpha = int(round(alpha_fraction * len(names)))
    chosen = set(np.random.default_rng(seed).permutation(len(names))[:num_alpha].tolist())
    mixed = [
        dict(alpha_dicts[name] if index in chosen else trimap_dicts[name])
        for index, name in enumerate(names)
    ]
    logger.info(
        "Mixed supervision: %d of %d images with their alpha (%s), %d with their label (%s)",
        num_alpha,
        len(names),
        alpha_split,
        len(names) - num_alpha,
        trimap_split,
    )
    return mixed


def register_mixed_split(
    name: str, alpha_split: str, trimap_split: str, alpha_fraction: float, *, seed: int = 0
) -> None:
    """Register :func:`mix_label_splits` lazily as split ``name`` (for ``label="per_sample"``)."""
    if not 0.0 <= alpha_fraction <= 1.0:
        raise ValueError(f"alpha_fraction must be in [0, 1], got {alpha_fraction}")
    register_split(
        name,
        lambda: mix_label_splits(alpha_split, trimap_split, alpha_fraction, seed=seed),
        seed=seed,
        alpha_split=alpha_split,
        trimap_split=trimap_split,
        alpha_fraction=alpha_fraction,
    )


def label_repeat_factors(dataset_dicts: list[dict], ratios: Mapping[str, float]) -> torch.Tensor:
    """(N,) float32 ``RepeatFactorTrainingSampler`` factors ``ratio_k / sum(ratios) * N / N_k``,
    so each label kind k gets that share of the samples and the epoch length is kept.

    ``ratios`` maps every kind present to a weight > 0, e.g. ``{"alpha": 0.25, "trimap": 0.75}``;
    each dict carries one kind (:func:`sample_label_kind`).
    """
    kinds = [sample_label_kind(d) for d in dataset_dicts]
    counts = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    missing = sorted(set(counts) - set(ratios))
    unused = sorted(set(ratios) - set(counts))
    if missing or unused or any(not weight > 0 for weight in ratios.values()):
        raise ValueError(
            f"label_repeat_factors: ratios {dict(ratios)} must give a weight > 0 to every label "
            f"kind of the dataset, {counts} (missing: {missing}, not in the dataset: {unused})"
        )
    total = float(sum(ratios[kind] for kind in counts))
    factor = {k: ratios[k] / total * len(kinds) / count for k, count in counts.items()}
    logger.info(
        "Sampling label kinds %s (repeat factors %s)",
        {k: round(ratios[k] / total, 4) for k in counts},
        {k: round(v, 4) for k, v in factor.items()},
    )
    return torch.tensor([factor[kind] for kind in kinds], dtype=torch.float32)
