"""The start of a run: logging, the config record, seeds and numeric settings.

What detectron2's ``default_setup`` does, on detectron2 0.6 and main alike, except that the
config is logged as plain text (``default_setup`` colours it with terminal escape codes, which
end up in ``log.txt``) and ``train.float32_precision`` is applied on 0.6 too (0.6 ignores it).
"""

import logging
import os

import torch
from detectron2.config import LazyConfig
from detectron2.utils import comm
from detectron2.utils.collect_env import collect_env_info
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger

__all__ = ["FLOAT32_PRECISIONS", "setup_run"]

FLOAT32_PRECISIONS = ("", "highest", "high", "medium")
"""``train.float32_precision`` values: "" leaves torch's default; others go to
``torch.set_float32_matmul_precision`` (and allow TF32 convolutions unless "highest"), on CUDA."""


def _set_float32_precision(precision: str) -> None:
    if not precision or not torch.cuda.is_available():
        return
    torch.set_float32_matmul_precision(precision)
    torch.backends.cudnn.allow_tf32 = precision != "highest"


def setup_run(cfg, args) -> logging.Logger:
    """Set up the run of ``cfg`` in this process; returns detectron2's logger.

    Logs to the console and ``<train.output_dir>/log.txt`` (rank 0; ``log.txt.rank<N>`` for the
    others) under the ``detectron2``, ``fvcore`` and ``alphafree_matting`` loggers; logs the
    environment, the command line and the config file; saves the full config as
    ``config.yaml`` (rank 0); seeds every RNG with ``train.seed + rank`` (``train.seed < 0``:
    randomly); sets ``cudnn.benchmark`` (training only) and ``train.float32_precision``.
    """
    output_dir = cfg.train.output_dir
    rank = comm.get_rank()
    if comm.is_main_process() and output_dir:
        os.makedirs(output_dir, exist_ok=True)
    setup_logger(output_dir, distributed_rank=rank, name="fvcore")
    logger = setup_logger(output_dir, distributed_rank=rank)
    setup_logger(output_dir, distributed_rank=rank, name="alphafree_matting", abbrev_name="afm")

    logger.info("Rank of current process: %d. World size: %d", rank, comm.get_world_size())
    logger.info("Environment info:\n%s", collect_env_info())
    logger.info("Command line arguments: %s", args)
    if getattr(args, "config_file", ""):
        with open(args.config_file) as f:
            logger.info("Contents of args.config_file=%s:\n%s", args.config_file, f.read())
    if comm.is_main_process() and output_dir:
        path = os.path.join(output_dir, "config.yaml")
        LazyConfig.save(cfg, path)
        logger.info("Full config saved to %s", path)

    seed = cfg.train.get("seed", -1)
    seed_all_rng(None if seed < 0 else seed + rank)
    if not getattr(args, "eval_only", False):
        torch.backends.cudnn.benchmark = bool(cfg.train.get("cudnn_benchmark", False))
    _set_float32_precision(cfg.train.get("float32_precision", ""))
    return logger
