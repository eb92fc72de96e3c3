"""Bounded inference of MattingModel / ViTMatte: the same alpha as the plain path on odd sizes
(automatic and trimap-input), never the whole attention bias or a whole fine decoder map,
progress over the tiles, the plain path in training and when switched off."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import alphafree_matting.modeling.attention as attention_module
import alphafree_matting.modeling.detail_capture as detail_capture_module
from alphafree_matting.modeling import ViTMatte
from alphafree_matting.modeling.tiling import TileBudget
from tests.helpers.models import build_tiny_vitmatte, infer_alpha

pytestmark = pytest.mark.usefixtures("one_thread")

TILE_MB = 0.02  # tiles of a few KiB: every tiled loop of the tiny model runs several times


def randomise(model: ViTMatte, probe: dict, seed: int = 0) -> ViTMatte:
    """Large random queries, keys and rel-pos tables, random BatchNorm statistics, alpha logits
    of mean 0 and std 2 on ``probe``:
    an alpha spread over [0, 1] that depends on every part, so equal outputs are not luck."""
    generator = torch.Generator().manual_seed(seed)
    last_conv = model.decoder.matting_head.matting_convs[-1]
    logits = []
    hook = last_conv.register_forward_hook(lambda module, args, output: logits.append(output))
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if "rel_pos" in name or "attn.qkv.weight" in name:  # attention far from uniform
                tensor.normal_(0, 0.5, generator=generator)
            elif "running_var" in name:
                tensor.uniform_(0.5, 1.5, generator=generator)
            elif "running_mean" in name or ("bn" in name and tensor.is_floating_point()):
                tensor.uniform_(-0.3, 0.3, generator=generator)
        model.eval().inference([probe])
        gain = 2.0 / logits[0].std()
        last_conv.weight.mul_(gain)
        last_conv.bias.sub_(logits[0].mean()).mul_(gain)
    hook.remove()
    return model


def tiny_vitmatte(trimap_input: bool = False, **kwargs) -> ViTMatte:
    """2 heads, window 3 (48 px: token grids are padded to whole windows), one global block."""
    kwargs.setdefault("inference_memory_mb", TILE_MB)
    model = build_tiny_vitmatte(
        trimap_input=trimap_input, embed_dim=16, window_size=3, fusion_out=(10, 8, 6, 4), **kwargs
    )
    return randomise(model, sample(64, 64, trimap_input, seed=9))


def sample(height: int, width: int, trimap_input: bool, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    item = {"image": torch.rand(3, height, width, generator=generator)}
    if trimap_input:
        item["trimap"] = torch.randint(0, 3, (1, height, width), generator=generator) / 2
    return item


# Not multiples of 32; portrait and landscape; sides smaller than a 48-px window.
ODD_SIZES = [(37, 45), (97, 33), (20, 150), (130, 71), (17, 23)]


@pytest.mark.parametrize("trimap_input", [False, True], ids=["automatic", "trimap_input"])
@pytest.mark.parametrize("size", ODD_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_bounded_alpha_equals_the_plain_alpha_on_odd_sizes(trimap_input, size):
    model = tiny_vitmatte(trimap_input)
    item = sample(*size, trimap_input)
    plain = infer_alpha(model, item, bounded=False)
    reports = []
    bounded = infer_alpha(
        model, item, bounded=True, progress=lambda *report: reports.append(report)
    )
    assert bounded.shape == (1, *size) and bounded.dtype == torch.float32
    assert plain.std() > 0.1  # a varied alpha, not a constant
    assert (bounded - plain).abs().max() <= 1e-5
    assert len(reports) >= 8  # it did run in tiles


def test_bounded_alpha_equals_the_plain_alpha_with_attention_chunks_inside_a_token_row():
    model = tiny_vitmatte(inference_memory_mb=0.002)  # 2 of the 6 queries of a row per chunk
    item = sample(130, 71, False)
    plain = infer_alpha(model, item, bounded=False)
    assert (infer_alpha(model, item, bounded=True) - plain).abs().max() <= 1e-5


def test_bounded_alpha_equals_the_plain_alpha_for_a_batch_of_two_sizes():
    model = tiny_vitmatte()
    items = [sample(37, 45, False, seed=1), sample(50, 29, False, seed=2)]
    with torch.no_grad():
        model.bounded_inference = False
        plain = model(items)
        model.bounded_inference = True
        bounded = model(items)
    for plain_output, bounded_output in zip(plain, bounded):
        assert (bounded_output["alpha"] - plain_output["alpha"]).abs().max() <= 1e-5


def test_progress_counts_every_tile_up_to_the_announced_total():
    model = tiny_vitmatte()
    reports = []
    infer_alpha(model, sample(130, 71, False), bounded=True, progress=lambda *r: reports.append(r))
    done = [report[0] for report in reports]
    assert done == list(range(1, len(reports) + 1))
    # The backbone announces its chunks first, the decoder its bands when it starts.
    assert reports[-1][0] == reports[-1][1]
    assert all(total <= reports[-1][1] for _, total in reports)


def test_a_larger_budget_gives_fewer_tiles():
    counts = []
    for memory_mb in (TILE_MB, 4 * TILE_MB, 1024):
        model = tiny_vitmatte(inference_memory_mb=memory_mb)
        budget = model.inference_budget()
        with torch.no_grad():
            model.predict(model.preprocess([sample(130, 71, False)], False).inputs, budget)
        counts.append(budget.done)
    assert counts[0] > counts[1] > counts[2]


class LargestOutput(TorchDispatchMode):
    """Records the largest tensor any operation creates, in bytes."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel() * tensor.element_size())
        return output


def largest_output(function, *args, **kwargs) -> int:
    with torch.no_grad(), LargestOutput() as recorder:
        function(*args, **kwargs)
    return recorder.largest


def test_backbone_in_bounded_mode_never_builds_the_whole_attention_bias():
    model = tiny_vitmatte()
    images = torch.randn(1, 3, 256, 256)  # 16 x 16 = 256 tokens in the global block
    whole_bias = 2 * 256 * 256 * 4  # (heads, N, N) float32
    budget = TileBudget(memory_bytes=16 * 1024)
    assert largest_output(model.backbone, images) >= whole_bias
    # Its largest tensor is then the MLP's hidden map (256 tokens x 64 x 4 bytes).
    assert largest_output(model.backbone, images, budget=budget) <= whole_bias / 4


def test_decoder_in_bounded_mode_never_builds_a_whole_fine_map():
    model = tiny_vitmatte()
    images, features = torch.randn(1, 3, 256, 192), torch.randn(1, 16, 16, 12)
    alpha_bytes = 256 * 192 * 4
    budget = TileBudget(memory_bytes=64 * 1024)
    # Whole: the full-resolution concatenation of the image and the upsampled map (3 + 6 ch).
    assert largest_output(model.decoder, features, images) >= 9 * alpha_bytes
    # Bounded: no tensor larger than the alpha itself.
    assert largest_output(model.decoder, features, images, budget=budget) <= alpha_bytes


def test_training_and_the_switched_off_path_never_tile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("tiled path used")

    model = tiny_vitmatte()
    monkeypatch.setattr(attention_module, "chunked_attention", fail)
    monkeypatch.setattr(detail_capture_module, "evaluate_rows", fail)
    infer_alpha(model, sample(37, 45, False), bounded=False)
    model.train()
    model.criterion = lambda alpha, image, targets: {"loss": alpha.mean()}
    model([{**sample(37, 45, False), "trimap": torch.zeros(1, 37, 45)}])["loss"].backward()
    assert model.inference_budget() is None
    with pytest.raises(AssertionError, match="tiled path used"):
        model.eval()
        infer_alpha(model, sample(37, 45, False), bounded=True)


def test_bounded_inference_under_bfloat16_autocast_is_close_to_plain_autocast():
    model = tiny_vitmatte()
    item = sample(70, 45, False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = infer_alpha(model, item, bounded=False)
        bounded = infer_alpha(model, item, bounded=True)
    assert bounded.dtype == plain.dtype == torch.float32
    assert torch.isfinite(bounded).all()
    assert (bounded - plain).abs().mean() < 0.02


def test_inference_memory_must_be_positive():
    with pytest.raises(ValueError, match="inference_memory_mb=0 must be > 0"):
        tiny_vitmatte(inference_memory_mb=0)
