"""``MattingPredictor``: a config and a checkpoint to alpha mattes of image files.

It runs the evaluation path of ``tools/lazyconfig_train_net.py --eval-only``: a test-mode dataset
dict through ``MattingDatasetMapper(is_train=False)`` and ``ViTMatte``'s evaluation forward;
nothing here reads, normalises, pads or resizes by itself.
"""

import copy
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch
from detectron2.config import LazyConfig, instantiate
from omegaconf import DictConfig

from .checkpoint import load_model_weights
from .conventions import alpha_to_uint8
from .data.io import MattingDataError
from .data.mapper import MattingDatasetMapper, inference_inputs
from .data.trimap_checks import check_trimap_values, value_counts

logger = logging.getLogger(__name__)

__all__ = ["MattingPrediction", "MattingPredictor", "load_predictor", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use 'cpu' or 'auto'")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device={device!r}: use one of {DEVICES} (or 'cuda:N')")
    return torch.device(device)


@dataclass
class MattingPrediction:
    """The alpha matte of one image file (``image_id``: its stem).

    Attributes:
        image: (H, W, 3) uint8 RGB as the model saw it (EXIF orientation applied).
        alpha: (H, W) float32 predicted alpha in [0, 1], at the image's size.
    """

    file_name: str
    image_id: str
    image: np.ndarray
    alpha: np.ndarray

    @property
    def alpha_uint8(self) -> np.ndarray:
        """(H, W) uint8 ``round(alpha * 255)``, what the evaluator's ``save_alpha`` writes."""
        return alpha_to_uint8(self.alpha)


class MattingPredictor:
    """A matting model from a LazyConfig + checkpoint, in eval mode on a device.

    Example::

        predictor = MattingPredictor("configs/am2k_ddc.py", "output/am2k_ddc/model_final.pth")
        prediction = predictor.predict("cat.jpg")   # prediction.alpha: (H, W) in [0, 1]

    Images are predicted one at a time, any size, at full resolution in bounded memory (the
    model's ``bounded_inference``, on by default); ``max_side`` trades detail for speed.
    """

    def __init__(
        self,
        cfg: Union[str, DictConfig],
        checkpoint: str,
        *,
        device: str = "auto",
        max_side: Optional[int] = None,
    ):
        """
        Args:
            cfg: a LazyConfig file (``configs/*.py`` or a run's ``config.yaml``) or a loaded
                config; only ``cfg.model`` is used (a copy: ``max_side`` does not change it).
            checkpoint: a ``{"model": state_dict}`` file holding every weight of the model.
            device: see :func:`resolve_device`.
            max_side: overrides ``ViTMatte.max_side`` (downscale longer sides, resize back).
        """
        cfg = LazyConfig.load(cfg) if isinstance(cfg, str) else copy.deepcopy(cfg)
        if "model" not in cfg:
            raise KeyError("the config has no 'model' entry; give a LazyConfig of a model")
        if not checkpoint:
            raise ValueError(
                "MattingPredictor needs a checkpoint (e.g. output/<run>/model_final.pth): "
                "an untrained model predicts noise"
            )
        if max_side is not None:
            cfg.model.max_side = int(max_side)
        self.device = resolve_device(device)
        self.model = instantiate(cfg.model)
        load_model_weights(self.model, checkpoint, complete=True)
        self.model.to(self.device).eval()
        self.trimap_input = bool(getattr(self.model, "trimap_input", False))
        self.mapper = MattingDatasetMapper(is_train=False, trimap_input=self.trimap_input)

    def _check_trimap_given(self, name: str, given: bool) -> None:
        """A trimap is given exactly when the model takes one."""
        if self.trimap_input and not given:
            raise MattingDataError(
                f"{name}: this model takes a trimap as input; give its trimap "
                "(tools/predict.py --trimap DIR, a folder of <stem>.png trimaps)"
            )
        if given and not self.trimap_input:
            raise ValueError(
                f"{name}: a trimap was given but this model predicts from the image alone "
                "(model.trimap_input=False); drop the trimap"
            )

    def dataset_dict(self, file_name: str, trimap_file_name: Optional[str] = None) -> dict:
        """The test-mode dataset dict of one image file (what a registered split lists)."""
        self._check_trimap_given(file_name, bool(trimap_file_name))
        record: dict[str, Any] = {
            "file_name": file_name,
            "image_id": os.path.splitext(os.path.basename(file_name))[0],
        }
        if trimap_file_name:
            record["trimap_file_name"] = trimap_file_name
        return record

    def predict(
        self,
        file_name: str,
        trimap_file_name: Optional[str] = None,
        *,
        progress: Optional[Callable[[int, int], None]] = None,
    ) -> MattingPrediction:
        """Predict the alpha matte of one image file (any format OpenCV reads, read as RGB).

        Args:
            trimap_file_name: its trimap, for trimap-input models only.
            progress: ``progress(tiles done, tiles announced)`` during bounded inference.

        Raises:
            MattingDataError: the file (or trimap) is missing, unreadable or of another size.
        """
        inputs = self.mapper(self.dataset_dict(file_name, trimap_file_name))
        return self._run(inputs, progress)

    def predict_array(
        self,
        image: np.ndarray,
        trimap: Optional[np.ndarray] = None,
        *,
        name: str = "image",
        progress: Optional[Callable[[int, int], None]] = None,
    ) -> MattingPrediction:
        """Predict the alpha matte of an image in memory (a video frame, an upload): the same
        alpha :meth:`predict` gives for the same pixels written to a PNG.

        Args:
            image: (H, W, 3) uint8 RGB.
            trimap: (H, W) uint8 stored trimap (0 / 128 / 255), for trimap-input models only.
            name: what messages and ``MattingPrediction.file_name`` / ``image_id`` call it.
            progress: see :meth:`predict`.

        Raises:
            MattingDataError: wrong shape or dtype, a trimap of another size or off-level values.
        """
        self._check_trimap_given(name, trimap is not None)
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise MattingDataError(
                f"{name}: expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}"
            )
        if trimap is not None:
            trimap = np.asarray(trimap)
            if trimap.dtype != np.uint8 or trimap.shape != image.shape[:2]:
                raise MattingDataError(
                    f"{name}: the trimap must be (H, W) uint8 of the image's size "
                    f"{image.shape[:2]}, got {trimap.dtype} {trimap.shape}"
                )
            check_trimap_values(value_counts(trimap), f"{name} (trimap)")
        inputs = inference_inputs(image, trimap, {"file_name": name, "image_id": name})
        return self._run(inputs, progress)

    def _run(self, inputs: dict, progress: Optional[Callable[[int, int], None]]):
        """The evaluation forward of one test-mode model input."""
        with torch.no_grad():
            if progress is None:
                (output,) = self.model([inputs])
            else:
                (output,) = self.model.inference([inputs], progress=progress)
        alpha = output["alpha"].float().cpu().numpy()[0]
        image = alpha_to_uint8(inputs["image"].numpy().transpose(1, 2, 0))  # exact: it was u8/255
        return MattingPrediction(
            file_name=inputs["file_name"], image_id=inputs["image_id"], image=image, alpha=alpha
        )

    def __call__(
        self, file_names: list[str], trimap_file_names: Optional[list[str]] = None
    ) -> list[MattingPrediction]:
        """:meth:`predict` for each file (trimaps paired by position)."""
        trimaps = trimap_file_names if trimap_file_names is not None else [None] * len(file_names)
        if len(trimaps) != len(file_names):
            raise ValueError(f"{len(file_names)} images but {len(trimaps)} trimaps")
        return [self.predict(name, trimap) for name, trimap in zip(file_names, trimaps)]


def load_predictor(
    cfg: Optional[Union[str, DictConfig]] = None,
    *,
    checkpoint: Optional[str] = None,
    onnx: Optional[str] = None,
    device: str = "auto",
    max_side: Optional[int] = None,
) -> MattingPredictor:
    """The predictor of a config + ``checkpoint``, or of an exported ``onnx`` file (run by
    onnxruntime; the config is then optional and only checked against the file). What every
    tool that takes ``--config-file`` / ``--checkpoint`` / ``--onnx`` builds."""
    if (checkpoint is None) == (onnx is None):
        raise ValueError("give exactly one of a checkpoint (with its config) or an ONNX file")
    if onnx is not None:
        from .interop.onnx_predictor import OnnxMattingPredictor

        return OnnxMattingPredictor(onnx, cfg, device=device, max_side=max_side)
    if cfg is None:
        raise ValueError("--checkpoint needs the model's --config-file")
    return MattingPredictor(cfg, checkpoint, device=device, max_side=max_side)
