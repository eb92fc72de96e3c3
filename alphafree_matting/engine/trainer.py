"""Choosing detectron2's trainer for the device and precision of a run.

* CUDA + ``train.amp.enabled``: detectron2's :class:`AMPTrainer` (float16 autocast + grad scaler).
* CPU + ``train.amp.enabled``: :class:`CPUAutocastTrainer`, bfloat16 autocast (no scaler needed:
  bfloat16 has float32's exponent range). detectron2's AMPTrainer asserts CUDA.
* otherwise detectron2's :class:`SimpleTrainer`.

The criterion computes its losses in float32 under any autocast.
"""
import logging

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

__all__ = ["CPUAutocastTrainer", "build_trainer"]

logger = logging.getLogger(__name__)


class CPUAutocastTrainer(SimpleTrainer):
    """:class:`SimpleTrainer` whose steps run under CPU bfloat16 autocast.

    Autocast only changes the forward's eligible ops (matmuls, convolutions); the backward pass
    follows the dtypes recorded in the forward and the optimizer updates float32 parameters.
    """

    def run_step(self):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            super().run_step()


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
