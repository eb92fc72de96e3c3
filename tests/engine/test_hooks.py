"""FinalEvalHook: the final evaluation follows a completed run only (a run that failed in its last
iteration, e.g. on a full disk, is not evaluated, and its error is the one raised)."""

import pytest
import torch
from detectron2.engine import HookBase, SimpleTrainer
from torch import nn

from alphafree_matting.engine import FinalEvalHook


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, batch):
        return {"loss": (self.weight * batch).sum()}


class FailAt(HookBase):
    def __init__(self, iteration: int):
        self.iteration = iteration

    def after_step(self):
        if self.trainer.iter == self.iteration:
            raise OSError(28, "No space left on device")


def train(max_iter: int, extra_hooks=(), evaluated=None) -> list[int]:
    """Train ``max_iter`` steps; the iterations at which the final evaluation ran."""
    evaluated = [] if evaluated is None else evaluated
    model = Model()
    data = iter([torch.ones(1)] * 10)
    trainer = SimpleTrainer(model, data, torch.optim.SGD(model.parameters(), lr=0.1))
    hook = FinalEvalHook(0, lambda: evaluated.append(trainer.iter) or {})
    trainer.register_hooks([*extra_hooks, hook])
    trainer.train(0, max_iter)
    return evaluated


def test_a_completed_run_is_evaluated_once_at_the_end():
    assert train(3) == [3]


@pytest.mark.parametrize("failing_iteration", [1, 2])
def test_a_run_that_failed_is_not_evaluated_and_its_error_is_raised(failing_iteration):
    evaluated = []
    with pytest.raises(OSError, match="No space left"):
        train(3, [FailAt(failing_iteration)], evaluated)
    assert evaluated == []
