"""Mixed precision: the trainer per device / AMP switch, and a CPU bfloat16 autocast step that runs
the backbone in bfloat16 while the criterion's losses stay float32."""

import itertools
import warnings

import pytest
import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

from alphafree_matting.engine import CPUAutocastTrainer, build_trainer, get_param_groups
from tests.helpers.training import TINY_DEPTH, tiny_vitmatte, training_batch


def make_optimizer(model, lr=1e-3):
    groups = get_param_groups(model, base_lr=lr, weight_decay=0.1, num_layers=TINY_DEPTH)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=0.1)


def record_dtypes(model):
    """Forward hooks recording the output dtype of a few layers and the criterion's losses."""
    seen = {}

    def recorder(name):
        def hook(module, inputs, output):
            if isinstance(output, dict):
                seen[name] = {key: value.detach().clone() for key, value in output.items()}
            else:
                seen[name] = output.dtype

        return hook

    layers = {
        "attention_qkv": model.backbone.blocks[0].attn.qkv,
        "mlp_fc1": model.backbone.blocks[1].mlp.fc1,
        "patch_embed": model.backbone.patch_embed.proj,
        "decoder_conv": model.decoder.convstream.convs[0].conv,
        "criterion": model.criterion,
    }
    for name, layer in layers.items():
        layer.register_forward_hook(recorder(name))
    return seen


def one_step(amp: bool):
    model = tiny_vitmatte()
    seen = record_dtypes(model)
    start = {name: param.detach().clone() for name, param in model.named_parameters()}
    trainer = build_trainer(
        model, itertools.repeat(training_batch(2)), make_optimizer(model), device="cpu", amp=amp
    )
    trainer.train(0, 1)
    return trainer, model, seen, start


def test_cpu_autocast_step_runs_backbone_in_bfloat16_and_losses_in_float32():
    trainer, model, seen, start = one_step(amp=True)
    assert type(trainer) is CPUAutocastTrainer
    for layer in ("attention_qkv", "mlp_fc1", "patch_embed", "decoder_conv"):
        assert seen[layer] == torch.bfloat16, layer
    losses = seen["criterion"]
    assert set(losses) == {"loss_known", "loss_ddc"}
    for name, loss in losses.items():
        assert loss.dtype == torch.float32 and loss.dim() == 0, name
        assert torch.isfinite(loss), name
    logged = trainer.storage.history("total_loss").latest()
    assert logged == pytest.approx(sum(loss.item() for loss in losses.values()), rel=1e-6)
    # Parameters, gradients and the update stay float32; every parameter with a gradient took a
    # step (the residual block's inner norms have none at initialisation: its last norm is zero).
    for name, param in model.named_parameters():
        assert param.dtype == torch.float32 and param.grad.dtype == torch.float32, name
        if param.grad.any():
            assert not torch.equal(param, start[name]), name
    assert not torch.is_autocast_enabled("cpu")


def test_training_without_amp_runs_in_float32():
    trainer, _, seen, _ = one_step(amp=False)
    assert type(trainer) is SimpleTrainer
    for layer in ("attention_qkv", "mlp_fc1", "patch_embed", "decoder_conv"):
        assert seen[layer] == torch.float32, layer


def test_cpu_autocast_backward_runs_outside_autocast():
    """The step's gradients are exactly those of a bfloat16-autocast forward followed by a plain
    backward (a backward inside the autocast region gives different gradients)."""
    batch = training_batch(2)
    model = tiny_vitmatte()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    CPUAutocastTrainer(model, itertools.repeat(batch), optimizer).train(0, 1)

    reference = tiny_vitmatte().train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = reference(batch)
    sum(losses.values()).backward()
    for (name, param), expected in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(param.grad, expected.grad), name


@pytest.mark.parametrize(
    "device, amp, expected",
    [
        ("cuda", True, AMPTrainer),
        ("cuda:1", True, AMPTrainer),
        ("cuda", False, SimpleTrainer),
        ("cpu", True, CPUAutocastTrainer),
        ("cpu", False, SimpleTrainer),
    ],
)
def test_build_trainer_picks_the_trainer_for_device_and_amp(device, amp, expected):
    # Construction only: no step runs, so AMPTrainer is built on a CPU-only machine too (its grad
    # scaler disables itself with a warning when CUDA is absent).
    model = tiny_vitmatte()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = build_trainer(
            model, [training_batch(2)], make_optimizer(model), device=device, amp=amp
        )
    assert type(trainer) is expected
