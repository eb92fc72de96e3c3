# Step schedule of the paper: lr x1 until 60 % of training, x0.1 until 90 %, then x0.05,
# with a linear warm-up over the first 250 iterations.
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler


def epochs_to_iters(epochs: float, num_images: int, batch_size: int) -> int:
    """Iterations that cover ``epochs`` passes over ``num_images`` at total batch ``batch_size``."""
    return int(round(epochs * num_images / batch_size))


def step_schedule(max_iter, warmup_iters=250, steps=(0.6, 0.9), values=(1.0, 0.1, 0.05)):
    """The paper's lr multiplier for ``max_iter`` iterations (a LazyCall, not an object)."""
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=list(values),
            milestones=[int(max_iter * s) for s in steps],
            num_updates=max_iter,
        ),
        warmup_length=min(1.0, warmup_iters / max_iter),
        warmup_factor=0.001,
    )
