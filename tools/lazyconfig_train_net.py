#!/usr/bin/env python
"""Train or evaluate a model described by a LazyConfig file (detectron2's generic training script).

    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py [key=value ...]
    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --eval-only \\
        train.init_checkpoint=output/am2k_ddc/model_final.pth
    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --num-gpus 8 --resume

``--num-gpus N`` starts N processes (detectron2's ``launch``); on a machine without CUDA they are
CPU processes over gloo (set ``train.device=cpu``). The processes of a multi-machine (or CPU) run
wait ``--startup-timeout`` seconds (default 600) for each other, logging which ranks are missing.

The config provides ``model``, ``dataloader.{train,test,evaluator}``, ``optimizer``,
``lr_multiplier`` and ``train`` (see ``configs/common/train.py``). Nothing here knows about a
particular model: the matting-specific parts come from the config.

Checked before any process starts: every ``key=value`` override and config key must be read by
something (a typo is an error listing the close matches; ``alphafree_matting.engine.config``);
``--eval-only`` needs trained weights (``train.init_checkpoint=none`` evaluates an untrained
model on purpose and marks the results ``untrained_model``); the output folder must not be in
use by another run (``run.lock``; a dead run's lock is taken over). ``--resume`` uses the newest
intact checkpoint when the last one is damaged.
"""

import logging
import os
import sys
import time
from contextlib import ExitStack, nullcontext
from datetime import timedelta

import alphafree_matting.compat  # noqa: F401  (first: quiets detectron2's imports)

from detectron2.config import LazyConfig, instantiate
from detectron2.engine import default_argument_parser, default_writers, hooks
from detectron2.evaluation import inference_on_dataset
from detectron2.utils import comm
from torch.multiprocessing import ProcessExitedException

import alphafree_matting.data  # noqa: F401  (registers the built-in datasets)
from alphafree_matting.checkpoint import (
    AtomicCheckpointer,
    CheckpointSaveError,
    PruningPeriodicCheckpointer,
    check_init_checkpoint,
    load_model_weights,
)
from alphafree_matting.engine import (
    EXIT_INTERRUPTED,
    FLOAT32_PRECISIONS,
    FinalEvalHook,
    OutputFolderLockedError,
    StopOnSignal,
    apply_overrides,
    build_trainer,
    check_config,
    create_ddp_model,
    forward_signals_to_children,
    launch,
    log_copypaste,
    output_folder_lock,
    record_results,
    setup_run,
    stop_on_signals,
    trim_metrics,
)
from alphafree_matting.engine.distributed import DEFAULT_STARTUP_TIMEOUT

UNTRAINED = "none"
"""``train.init_checkpoint=none``: no weights, on purpose (random initialisation)."""

logger = logging.getLogger("detectron2")


def do_test(cfg, model):
    """Evaluate ``model`` on ``cfg.dataloader.test`` with ``cfg.dataloader.evaluator``."""
    if "evaluator" not in cfg.dataloader:
        return {}
    results = inference_on_dataset(
        model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
    )
    if comm.is_main_process() and results:
        log_copypaste(results)
    return results


def do_train(args, cfg, stop_request):
    # Data first: a missing dataset folder fails here, before minutes of model building, and the
    # test split is checked now rather than at the first periodic evaluation.
    train_loader = instantiate(cfg.dataloader.train)
    if "test" in cfg.dataloader:
        instantiate(cfg.dataloader.test)

    model = instantiate(cfg.model)
    logger.info("Model:\n%s", model)
    model.to(cfg.train.device)

    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)

    model = create_ddp_model(model, **cfg.train.ddp)
    trainer = build_trainer(
        model, train_loader, optimizer, device=cfg.train.device, amp=cfg.train.amp.enabled
    )
    checkpointer = AtomicCheckpointer(
        model, cfg.train.output_dir, optimizer=optimizer, trainer=trainer
    )
    main_process = comm.is_main_process()
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            PruningPeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
            if main_process
            else None,
            FinalEvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            hooks.PeriodicWriter(
                default_writers(cfg.train.output_dir, cfg.train.max_iter),
                period=cfg.train.log_period,
            )
            if main_process
            else None,
            StopOnSignal(stop_request, checkpointer if main_process else None),
        ]
    )

    if args.resume and checkpointer.has_checkpoint():
        # Model, optimizer, scheduler and iteration of the last complete checkpoint (the newest
        # intact one if it is damaged); it stores the iteration that just finished, so training
        # continues with the next one.
        checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=True)
        start_iter = trainer.iter + 1
        if main_process:
            trim_metrics(cfg.train.output_dir, trainer.iter)
    else:
        weights = "" if cfg.train.init_checkpoint == UNTRAINED else cfg.train.init_checkpoint
        load_model_weights(model, weights, complete=False)
        start_iter = 0
    trainer.train(start_iter, cfg.train.max_iter)


def do_eval_only(cfg):
    model = instantiate(cfg.model)
    model.to(cfg.train.device)
    model = create_ddp_model(model)
    untrained = cfg.train.init_checkpoint == UNTRAINED
    if untrained:
        logger.warning(
            "Evaluating an UNTRAINED model (train.init_checkpoint=none): random weights; the "
            "results are marked untrained_model=1 in metrics.json."
        )
        iteration = 0
    else:
        iteration = load_model_weights(model, cfg.train.init_checkpoint, complete=True).iteration
    results = do_test(cfg, model)
    if untrained and results:
        results["untrained_model"] = 1.0
    if comm.is_main_process():
        record_results(results, cfg.train.output_dir, iteration or 0)
    return results


def load_config(args):
    """The config of ``--config-file`` with the command line's overrides, keys and values
    checked."""
    cfg = LazyConfig.load(args.config_file)
    cfg = apply_overrides(cfg, args.opts)  # a dict value replaces the node (d2 would merge)
    check_config(cfg)
    check_settings(cfg, args)
    return cfg


def check_settings(cfg, args) -> None:
    """Values that would fail only after processes started, or do something else than said."""
    if not args.eval_only and not (isinstance(cfg.train.max_iter, int) and cfg.train.max_iter >= 1):
        raise ValueError(
            f"train.max_iter={cfg.train.max_iter!r}: training needs at least one iteration "
            "(to evaluate without training, use --eval-only)"
        )
    world_size = args.num_gpus * args.num_machines
    batch = cfg.dataloader.get("train", {}).get("total_batch_size")
    if not args.eval_only and isinstance(batch, int) and batch % world_size:
        raise ValueError(
            f"dataloader.train.total_batch_size={batch} cannot be split over {world_size} "
            f"processes (--num-gpus {args.num_gpus} x --num-machines {args.num_machines}): "
            "make it a multiple of the process count"
        )
    precision = cfg.train.get("float32_precision", "")
    if precision not in FLOAT32_PRECISIONS:
        raise ValueError(
            f"train.float32_precision={precision!r}: use one of {FLOAT32_PRECISIONS[1:]} "
            "(or leave it empty for torch's default)"
        )


def check_weights(cfg, eval_only: bool) -> None:
    """``train.init_checkpoint`` exists; with ``--eval-only`` it must be given."""
    path = cfg.train.init_checkpoint
    if eval_only and not path:
        raise ValueError(
            "--eval-only needs trained weights: set train.init_checkpoint=PATH (e.g. "
            "output/<run>/model_final.pth), or train.init_checkpoint=none to evaluate an "
            "untrained model on purpose."
        )
    if path != UNTRAINED:
        check_init_checkpoint(path)


def main(args):
    cfg = load_config(args)
    check_weights(cfg, args.eval_only)
    setup_run(cfg, args)
    if args.eval_only:
        do_eval_only(cfg)
        return
    with stop_on_signals() as stop_request:  # data-loader workers start inside: they inherit it
        do_train(args, cfg, stop_request)


RUN_RECORD = ("config.yaml", "log.txt", "metrics.json")
"""Files of a run's record: an evaluation never overwrites them."""


def eval_record_folder(output_dir: str) -> str:
    """Where ``--eval-only`` writes its config, log, metrics and evaluator files: the output
    folder itself, or when that holds another run's record (a training run: the documented
    ``--eval-only`` command evaluates into the training folder), a new sub-folder
    ``eval_only/<date-time>`` of it."""
    if not any(os.path.exists(os.path.join(output_dir, name)) for name in RUN_RECORD):
        return output_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = os.path.join(output_dir, "eval_only", stamp)
    suffix = 1
    while os.path.exists(folder):
        suffix += 1
        folder = os.path.join(output_dir, "eval_only", f"{stamp}-{suffix}")
    return folder


def build_parser():
    parser = default_argument_parser()
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=DEFAULT_STARTUP_TIMEOUT.total_seconds(),
        metavar="SECONDS",
        help="how long the processes of a multi-process / multi-machine run wait for each other "
        "to start (every rank logs which ranks it waits for)",
    )
    return parser


def preflight(args):
    """Check the command line against the config; then own the output folder for the run
    (machine 0 does; the other machines write no files). Returns the lock's context.

    With ``--eval-only`` into a folder that holds a run, ``train.output_dir`` becomes a new
    sub-folder of it (:func:`eval_record_folder`), for every process."""
    cfg = load_config(args)
    check_weights(cfg, args.eval_only)
    if args.eval_only and args.machine_rank == 0:
        folder = eval_record_folder(cfg.train.output_dir)
        if folder != cfg.train.output_dir:
            logging.getLogger(__name__).warning(
                "%s holds a run's record: this evaluation writes its own to %s",
                cfg.train.output_dir,
                folder,
            )
            args.opts = [*args.opts, f"train.output_dir={folder}"]
            cfg.train.output_dir = folder
    if args.machine_rank != 0:
        return nullcontext()
    return output_folder_lock(cfg.train.output_dir)


def _reported(error: BaseException):
    """A user-facing error in the chain of ``error`` (a full disk may fail the writers that
    flush after it, hiding it): the first of :data:`REPORTED`, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, REPORTED):
            return error
        error = error.__cause__ or error.__context__
    return None


REPORTED = (CheckpointSaveError,)
"""Errors during a run that are reported as their message alone (exit code 1)."""


def cli(argv=None) -> None:
    """The command line: check it, own the output folder, start the processes.

    Problems found before any process starts exit with their message (exit code 1), as do the
    errors of :data:`REPORTED` during the run. A run stopped by SIGTERM / SIGINT exits with
    :data:`EXIT_INTERRUPTED` after saving a checkpoint.
    """
    args = build_parser().parse_args(argv)
    with ExitStack() as run:
        try:
            run.enter_context(preflight(args))
        except (KeyError, ValueError, FileNotFoundError, OutputFolderLockedError) as error:
            sys.exit(f"{type(error).__name__}: {error}")
        if args.num_gpus * args.num_machines > 1:
            run.enter_context(forward_signals_to_children())
        try:
            launch(
                main,
                args.num_gpus,
                num_machines=args.num_machines,
                machine_rank=args.machine_rank,
                dist_url=args.dist_url,
                args=(args,),
                startup_timeout=timedelta(seconds=args.startup_timeout),
            )
        except ProcessExitedException as error:
            if error.exit_code != EXIT_INTERRUPTED:
                raise
            sys.exit(EXIT_INTERRUPTED)  # the workers logged where they stopped
        except Exception as error:
            reported = _reported(error)
            if reported is None:
                raise
            sys.exit(f"{type(reported).__name__}: {reported}")


if __name__ == "__main__":
    cli()
