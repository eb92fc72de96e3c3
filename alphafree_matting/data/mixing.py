"""Mixed supervision: training splits whose samples carry different label kinds.

* :func:`sample_label_kind`: the label a dataset dict supervises with (``MattingDatasetMapper(
  label="per_sample")`` uses it): its alpha, its trimap (a trimap file or a COCO instance mask)
  or its binary mask.
* :func:`mix_label_splits` / :func:`register_mixed_split`: the images of an alpha split and a
  trimap split, a seeded fraction keeping their alpha, the rest their trimap (e.g. 10 % of AM-2K
  with alphas), as a list or as a registered split.
* :func:`label_repeat_factors`: repeat factors for detectron2's ``RepeatFactorTrainingSampler``
  that draw each label kind with a chosen share of the samples.
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
        f"{'no label' if not files else f'several labels ({files})'}: with "
        "label='per_sample' every training dict must carry exactly one label kind. Register the "
        "training splits with one label kind each (e.g. labels=('alpha',) and ('trimap',))."
    )


def _listing(split: str, names) -> str:
    names = sorted(names)
    return f"{len(names)} image(s) only in {split} (e.g. {names[:3]})"


def mix_label_splits(
    alpha_split: str, trimap_split: str, alpha_fraction: float, *, seed: int = 0
) -> list[dict]:
    """The images of two splits of the same images, ``round(alpha_fraction * N)`` of them (a
    seeded random choice) with their alpha, the others with their trimap label.

    Args:
        alpha_split: a registered split with alpha labels (e.g. ``"am2k_train_alpha"``).
        trimap_split: a split of the same images with trimap (or mask) labels.
        alpha_fraction: share of the images that keep their alpha, in [0, 1].
        seed: of the choice (independent of the training seed).

    Returns:
        dataset dicts sorted by file name, each from one of the two splits (one label kind).
    """
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
    """Register :func:`mix_label_splits` of two registered splits as the split ``name`` (lazily).

    Train on it with ``MattingDatasetMapper(label="per_sample")``.
    """
    if not 0.0 <= alpha_fraction <= 1.0:
        raise ValueError(f"alpha_fraction must be in [0, 1], got {alpha_fraction}")
    register_split(
        name,
        lambda: mix_label_splits(alpha_split, trimap_split, alpha_fraction, seed=seed),
        dict(seed=seed),
        alpha_split=alpha_split,
        trimap_split=trimap_split,
        alpha_fraction=alpha_fraction,
    )


def label_repeat_factors(dataset_dicts: list[dict], ratios: Mapping[str, float]) -> torch.Tensor:
    """Per-dict repeat factors for ``RepeatFactorTrainingSampler`` that draw each label kind with
    share ``ratios[kind] / sum(ratios)`` of the samples, keeping the epoch length.

    Args:
        dataset_dicts: the training dicts (one label kind each, see :func:`sample_label_kind`).
        ratios: label kind -> sampling weight (> 0) for every kind present, e.g.
            ``{"alpha": 0.25, "trimap": 0.75}``.

    Returns:
        (N,) float32 tensor: ``ratio_k / sum(ratios) * N / N_k`` for a dict of kind k.
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
