"""``OnnxMattingPredictor``: an exported ONNX model (tools/export_onnx.py) run by onnxruntime, with
:class:`~alphafree_matting.predictor.MattingPredictor`'s interface and pre/post-processing.

The onnxruntime session becomes the network of a :class:`MattingModel` built from the file's
metadata, so reading (the test mapper), normalisation, padding, ``max_side`` resizing and
cropping are the PyTorch predictor's own code; only the network runs in onnxruntime.
"""

import json
import logging
import os
from typing import Any, Optional, Union

import numpy as np
import torch
from detectron2.config import LazyConfig
from omegaconf import DictConfig
from torch import nn

from ..data.mapper import MattingDatasetMapper
from ..modeling import MattingModel
from ..predictor import MattingPredictor
from .onnx_export import FORMAT_VERSION, INPUT_NAME, METADATA_KEY, OUTPUT_NAME

__all__ = ["OnnxMattingPredictor", "OnnxNetwork", "onnx_matting_model", "open_onnx_model"]

logger = logging.getLogger(__name__)

_EXPECTED = (
    f"a matting model exported by tools/export_onnx.py (input '{INPUT_NAME}' (1, 3 or 4, H, W), "
    f"output '{OUTPUT_NAME}' (1, 1, H, W), '{METADATA_KEY}' metadata)"
)


def _providers(device: str) -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
        raise ValueError(
            f"device={device!r} but this onnxruntime has no CUDA provider ({available})"
        )
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ValueError(f"device={device!r}: use 'auto', 'cpu' or 'cuda'")
    use_cuda = device != "cpu" and "CUDAExecutionProvider" in available
    return (
        ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
    )


def open_onnx_model(path: str, *, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """An onnxruntime session of an exported matting model and its metadata.

    Raises ValueError naming the file when it is not ONNX or not such a model.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "ONNX inference needs onnxruntime: pip install -e '.[interop]'"
        ) from error
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX model {path} does not exist (write it with export_onnx.py)")
    providers = _providers(device)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as error:  # onnxruntime's own exception types: say it in one line
        reason = str(error).splitlines()[0][:300]
        raise ValueError(
            f"{path} is not a readable ONNX model ({reason}); expected {_EXPECTED}"
        ) from None
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    problems = []
    if text is None:
        problems.append(f"no '{METADATA_KEY}' metadata")
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
        names = [i.name for i in inputs], [o.name for o in outputs]
        problems.append(f"inputs / outputs {names[0]} / {names[1]}")
    metadata = json.loads(text) if text is not None else {}
    if metadata and metadata.get("format") != FORMAT_VERSION:
        problems.append(f"metadata format {metadata.get('format')} (this version reads 1)")
    elif metadata and (len(inputs[0].shape) != 4 or inputs[0].shape[1] != metadata["in_chans"]):
        problems.append(f"input shape {inputs[0].shape} for {metadata['in_chans']} channels")
    if problems:
        raise ValueError(
            f"{path} is an ONNX model with {'; '.join(problems)}; expected {_EXPECTED}"
        )
    return session, metadata


class OnnxNetwork(nn.Module):
    """An onnxruntime session as a network: (B, C, H, W) float input -> alpha (B, 1, H, W)."""

    def __init__(self, session, in_chans: int):
        super().__init__()
        self.session = session
        self.in_chans = in_chans

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        batch = inputs.detach().float().cpu().numpy()
        alphas = [self.session.run([OUTPUT_NAME], {INPUT_NAME: item[None]})[0] for item in batch]
        return torch.from_numpy(np.concatenate(alphas)).to(inputs.device)


class _NetworkOutput(nn.Module):
    """Decoder slot of the ONNX model: the network already returns the alpha."""

    def forward(self, alpha: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return alpha


def onnx_matting_model(
    path: str, *, device: str = "auto", max_side: Optional[int] = None
) -> MattingModel:
    """A :class:`MattingModel` (eval mode, CPU tensors) whose network is the ONNX file's graph.

    Args:
        path: an ONNX file written by :func:`~alphafree_matting.interop.onnx_export.export_onnx`.
        device: "auto" (onnxruntime's CUDA provider when available), "cpu" or "cuda".
        max_side: override of the exported model's ``max_side`` (None keeps it).
    """
    session, metadata = open_onnx_model(path, device=device)
    model = MattingModel(
        backbone=OnnxNetwork(session, metadata["in_chans"]),
        decoder=_NetworkOutput(),
        pixel_mean=metadata["pixel_mean"],
        pixel_std=metadata["pixel_std"],
        size_divisibility=metadata["size_divisibility"],
        trimap_input=metadata["trimap_input"],
        max_side=metadata["max_side"] if max_side is None else int(max_side),
    )
    if hasattr(model, "bounded_inference"):
        model.bounded_inference = False  # the graph is the whole network
    return model.eval()


class OnnxMattingPredictor(MattingPredictor):
    """:class:`MattingPredictor` with an exported ONNX model run by onnxruntime.

    Example::

        predictor = OnnxMattingPredictor("model.onnx")
        prediction = predictor.predict("cat.jpg")   # prediction.alpha: (H, W) in [0, 1]
    """

    def __init__(
        self,
        onnx_file: str,
        cfg: Optional[Union[str, DictConfig]] = None,
        *,
        device: str = "auto",
        max_side: Optional[int] = None,
    ):
        """
        Args:
            onnx_file: an ONNX file written by tools/export_onnx.py.
            cfg: optional LazyConfig of the exported model, only checked against the file.
            device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (onnxruntime's CUDA provider).
            max_side: see :class:`MattingPredictor` (None keeps the exported model's value).
        """
        self.device = torch.device("cpu")  # where the pre- and post-processing run
        self.model = onnx_matting_model(onnx_file, device=device, max_side=max_side)
        self.trimap_input = self.model.trimap_input
        if cfg is not None:
            cfg = LazyConfig.load(cfg) if isinstance(cfg, str) else cfg
            configured = bool(cfg.model.get("trimap_input", False))
            if configured != self.trimap_input:
                raise ValueError(
                    f"the config builds a model with trimap_input={configured}, but {onnx_file} "
                    f"was exported with trimap_input={self.trimap_input}; give the model's config"
                )
        self.mapper = MattingDatasetMapper(is_train=False, trimap_input=self.trimap_input)
