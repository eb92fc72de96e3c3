"""Detectron2 ``DatasetEvaluator`` for alpha mattes, returning ``{"matting": {metric: mean}}``."""

import csv
import json
import logging
import os
from collections import OrderedDict
from typing import Any, Optional

import numpy as np
import torch
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from tabulate import tabulate

from alphafree_matting.conventions import alpha_to_uint8, target_to_trimap, trimap_to_target
from alphafree_matting.data.io import (
    MattingDataError,
    read_alpha,
    read_image,
    read_trimap,
    write_png,
)
from alphafree_matting.evaluation.metrics import (
    BENCHMARK_KEYS,
    UNKNOWN_REGION_KEYS,
    matting_metrics,
    unknown_region_metrics,
)
from alphafree_matting.evaluation.visualize import make_grid

logger = logging.getLogger(__name__)

__all__ = ["MattingEvaluator", "PROTOCOLS", "alpha_on_stored_grid", "summarize_rows"]

PROTOCOLS = ("benchmark", "unknown_region", "both")
"""Metric sets: the seven AM-2K / P3M keys, the trimap-input unknown-region keys, or both."""
PER_IMAGE_CSV = "matting_per_image.csv"
RESULTS_JSON = "matting_results.json"
_METRIC_ORDER = BENCHMARK_KEYS + UNKNOWN_REGION_KEYS
_STORED_LEVELS = (255.0, 65535.0)  # largest code of 8- and 16-bit PNGs


def alpha_on_stored_grid(alpha: np.ndarray) -> np.ndarray:
    """8/16-bit alpha as exactly ``code / 255`` (``/ 65535``) in float64, as the benchmark reads GT.

    float32 codes can flip Conn's thresholds; alphas on neither grid are only cast to float64.

    Args:
        alpha: (H, W) float alpha in [0, 1].

    Returns:
        (H, W) float64 alpha.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    for levels in _STORED_LEVELS:
        codes = np.round(alpha * levels)
        if np.all(np.abs(alpha * levels - codes) < 1e-2):
            return codes / levels
    return alpha


def canonical_trimap(trimap: np.ndarray) -> np.ndarray:
    """Stored trimap values (possibly noisy, e.g. JPEG) to exactly 0 / 128 / 255."""
    return target_to_trimap(trimap_to_target(trimap))


def summarize_rows(rows: list[dict[str, Any]]) -> "OrderedDict[str, float]":
    """Per metric, the mean over the rows that have it.

    Args:
        rows: per-image dicts of ``image_id`` and metric keys (some may lack trimap metrics).

    Returns:
        OrderedDict metric -> mean, in benchmark order (other keys last, sorted).
    """
    present = {key for row in rows for key in row if key != "image_id"}
    keys = [key for key in _METRIC_ORDER if key in present]
    keys += sorted(present.difference(_METRIC_ORDER))
    return OrderedDict(
        (key, float(np.mean([row[key] for row in rows if key in row]))) for key in keys
    )


def _prediction_array(output: dict[str, Any], name: str) -> np.ndarray:
    """``output["alpha"]`` ((1, H, W) or (H, W), tensor or array) to (H, W) float64."""
    if "alpha" not in output:
        raise KeyError(f"model output for {name} has no 'alpha' key (keys: {sorted(output)}).")
    alpha = output["alpha"]
    if isinstance(alpha, torch.Tensor):
        if alpha.dtype != torch.float64:  # float64 stays exact; half / bfloat16 go via float32
            alpha = alpha.float()
        alpha = alpha.detach().cpu().numpy()
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.ndim == 3 and alpha.shape[0] == 1:
        alpha = alpha[0]
    if alpha.ndim != 2:
        raise ValueError(
            f"model output 'alpha' for {name} has shape {alpha.shape}; "
            "expected (1, H, W) or (H, W)."
        )
    return alpha


def _check_same_size(reference: np.ndarray, pred: np.ndarray, name: str, path: str) -> None:
    if pred.shape[:2] != reference.shape[:2]:
        raise MattingDataError(
            f"the prediction for {name} is {pred.shape[0]}x{pred.shape[1]} (HxW) but {path} is "
            f"{reference.shape[0]}x{reference.shape[1]}; the evaluator never resizes: return "
            "alpha at the input's full resolution, with image, trimap and alpha of one size."
        )


class MattingEvaluator(DatasetEvaluator):
    """Per-image matting metrics against the GT files, and their dataset means.

    Images without GT alpha are not scored; images without trimap get no trimap metrics.
    """

    def __init__(
        self,
        dataset_name: Optional[str] = None,
        output_dir: Optional[str] = None,
        protocol: str = "benchmark",
        save_alpha: bool = False,
        max_visuals: int = 0,
        distributed: bool = True,
    ):
        """
        Args:
            dataset_name: name for log lines and the results JSON.
            output_dir: folder for the per-image CSV, results JSON, alphas and visuals, or None.
            protocol: one of :data:`PROTOCOLS`.
            save_alpha: write every prediction as an 8-bit PNG under ``output_dir/alpha/``.
            max_visuals: total number of :func:`make_grid` PNGs to write in ``output_dir/visuals/``.
            distributed: gather the rows of all processes to the main one.
        """
        if protocol not in PROTOCOLS:
            raise ValueError(f"MattingEvaluator: protocol={protocol!r}; use one of {PROTOCOLS}.")
        if (save_alpha or max_visuals > 0) and not output_dir:
            raise ValueError("MattingEvaluator: save_alpha / max_visuals need an output_dir.")
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._protocol = protocol
        self._save_alpha = save_alpha
        self._max_visuals = int(max_visuals)
        self._distributed = distributed
        self.reset()

    def reset(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._num_without_gt = 0
        self._num_without_trimap = 0
        self._num_visuals = 0
        self._visual_budget = self._max_visuals
        if self._distributed:  # max_visuals in total, shared out over the ranks
            world_size, rank = comm.get_world_size(), comm.get_rank()
            extra = int(rank < self._max_visuals % world_size)
            self._visual_budget = self._max_visuals // world_size + extra

    # ------------------------------------------------------------------ per image
    def process(self, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
        """
        Args:
            inputs: dicts with ``file_name``, ``image_id``, optional ``alpha_file_name`` and
                ``trimap_file_name``.
            outputs: ``[{"alpha": (1, H, W) tensor in [0, 1]}]`` at the image's full resolution.
        """
        for record, output in zip(inputs, outputs):
            self._process_one(record, output)

    def _process_one(self, record: dict[str, Any], output: dict[str, Any]) -> None:
        file_name = record.get("file_name", "<input without file_name>")
        image_id = record.get("image_id")
        if image_id is None:
            image_id = os.path.splitext(os.path.basename(file_name))[0]
        image_id = str(image_id)
        pred = _prediction_array(output, file_name)

        trimap = None
        if record.get("trimap_file_name"):
            trimap = canonical_trimap(read_trimap(record["trimap_file_name"]))
            _check_same_size(trimap, pred, file_name, record["trimap_file_name"])
        gt = None
        if record.get("alpha_file_name"):
            gt = alpha_on_stored_grid(read_alpha(record["alpha_file_name"]))
            _check_same_size(gt, pred, file_name, record["alpha_file_name"])
            self._rows.append(self._score(image_id, file_name, pred, gt, trimap))
        else:
            if self._num_without_gt == 0:
                logger.warning(
                    "No GT alpha ('alpha_file_name') for %s: not scored; "
                    "further images without GT are only counted.",
                    file_name,
                )
            self._num_without_gt += 1

        if self._save_alpha:
            alpha_path = os.path.join(self._output_dir, "alpha", f"{image_id}.png")
            write_png(alpha_path, alpha_to_uint8(pred))
        if self._num_visuals < self._visual_budget:
            self._num_visuals += 1
            image = self._image_for_visual(record)
            _check_same_size(image, pred, file_name, file_name)
            grid = make_grid(image, trimap, pred, gt)
            write_png(os.path.join(self._output_dir, "visuals", f"{image_id}.png"), grid)

    def _score(self, image_id, file_name, pred, gt, trimap) -> dict[str, Any]:
        if trimap is None:
            if self._num_without_trimap == 0:
                logger.warning(
                    "No trimap ('trimap_file_name') for %s: SAD-T, MSE-T and unknown-region "
                    "metrics skipped; further such images are only counted.",
                    file_name,
                )
            self._num_without_trimap += 1
        row: dict[str, Any] = {"image_id": image_id}
        if self._protocol in ("benchmark", "both"):
            row.update(matting_metrics(pred, gt, trimap))
        if self._protocol in ("unknown_region", "both") and trimap is not None:
            row.update(unknown_region_metrics(pred, gt, trimap))
        return row

    @staticmethod
    def _image_for_visual(record: dict[str, Any]) -> np.ndarray:
        if record.get("file_name"):
            return read_image(record["file_name"])
        if isinstance(record.get("image"), torch.Tensor):  # (3, H, W) RGB in [0, 1]
            image = record["image"].detach().float().cpu().numpy().transpose(1, 2, 0)
            return alpha_to_uint8(image)
        raise KeyError("input has no 'file_name' and no 'image' tensor to draw a visual grid of.")

    # ------------------------------------------------------------------ dataset
    def evaluate(self):
        """Gather the rows, log a table, write the CSV / JSON.

        Returns:
            ``OrderedDict(matting={metric: mean})`` on the main process; ``{}`` elsewhere, or no GT.
        """
        state = {
            "rows": self._rows,
            "num_without_gt": self._num_without_gt,
            "num_without_trimap": self._num_without_trimap,
        }
        if self._distributed:
            comm.synchronize()
            states = comm.gather(state, dst=0)
            if not comm.is_main_process():
                return {}
        else:
            states = [state]
        rows = [row for part in states for row in part["rows"]]
        num_without_gt = sum(part["num_without_gt"] for part in states)
        num_without_trimap = sum(part["num_without_trimap"] for part in states)
        name = self._dataset_name or "dataset"

        if num_without_gt:
            logger.info("%s: %d image(s) without GT alpha, not scored.", name, num_without_gt)
        if num_without_trimap:
            logger.info(
                "%s: %d image(s) without trimap, trimap-dependent metrics skipped for them.",
                name,
                num_without_trimap,
            )
        if not rows:
            logger.warning(
                "%s: no image had a GT alpha ('alpha_file_name'); nothing to score, returning {}.",
                name,
            )
            return {}

        means = summarize_rows(rows)
        table = tabulate(
            [[name, len(rows), *means.values()]],
            headers=["dataset", "images", *means.keys()],
            tablefmt="pipe",
            floatfmt=".5g",
        )
        logger.info("Matting metrics (%s protocol, mean per image):\n%s", self._protocol, table)
        if self._output_dir:
            self._write_results(rows, means, num_without_gt)
        return OrderedDict(matting=means)

    def _write_results(self, rows, means, num_without_gt) -> None:
        os.makedirs(self._output_dir, exist_ok=True)
        csv_path = os.path.join(self._output_dir, PER_IMAGE_CSV)
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["image_id", *means.keys()], restval="")
            writer.writeheader()
            writer.writerows(rows)
        summary = {
            "dataset": self._dataset_name,
            "protocol": self._protocol,
            "num_images": len(rows),
            "num_without_gt": num_without_gt,
            "metrics": means,
        }
        with open(os.path.join(self._output_dir, RESULTS_JSON), "w") as handle:
            json.dump(summary, handle, indent=1)
        logger.info("Per-image matting metrics written to %s", csv_path)
