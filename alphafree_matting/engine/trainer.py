"""Choosing detectron2's trainer for the device and precision of a run.

* CUDA + ``train.amp.enabled``: detectron2's :class:`AMPTrainer` (float16 autocast + grad scaler).
* CPU + ``train.amp.enabled``: :class:`CPUAutocastTrainer`, bfloat16 autocast (no scaler needed:
  bfloat16 has float32's exponent range). detectron2's AMPTrainer asserts CUDA.
* otherwise detectron2's :class:`SimpleTrainer`.

The criterion computes its losses in float32 under any autocast.
"""

import logging
import time

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

__all__ = ["CPUAutocastTrainer", "build_trainer"]

logger = logging.getLogger(__name__)


class CPUAutocastTrainer(SimpleTrainer):
    """:class:`SimpleTrainer` whose forward pass runs under CPU autocast (bfloat16 by default).

    As in detectron2's :class:`AMPTrainer`, only the forward pass and the loss sum run under
    autocast; ``backward`` and the optimizer step run outside it. (A backward pass inside the
    autocast region re-casts some gradient matmuls and gives different, less precise gradients.)
    Autocast changes only the forward's eligible ops (linear layers, matmuls, convolutions); the
    parameters, their gradients and the optimizer state stay float32.

    Args:
        model, data_loader, optimizer: as for :class:`SimpleTrainer`.
        precision: the autocast dtype, ``torch.bfloat16`` (or ``torch.float16``).
    """

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
        # detectron2 after 0.6 gives hooks an ``after_backward`` callback; 0.6 has none.
        after_backward = getattr(self, "after_backward", None)
        if after_backward is not None:
            after_backward()
        self._write_metrics(loss_dict, data_time)
        self.optimizer.step()


def build_trainer(
    model, data_loader, optimizer, *, device: str, amp: bool = False
) -> SimpleTrainer:
    """The detectron2 trainer for ``device`` ("cpu", "cuda", "cuda:N") and the AMP switch.

    Args:
        model, data_loader, optimizer: as for detectron2's :class:`SimpleTrainer`.
        device: the device the model lives on.
        amp: ``train.amp.enabled`` of the config.
    """
    if not amp:
        return SimpleTrainer(model, data_loader, optimizer)
    if torch.device(device).type == "cuda":
        return AMPTrainer(model, data_loader, optimizer)
    logger.info("train.amp.enabled on %s: using bfloat16 autocast (CPUAutocastTrainer)", device)
    return CPUAutocastTrainer(model, data_loader, optimizer)
