"""Optimizer groups of ViT fine-tuning: layer-wise lr decay factors, weight-decay exemptions, each
trainable parameter in exactly one group, and detectron2's LR hook scaling every group alike."""

import itertools
import re

import pytest
import torch
from detectron2.engine import SimpleTrainer, hooks
from detectron2.solver import WarmupParamScheduler
from detectron2.solver.build import get_default_optimizer_params
from fvcore.common.param_scheduler import MultiStepParamScheduler

from alphafree_matting.engine import get_param_groups, vit_lr_decay_factor
from tests.helpers.training import TINY_DEPTH, tiny_vitmatte, training_batch

RATE = 0.65


@pytest.mark.parametrize(
    "name, exponent",
    [
        ("backbone.pos_embed", 13),
        ("backbone.patch_embed.proj.weight", 13),
        ("backbone.patch_embed.proj.bias", 13),
        ("backbone.blocks.0.attn.qkv.weight", 12),
        ("backbone.blocks.0.norm1.weight", 12),
        ("backbone.blocks.5.mlp.fc2.bias", 7),
        ("backbone.blocks.11.attn.rel_pos_h", 1),
        # The conv residual blocks and anything after the blocks learn at the full rate.
        ("backbone.blocks.2.residual.conv1.weight", 0),
        ("backbone.blocks.11.residual.norm3.bias", 0),
        ("decoder.fusion_blks.0.conv.conv.weight", 0),
        ("decoder.matting_head.matting_convs.3.bias", 0),
        ("backbone_ema.blocks.0.attn.qkv.weight", 0),  # outside the "backbone." prefix
    ],
)
def test_vit_lr_decay_factor_of_named_parameters(name, exponent):
    assert vit_lr_decay_factor(name, num_layers=12, lr_decay_rate=RATE) == pytest.approx(
        RATE**exponent, rel=1e-12
    )


def test_vit_lr_decay_factor_follows_num_layers_and_prefix():
    assert vit_lr_decay_factor("backbone.blocks.0.mlp.fc1.weight", num_layers=2) == pytest.approx(
        RATE**2
    )
    assert vit_lr_decay_factor("net.blocks.1.mlp.fc1.weight", num_layers=2, prefix="net.") == (
        pytest.approx(RATE)
    )


# Normalisation layers of the tiny model (the ViT's LayerNorms, BatchNorm of the decoder and its
# head) and the position embedding: no weight decay. The residual blocks' channel LayerNorms keep
# it (detectron2's weight_decay_norm covers torch norm types only, as in the authors' code).
NO_DECAY = re.compile(
    r"(blocks\.\d+\.norm\d\.|\.bn\.|matting_convs\.1\.)(weight|bias)$|^backbone\.pos_embed$"
)


def group_of_each_parameter(groups):
    """``{id(param): group}``, failing if a parameter is in two groups."""
    owner = {}
    for group in groups:
        for param in group["params"]:
            assert id(param) not in owner, "a parameter is in two groups"
            owner[id(param)] = group
    return owner


def test_param_groups_hold_every_trainable_parameter_once_with_its_lr_and_decay():
    model = tiny_vitmatte()
    model.backbone.blocks[0].attn.proj.bias.requires_grad_(False)
    base_lr, weight_decay = 1e-3, 0.1
    groups = get_param_groups(
        model,
        base_lr=base_lr,
        weight_decay=weight_decay,
        num_layers=TINY_DEPTH,
        lr_decay_rate=RATE,
    )
    owner = group_of_each_parameter(groups)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert set(owner) == {id(p) for p in trainable.values()}
    exempt = {name for name in trainable if NO_DECAY.search(name)}
    # The pattern names real parameters of every kind it is meant to cover.
    assert {
        "backbone.pos_embed",
        "decoder.convstream.convs.0.bn.weight",
        "backbone.blocks.0.norm1.weight",
        "decoder.matting_head.matting_convs.1.weight",
    } <= exempt
    for name, param in trainable.items():
        group = owner[id(param)]
        expected_decay = 0.0 if name in exempt else weight_decay
        assert group["weight_decay"] == expected_decay, name
        factor = vit_lr_decay_factor(name, num_layers=TINY_DEPTH, lr_decay_rate=RATE)
        assert group["lr"] == pytest.approx(base_lr * factor, rel=1e-12), name
    assert "backbone.blocks.1.residual.norm2.bias" in trainable
    assert "backbone.blocks.1.residual.norm2.bias" not in exempt
    # Biases of linear and conv layers keep the weight decay (as in ViTMatte).
    assert owner[id(trainable["backbone.blocks.0.attn.qkv.bias"])]["weight_decay"] == weight_decay
    # Equal hyper-parameters share one group.
    assert len(groups) == len({(g["lr"], g["weight_decay"]) for g in groups})


def test_weight_decay_of_every_parameter_equals_detectron2s_default_param_groups():
    """The authors' code builds its groups with detectron2's get_default_optimizer_params."""
    model = tiny_vitmatte()
    ours = group_of_each_parameter(get_param_groups(model, base_lr=1.0, weight_decay=0.1))
    reference = group_of_each_parameter(
        get_default_optimizer_params(
            model,
            base_lr=1.0,
            weight_decay=0.1,
            weight_decay_norm=0.0,
            overrides={"pos_embed": {"weight_decay": 0.0}},
        )
    )
    for name, param in model.named_parameters():
        assert ours[id(param)]["weight_decay"] == reference[id(param)]["weight_decay"], name


def test_shared_parameter_is_listed_once_and_decay_can_be_disabled():
    model = tiny_vitmatte()
    model.decoder.extra = torch.nn.Linear(4, 4)
    model.decoder.extra.weight = model.decoder.convstream.convs[0].conv.weight  # tied
    groups = get_param_groups(model, base_lr=1.0, weight_decay=0.1, lr_decay_rate=None)
    owner = group_of_each_parameter(groups)
    assert len(owner) == len(list(model.parameters()))  # parameters() also lists a tied one once
    assert {group["lr"] for group in groups} == {1.0}


def test_lr_hook_scales_every_group_by_the_schedule_keeping_layer_decay():
    """detectron2's LRScheduler hook multiplies each group's own initial lr by the schedule."""
    model = tiny_vitmatte()
    base_lr = 1e-2
    groups = get_param_groups(model, base_lr=base_lr, weight_decay=0.1, num_layers=TINY_DEPTH)
    initial = [group["lr"] for group in groups]
    optimizer = torch.optim.AdamW(groups, lr=base_lr)
    max_iter = 4
    schedule = WarmupParamScheduler(
        MultiStepParamScheduler(values=[1.0, 0.1], milestones=[2], num_updates=max_iter),
        warmup_factor=0.5,
        warmup_length=1 / max_iter,
    )
    trainer = SimpleTrainer(model, itertools.repeat(training_batch(2)), optimizer)
    seen = []
    trainer.register_hooks(
        [
            hooks.LRScheduler(scheduler=schedule),
            hooks.CallbackHook(
                before_step=lambda t: seen.append([g["lr"] for g in t.optimizer.param_groups])
            ),
        ]
    )
    trainer.train(0, max_iter)
    multipliers = [0.5, 1.0, 0.1, 0.1]  # warm-up at iteration 0, step at iteration 2
    for iteration, multiplier in enumerate(multipliers):
        assert seen[iteration] == pytest.approx([lr * multiplier for lr in initial], rel=1e-9)
    # The logged lr is the multiplier times the lr of one (the largest) group.
    logged = [lr for lr, _ in trainer.storage.history("lr").values()]
    largest = max(range(len(groups)), key=lambda i: len(groups[i]["params"]))
    assert logged == pytest.approx([initial[largest] * m for m in multipliers], rel=1e-9)
