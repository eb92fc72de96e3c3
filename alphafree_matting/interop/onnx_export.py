"""ONNX export of any :class:`MattingModel` (automatic or trimap-input ViTMatte, other backbones).

The graph is the model's network, :meth:`MattingModel.predict`: ``inputs`` (1, C, H, W) float32 ->
``alpha`` (1, 1, H, W) in [0, 1], H and W dynamic multiples of ``size_divisibility`` (32). Its
pre-processing is the model's own and stays outside the graph: the RGB image in [0, 1] normalised
with ``pixel_mean`` / ``pixel_std``, the trimap (0 / 0.5 / 1) appended as channel 4 for
trimap-input models, both zero-padded at the bottom and right; the alpha is cropped back.
:class:`~alphafree_matting.interop.onnx_predictor.OnnxMattingPredictor` runs exactly that (the
model's ``inference``); the file's metadata (key ``alphafree_matting``, JSON) holds the constants
for other runtimes. torch's dynamo exporter needs ``onnxscript`` (the ``interop`` extra).
"""

import importlib.util
import json
import logging
from typing import Any, Optional

import torch
from torch import nn

from ..modeling import MattingModel, ViT

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "METADATA_KEY",
    "OUTPUT_NAME",
    "example_size",
    "export_onnx",
    "onnx_metadata",
]

logger = logging.getLogger(__name__)

METADATA_KEY = "alphafree_matting"
FORMAT_VERSION = 1
INPUT_NAME = "inputs"
OUTPUT_NAME = "alpha"
DEFAULT_OPSET = 18  # the lowest opset torch's dynamo exporter writes
MAX_SIDE = 16384  # upper bound of the dynamic sizes (the graph holds no size of its own)


class _Network(nn.Module):
    """The traced part of a MattingModel: normalised, padded input -> alpha."""

    def __init__(self, model: MattingModel):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model.predict(inputs)


def _views_as_reshapes(program) -> None:
    """``aten.view`` -> ``aten.reshape`` in an exported graph (in place). A view traced on the
    layout of the CPU attention kernel's output is not a view of the layout the exporter re-traces
    with; a reshape is the same where a view is possible, and a copy elsewhere."""
    for node in program.graph.nodes:
        if node.target == torch.ops.aten.view.default:
            node.target = torch.ops.aten.reshape.default
    program.graph_module.recompile()


def _attention_translation(opset: int):
    """ONNX for ``scaled_dot_product_attention`` on (batch, tokens, dim) tensors of any rank:
    softmax(q k^T / sqrt(dim) + mask) v. torch's own translation takes 4-D inputs only, and its
    decomposition ran ViTMatte-S at 1024x1024 in onnxruntime with 3x this one's peak memory."""
    import onnxscript

    op = getattr(onnxscript, f"opset{opset}", onnxscript.opset18)

    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, **options):
        scale = options.get("scale")
        if is_causal or options.get("enable_gqa"):
            raise NotImplementedError("causal / grouped-query attention is not exported")
        rank = len(query.shape)
        key_t = op.Transpose(key, perm=[*range(rank - 2), rank - 1, rank - 2])
        if scale is None:
            dim = op.CastLike(op.Shape(query, start=-1), query)
            scores = op.Div(op.MatMul(query, key_t), op.Sqrt(dim))
        else:
            scores = op.Mul(op.MatMul(query, key_t), op.CastLike(scale, query))
        if attn_mask is not None:
            scores = op.Add(scores, attn_mask)
        return op.MatMul(op.Softmax(scores, axis=-1), value)

    return {torch.ops.aten.scaled_dot_product_attention.default: attention}


def onnx_metadata(model: MattingModel) -> dict[str, Any]:
    """What a runtime needs around the graph: the pre-processing constants and the input layout."""
    return {
        "format": FORMAT_VERSION,
        "model": type(model).__name__,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "in_chans": 4 if model.trimap_input else 3,
        "trimap_input": bool(model.trimap_input),
        "pixel_mean": [float(v) for v in model.pixel_mean.flatten()],
        "pixel_std": [float(v) for v in model.pixel_std.flatten()],
        "size_divisibility": int(model.size_divisibility),
        "max_side": model.max_side,
        "padding": "zeros at the bottom and right, after normalisation",
        "trimap_values": "0 background, 0.5 unknown, 1 foreground",
    }


def example_size(model: MattingModel) -> tuple[int, int]:
    """A padded (H, W) to trace at where every size-dependent branch takes its general path.

    Shapes are traced symbolically, but Python branches on them follow the example: with a ViT,
    the token grid must need window padding and differ from the grids the position embeddings
    were built for, so the graph pads and interpolates (exact no-ops at the other sizes); and it
    must span two windows or more, since a dimension of 1 would be traced as a broadcast.
    """
    divisibility = model.size_divisibility
    backbone = model.backbone
    if not isinstance(backbone, ViT):
        return 3 * divisibility, 5 * divisibility
    patch = backbone.patch_embed.proj.kernel_size[0]
    windows = {block.window_size for block in backbone.blocks if block.window_size}
    special = set()
    if backbone.pos_embed is not None:
        special.add(round((backbone.pos_embed.shape[1] - backbone.pretrain_use_cls_token) ** 0.5))
    for block in backbone.blocks:
        if block.window_size == 0 and block.attn.use_rel_pos:
            special.add((block.attn.rel_pos_h.shape[0] + 1) // 2)

    def sizes(needs_padding: bool) -> list[int]:
        grids = [
            (n, n * divisibility // patch) for n in range(2, 512) if n * divisibility % patch == 0
        ]
        return [
            n
            for n, grid in grids
            if (not needs_padding or all(grid % size for size in windows))
            and grid > max(windows, default=1)
            and grid not in special
        ]

    # Windows that divide every padded grid (window 2 at stride 16, divisibility 32) are never
    # padded at any size: then the example needs no padding either.
    multiples = sizes(needs_padding=True) or sizes(needs_padding=False)
    return multiples[0] * divisibility, multiples[1] * divisibility


def export_onnx(
    model: MattingModel,
    path: str,
    *,
    opset: int = DEFAULT_OPSET,
    example: Optional[tuple[int, int]] = None,
) -> dict[str, Any]:
    """Export ``model``'s network (plain inference path) to a self-contained ONNX file.

    Args:
        model: a MattingModel on the CPU (its weights loaded); left in eval mode.
        path: the ``.onnx`` file to write (weights inside, no external data file).
        opset: ONNX opset version (>= 18).
        example: padded (H, W) to trace at; default :func:`example_size`.

    Returns:
        the metadata written to the file (:func:`onnx_metadata`).
    """
    if not isinstance(model, MattingModel):
        raise TypeError(f"export_onnx exports a MattingModel, got {type(model).__name__}")
    if importlib.util.find_spec("onnxscript") is None:
        raise ImportError("ONNX export needs onnxscript and onnx: pip install -e '.[interop]'")
    if opset < DEFAULT_OPSET:
        raise ValueError(
            f"opset {opset}: torch's ONNX exporter writes opset {DEFAULT_OPSET} or later"
        )
    height, width = example or example_size(model)
    divisibility = model.size_divisibility
    inputs = torch.rand(1, 4 if model.trimap_input else 3, height, width)
    rows = torch.export.Dim("rows", min=1, max=MAX_SIDE // divisibility)
    cols = torch.export.Dim("cols", min=1, max=MAX_SIDE // divisibility)
    dynamic = {"inputs": {2: divisibility * rows, 3: divisibility * cols}}
    bounded = getattr(model, "bounded_inference", None)
    model.eval()
    try:
        if bounded is not None:
            model.bounded_inference = False  # export the plain path
        with torch.no_grad():
            program = torch.export.export(
                _Network(model), (inputs,), dynamic_shapes=dynamic, strict=False
            )
            _views_as_reshapes(program)
            onnx_program = torch.onnx.export(
                program,
                (inputs,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                custom_translation_table=_attention_translation(opset),
                verbose=False,
            )
    finally:
        if bounded is not None:
            model.bounded_inference = bounded
    metadata = onnx_metadata(model)
    onnx_program.model.metadata_props[METADATA_KEY] = json.dumps(metadata)
    onnx_program.save(path, external_data=False)
    logger.info("Exported %s to %s (traced at %dx%d)", type(model).__name__, path, height, width)
    return metadata
