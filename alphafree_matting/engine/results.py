"""A run's evaluation results: the copy-paste log lines, eval-only records, and metrics.json
kept to one record per iteration when a run resumes."""

import json
import logging
import os
from collections.abc import Mapping

from detectron2.utils.events import EventStorage, JSONWriter, TensorboardXWriter

__all__ = ["log_copypaste", "record_results", "trim_metrics"]

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def log_copypaste(results: Mapping) -> None:
    """Log ``{task: {metric: value}}`` as detectron2's ``copypaste:`` lines (names, then values,
    comma-separated), every metric included: detectron2's ``print_csv_format`` leaves out names
    with a ``-``, which are SAD-T and MSE-T here."""
    for task, metrics in results.items():
        if not isinstance(metrics, Mapping):
            logger.info("copypaste: %s=%s", task, metrics)
            continue
        logger.info("copypaste: Task: %s", task)
        logger.info("copypaste: %s", ",".join(metrics))
        logger.info("copypaste: %s", ",".join(f"{float(v):.4f}" for v in metrics.values()))


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
    path = os.path.join(output_dir, METRICS_FILE)
    writers = [JSONWriter(path), TensorboardXWriter(output_dir)]
    with EventStorage(iteration) as storage:
        storage.put_scalars(**scalars, smoothing_hint=False)
        for writer in writers:
            writer.write()
    for writer in writers:
        writer.close()
    logger.info("Evaluation results appended to %s", path)


def trim_metrics(output_dir: str, last_iteration: int) -> int:
    """Drop the records after ``last_iteration`` from ``output_dir``'s metrics.json, in place.

    A run that resumes from the checkpoint of ``last_iteration`` trains the later iterations
    again: their old records (of a run killed before it could save) would appear twice. A line
    cut short by the kill (not JSON) goes too. The file is rewritten in place, so a writer that
    already holds it open (append mode) goes on appending to it.

    Returns:
        the number of records dropped.
    """
    path = os.path.join(output_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return 0
    with open(path, "r+") as f:
        lines = f.read().splitlines(keepends=True)
        kept = [line for line in lines if not _after(line, last_iteration)]
        dropped = len(lines) - len(kept)
        if dropped:
            f.seek(0)
            f.writelines(kept)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
    if dropped:
        logger.info(
            "Resuming after iteration %d: dropped %d record(s) of later iterations from %s "
            "(they are trained again)",
            last_iteration,
            dropped,
            path,
        )
    return dropped


def _after(line: str, last_iteration: int) -> bool:
    """Whether a metrics.json line is a record after ``last_iteration`` or a broken line."""
    if not line.strip():
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return True
    return isinstance(record, dict) and record.get("iteration", -1) > last_iteration
