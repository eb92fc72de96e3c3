"""Small pieces the training script composes: fail-fast checks and recording eval-only results."""
import logging
import os
from collections.abc import Mapping

from detectron2.utils.events import EventStorage, JSONWriter, TensorboardXWriter

__all__ = ["check_init_checkpoint", "record_results"]

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
