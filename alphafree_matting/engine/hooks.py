"""Training hooks that differ from detectron2's stock ones."""

from detectron2.engine import hooks

__all__ = ["FinalEvalHook"]


class FinalEvalHook(hooks.EvalHook):
    """detectron2's ``EvalHook`` whose final evaluation runs only when training completed.

    detectron2 also evaluates after a run that failed in its last iteration (a full disk while
    saving ``model_final``): that evaluation fails again or scores a model that was not saved,
    and its error hides the first one. The training loop sets ``iter = max_iter`` on completion.
    """

    def after_train(self):
        if self.trainer.iter >= self.trainer.max_iter:
            self._do_eval()
        del self._func  # a closure holding the trainer, as detectron2 drops it
