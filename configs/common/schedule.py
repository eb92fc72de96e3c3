# Step lr schedules under detectron2's linear warm-up (fvcore param schedulers, which detectron2's
# LRScheduler hook evaluates at iter / max_iter).
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler


def step_schedule(max_iter, warmup_iters, percent_milestones=(60, 90), values=(1.0, 0.1, 0.05)):
    """lr x ``values[i]`` from ``percent_milestones[i - 1]`` % of training on (the paper's shape),
    after a linear warm-up of ``warmup_iters`` of ``max_iter`` iterations. The steps scale with
    ``train.max_iter`` overrides; the paper configs write theirs in iterations, as the authors'
    code does."""
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=list(values), milestones=list(percent_milestones), num_updates=100
        ),
        warmup_length=min(1.0, warmup_iters / max_iter),
        warmup_factor=0.001,
    )
