"""Small pieces the training script composes: fail-fast checks, checked weight loading and
recording eval-only results."""

import logging
import os
from collections.abc import Mapping

from detectron2.utils.events import EventStorage, JSONWriter, TensorboardXWriter
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import LoadReport, load_pretrained

__all__ = ["check_init_checkpoint", "load_model_weights", "record_results"]

logger = logging.getLogger(__name__)

_CONVERT_HINT = (
    "Convert the pretrained backbone with tools/convert_pretrained.py (see README, "
    "'Pretrained weights'), or start from random weights with train.init_checkpoint=''."
)


def check_init_checkpoint(path: str) -> None:
    """Raise a clear error if ``train.init_checkpoint`` names a local file that does not exist.

    URLs and detectron2 path-manager prefixes (``detectron2://``, ``https://``) are left to the
    checkpointer; nothing is ever downloaded by this project itself.
    """
    if not path or "://" in path:
        return
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train.init_checkpoint={path} does not exist. {_CONVERT_HINT}")


def load_model_weights(model: nn.Module, path: str, *, complete: bool) -> LoadReport:
    """Load ``train.init_checkpoint`` into ``model`` with a clear report, failing on gaps.

    detectron2's checkpointer only warns about missing or mis-shaped weights; a run that starts
    from a half-loaded backbone wastes a GPU-day. Here:

    * ``complete=False`` (start of training): every backbone weight the pretrained ViT can have
      must load (see :func:`alphafree_matting.checkpoint.load_pretrained`); the decoder starts
      from its initialisation.
    * ``complete=True`` (``--eval-only``): every weight of the model must load.

    Args:
        model: the model, possibly wrapped in DistributedDataParallel.
        path: checkpoint path; empty means random initialisation (logged as a warning).
        complete: require the whole model (evaluation) or only the backbone (fine-tuning).
    """
    if isinstance(model, DistributedDataParallel):
        model = model.module
    if not path:
        logger.warning("train.init_checkpoint is empty: the model keeps its random initialisation")
        return LoadReport()
    if complete:
        return load_pretrained(model, path, require_prefixes=("",), allow_missing=())
    return load_pretrained(model, path)


def record_results(results: Mapping, output_dir: str, iteration: int) -> None:
    """Append evaluation results to ``output_dir``'s metrics.json and TensorBoard events.

    Periodic evaluation during training lands there through detectron2's EvalHook and writers;
    this gives ``--eval-only`` runs the same record, one line per run, at the checkpoint's
    iteration.

    Args:
        results: detectron2 evaluation results, ``{task: {metric: value}}``.
        output_dir: the run's output folder.
        iteration: the iteration of the evaluated checkpoint (0 if unknown).
    """
    from detectron2.evaluation.testing import flatten_results_dict

    scalars = {k: float(v) for k, v in flatten_results_dict(dict(results)).items()}
    if not scalars:
        return
    os.makedirs(output_dir, exist_ok=True)
    writers = [JSONWriter(os.path.join(output_dir, "metrics.json")), TensorboardXWriter(output_dir)]
    with EventStorage(iteration) as storage:
        storage.put_scalars(**scalars, smoothing_hint=False)
        for writer in writers:
            writer.write()
    for writer in writers:
        writer.close()
    logger.info("Evaluation results appended to %s", os.path.join(output_dir, "metrics.json"))
