#!/usr/bin/env python
"""Train or evaluate a model described by a LazyConfig file (detectron2's generic training script).

    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py [key=value ...]
    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --eval-only \\
        train.init_checkpoint=output/am2k_ddc/model_final.pth
    python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --num-gpus 8 --resume

``--num-gpus N`` starts N processes (detectron2's ``launch``); on a machine without CUDA they are
CPU processes over gloo (set ``train.device=cpu``).

The config provides ``model``, ``dataloader.{train,test,evaluator}``, ``optimizer``,
``lr_multiplier`` and ``train`` (see ``configs/common/train.py``). Nothing here knows about a
particular model: the matting-specific parts come from the config.
"""

import logging

from detectron2.config import LazyConfig, instantiate
from detectron2.engine import default_argument_parser, default_setup, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

import alphafree_matting.data  # noqa: F401  (registers the built-in datasets)
from alphafree_matting.checkpoint import (
    AtomicCheckpointer,
    check_init_checkpoint,
    load_model_weights,
)
from alphafree_matting.engine import (
    apply_overrides,
    build_trainer,
    create_ddp_model,
    launch,
    record_results,
)

logger = logging.getLogger("detectron2")


def do_test(cfg, model):
    """Evaluate ``model`` on ``cfg.dataloader.test`` with ``cfg.dataloader.evaluator``."""
    if "evaluator" not in cfg.dataloader:
        return {}
    results = inference_on_dataset(
        model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
    )
    if comm.is_main_process() and results:
        print_csv_format(results)
    return results


def do_train(args, cfg):
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
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
            if comm.is_main_process()
            else None,
            hooks.EvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            hooks.PeriodicWriter(
                default_writers(cfg.train.output_dir, cfg.train.max_iter),
                period=cfg.train.log_period,
            )
            if comm.is_main_process()
            else None,
        ]
    )

    if args.resume and checkpointer.has_checkpoint():
        # Model, optimizer, scheduler and iteration of the last complete checkpoint; it stores
        # the iteration that just finished, so training continues with the next one.
        checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=True)
        start_iter = trainer.iter + 1
    else:
        load_model_weights(model, cfg.train.init_checkpoint, complete=False)
        start_iter = 0
    trainer.train(start_iter, cfg.train.max_iter)


def do_eval_only(cfg):
    model = instantiate(cfg.model)
    model.to(cfg.train.device)
    model = create_ddp_model(model)
    report = load_model_weights(model, cfg.train.init_checkpoint, complete=True)
    results = do_test(cfg, model)
    if comm.is_main_process():
        record_results(results, cfg.train.output_dir, report.iteration or 0)
    return results


def main(args):
    cfg = LazyConfig.load(args.config_file)
    cfg = apply_overrides(cfg, args.opts)  # a dict value replaces the node (d2 would merge)
    default_setup(cfg, args)
    # The plugin logs under its package name (e.g. the evaluator's metric table).
    setup_logger(cfg.train.output_dir, comm.get_rank(), name="alphafree_matting", abbrev_name="afm")
    check_init_checkpoint(cfg.train.init_checkpoint)
    if args.eval_only:
        do_eval_only(cfg)
    else:
        do_train(args, cfg)


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
