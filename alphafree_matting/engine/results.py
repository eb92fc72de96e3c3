"""Eval-only results in the run's metrics.json and TensorBoard, as in-training evaluation."""

import logging
import os
from collections.abc import Mapping

from detectron2.utils.events import EventStorage, JSONWriter, TensorboardXWriter

__all__ = ["record_results"]

logger = logging.getLogger(__name__)


def record_results(results: Mapping, output_dir: str, iteration: int) -> None:
    """Append evaluation results to ``output_dir``'s metrics.json and TensorBoard events.

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
