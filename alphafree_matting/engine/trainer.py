"""Detectron2's trainer for a run's device and precision.

With ``train.amp.enabled``: :class:`AMPTrainer` on CUDA, :class:`CPUAutocastTrainer` (bfloat16,
no grad scaler) on CPU, where AMPTrainer asserts CUDA; without: :class:`SimpleTrainer`.
"""

import logging
import time

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

from ..compat import call_after_backward

__all__ = ["CPUAutocastTrainer", "build_trainer"]

logger = logging.getLogger(__name__)


class CPUAutocastTrainer(SimpleTrainer):
    """:class:`SimpleTrainer` whose forward pass and loss sum run under CPU autocast of
    ``precision`` (bfloat16 or float16); as in :class:`AMPTrainer`, backward and the optimizer
    step run outside it, and parameters, gradients and optimizer state stay float32."""

    def __init__(self, model, data_loader, optimizer, precision: torch.dtype = torch.bfloat16):
        super().__init__(model, data_loader, optimizer)
        self.precision = precision

    def run_step(self):
        assert self.model.training, "[CPUAutocastTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start

        with torch.autocast("cpu", dtype=self.precision):
            loss_dict = self.model(data)
            if isinstance(loss_dict, torch.Tensor):
                loss_dict = {"total_loss": loss_dict}
            losses = sum(loss_dict.values())

        self.optimizer.zero_grad()
        losses.backward()
        call_after_backward(self)
        self._write_metrics(loss_dict, data_time)
        self.optimizer.step()


def build_trainer(
    model, data_loader, optimizer, *, device: str, amp: bool = False
) -> SimpleTrainer:
    """The detectron2 trainer for the model's ``device`` ("cpu", "cuda", "cuda:N") and ``amp``
    (``train.amp.enabled``)."""
    if not amp:
        return SimpleTrainer(model, data_loader, optimizer)
    if torch.device(device).type == "cuda":
        return AMPTrainer(model, data_loader, optimizer)
    logger.info("train.amp.enabled on %s: using bfloat16 autocast (CPUAutocastTrainer)", device)
    return CPUAutocastTrainer(model, data_loader, optimizer)
