"""ViTMatte meta-architecture: batching contract, train/eval paths, trimap input, max_side."""

import logging

import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate

from alphafree_matting.conventions import IMAGENET_MEAN, IMAGENET_STD
from alphafree_matting.criterion import NO_NEIGHBOUR
from alphafree_matting.modeling import DetailCapture, ViT, ViTMatte
from tests.helpers.models import build_tiny_vitmatte, vitmatte_s


class RecordingCriterion(torch.nn.Module):
    """Stands in for the real criterion: records its arguments, returns one loss."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, alpha, image, targets):
        self.calls.append((alpha, image, targets))
        return {"loss_mean_alpha": alpha.float().mean()}


def tiny_model(trimap_input: bool = False, **kwargs) -> ViTMatte:
    return build_tiny_vitmatte(trimap_input=trimap_input, **kwargs)


def random_trimap(height: int, width: int) -> torch.Tensor:
    return torch.randint(0, 3, (1, height, width)).float() / 2


def sample(height: int, width: int, **extra) -> dict:
    return {"image": torch.rand(3, height, width), **extra}


# --- evaluation ----------------------------------------------------------------------------------
def test_eval_returns_alpha_at_each_input_size_for_a_mixed_batch():
    model = tiny_model().eval()
    with torch.no_grad():
        outputs = model([sample(37, 45), sample(64, 20), sample(33, 97)])
    assert [tuple(output["alpha"].shape) for output in outputs] == [
        (1, 37, 45),
        (1, 64, 20),
        (1, 33, 97),
    ]
    for output in outputs:
        assert output["alpha"].dtype == torch.float32
        assert output["alpha"].min() >= 0 and output["alpha"].max() <= 1


def test_prediction_in_a_batch_equals_prediction_alone_at_equal_padding():
    model = tiny_model().eval()
    first, second = sample(40, 50), sample(30, 20)  # both pad to 64x64
    with torch.no_grad():
        together = model([first, second])
        alone = model([first])
    assert torch.allclose(together[0]["alpha"], alone[0]["alpha"], atol=1e-5)


def test_preprocess_normalises_inside_and_zero_pads_input_and_image():
    model = tiny_model().eval()
    image = torch.rand(3, 20, 30)
    batch = model.preprocess([{"image": image}], with_targets=False)
    assert batch.inputs.shape == (1, 3, 32, 32) and batch.images.shape == (1, 3, 32, 32)
    assert batch.image_sizes == [(20, 30)]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(batch.inputs[0, :, :20, :30], (image - mean) / std)
    assert torch.equal(batch.images[0, :, :20, :30], image)
    for padded in (batch.inputs, batch.images):
        assert padded[0, :, 20:].abs().sum() == 0 and padded[0, :, :, 30:].abs().sum() == 0


# --- training ------------------------------------------------------------------------------------
def test_train_calls_criterion_with_unnormalised_image_and_padded_targets():
    criterion = RecordingCriterion()
    model = tiny_model(criterion=criterion).train()
    valid = torch.ones(1, 30, 20, dtype=torch.bool)
    valid[:, :, 15:] = False  # padding added by the mapper
    inputs = [
        sample(40, 50, trimap=random_trimap(40, 50)),
        sample(30, 20, trimap=random_trimap(30, 20), valid=valid),
    ]
    inputs[0]["valid"] = torch.ones(1, 40, 50, dtype=torch.bool)
    losses = model(inputs)
    assert set(losses) == {"loss_mean_alpha"}
    alpha, image, targets = criterion.calls[0]
    assert alpha.shape == (2, 1, 64, 64) and alpha.min() >= 0 and alpha.max() <= 1
    assert set(targets) == {"trimap", "valid"}
    expected_valid = torch.zeros(2, 1, 64, 64, dtype=torch.bool)
    expected_valid[0, :, :40, :50] = True
    expected_valid[1, :, :30, :15] = True
    assert torch.equal(targets["valid"], expected_valid)
    for index, item in enumerate(inputs):
        height, width = item["image"].shape[1:]
        assert torch.equal(image[index, :, :height, :width], item["image"])
        assert torch.equal(targets["trimap"][index, :, :height, :width], item["trimap"])
    # Padding: image zero, trimap unknown (0.5).
    assert image[1, :, 30:].abs().sum() == 0 and image[1, :, :, 20:].abs().sum() == 0
    assert (targets["trimap"][1, :, 30:] == 0.5).all()
    assert (targets["trimap"][1, :, :, 20:] == 0.5).all()


def test_train_passes_alpha_zero_padded_and_valid_without_input_valid():
    criterion = RecordingCriterion()
    model = tiny_model(criterion=criterion).train()
    alphas = [torch.rand(1, 20, 30), torch.rand(1, 32, 16)]
    model([sample(20, 30, alpha=alphas[0]), sample(32, 16, alpha=alphas[1])])
    _, _, targets = criterion.calls[0]
    assert set(targets) == {"alpha", "valid"}
    assert torch.equal(targets["alpha"][0, :, :20, :30], alphas[0])
    assert targets["alpha"][0, :, 20:].abs().sum() == 0
    assert targets["valid"][1, :, :32, :16].all() and not targets["valid"][1, :, :, 16:].any()


def test_train_stacks_precomputed_neighbours_with_empty_slots_on_padding():
    criterion = RecordingCriterion()
    model = tiny_model(criterion=criterion).train()
    sizes = [(32, 32), (30, 20)]
    indexes = [torch.randint(0, 121, (11, h, w), dtype=torch.int16) for h, w in sizes]
    distances = [torch.rand(11, h, w) for h, w in sizes]
    model(
        [
            sample(h, w, trimap=random_trimap(h, w), neighbour_index=i, neighbour_distance=d)
            for (h, w), i, d in zip(sizes, indexes, distances)
        ]
    )
    targets = criterion.calls[0][2]
    index, distance = targets["neighbour_index"], targets["neighbour_distance"]
    assert index.shape == (2, 11, 32, 32) and index.dtype == torch.int16
    assert torch.equal(index[0], indexes[0]) and torch.equal(distance[0], distances[0])
    assert torch.equal(index[1, :, :30, :20], indexes[1])
    assert (index[1, :, 30:] == NO_NEIGHBOUR).all() and (index[1, :, :, 20:] == NO_NEIGHBOUR).all()
    assert torch.isinf(distance[1, :, :, 20:]).all()


def test_train_rejects_neighbour_index_without_distances():
    model = tiny_model(criterion=RecordingCriterion()).train()
    inputs = [sample(32, 32, trimap=random_trimap(32, 32), neighbour_index=torch.zeros(11, 32, 32))]
    with pytest.raises(ValueError, match="neighbour_distance"):
        model(inputs)


def test_gradient_reaches_backbone_and_decoder():
    model = tiny_model(criterion=RecordingCriterion()).train()
    losses = model([sample(32, 32, trimap=random_trimap(32, 32))])
    sum(losses.values()).backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.decoder.matting_head.matting_convs[3].weight.grad.abs().sum() > 0


def test_train_without_criterion_names_the_config_key():
    model = tiny_model().train()
    with pytest.raises(ValueError, match="model.criterion"):
        model([sample(32, 32, trimap=random_trimap(32, 32))])


def test_train_without_targets_names_the_missing_keys():
    model = tiny_model(criterion=RecordingCriterion()).train()
    with pytest.raises(ValueError, match="neither 'trimap' nor 'alpha'"):
        model([sample(32, 32)])


def test_batch_with_a_key_on_some_inputs_only_is_rejected():
    model = tiny_model(criterion=RecordingCriterion()).train()
    with pytest.raises(ValueError, match="'trimap' is present in 1 of 2"):
        model([sample(32, 32, trimap=random_trimap(32, 32)), sample(32, 32)])


def test_mixed_supervision_batch_stacks_each_label_with_placeholders_and_per_sample_masks():
    criterion = RecordingCriterion()
    model = tiny_model(criterion=criterion).train()
    trimap, alpha = random_trimap(32, 30), torch.rand(1, 20, 32)
    model(
        [
            sample(32, 30, trimap=trimap, label_kind="trimap"),
            sample(20, 32, alpha=alpha, label_kind="alpha"),
        ]
    )
    targets = criterion.calls[0][2]
    assert targets["has_trimap"].tolist() == [True, False]
    assert targets["has_alpha"].tolist() == [False, True]
    assert torch.equal(targets["trimap"][0, :, :32, :30], trimap)
    assert (targets["trimap"][1] == 0.5).all()  # no known pixel where a sample has no trimap
    assert torch.equal(targets["alpha"][1, :, :20, :32], alpha) and (targets["alpha"][0] == 0).all()
    model([sample(32, 32, alpha=torch.rand(1, 32, 32), label_kind="alpha")])
    assert "trimap" not in criterion.calls[1][2]
    assert criterion.calls[1][2]["has_trimap"].tolist() == [False]


def test_mixed_supervision_inputs_must_name_a_label_they_carry():
    model = tiny_model(criterion=RecordingCriterion()).train()
    with pytest.raises(ValueError, match=r"\['label_kind'\] is 'alpha'"):
        model([sample(32, 32, trimap=random_trimap(32, 32), label_kind="alpha")])
    with pytest.raises(ValueError, match="'label_kind' is present in 1 of 2"):
        model(
            [
                sample(32, 32, trimap=random_trimap(32, 32), label_kind="trimap"),
                sample(32, 32, trimap=random_trimap(32, 32)),
            ]
        )


# --- input validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "item, message",
    [
        ({"image": torch.rand(32, 32, 3)}, r"\['image'\] must be a float tensor \(3, H, W\)"),
        ({"image": torch.randint(0, 255, (3, 8, 8), dtype=torch.uint8)}, "float tensor"),
        ({"image": torch.rand(3, 0, 8)}, r"got \(3, 0, 8\)"),
        ({"image": torch.rand(3, 8, 8), "trimap": torch.zeros(8, 8)}, r"\['trimap'\].*\(1, 8, 8\)"),
        (
            {"image": torch.rand(3, 8, 8), "valid": torch.ones(1, 8, 8)},
            r"\['valid'\] must be a bool",
        ),
        ({"image": torch.rand(3, 8, 8), "alpha": torch.rand(1, 8, 9)}, r"\['alpha'\]"),
        ({"trimap": torch.zeros(1, 8, 8)}, "with an 'image' tensor"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_key(item, message):
    model = tiny_model(criterion=RecordingCriterion()).train()
    with pytest.raises(ValueError, match=message):
        model([item])


@pytest.mark.parametrize(
    "item, message",
    [
        ({"image": torch.rand(3, 8, 8) * 255}, "divide 8-bit images by 255"),
        (
            {"image": torch.rand(3, 8, 8), "trimap": torch.full((1, 8, 8), 128.0)},
            "trimap_to_target",
        ),
    ],
)
def test_evaluation_checks_the_image_range_and_trimap_levels(item, message):
    """A pass over the data: evaluation (and the predictor) check it; training trusts the mapper,
    which makes both from the files (no per-step check in the hot path)."""
    model = tiny_model(criterion=RecordingCriterion())
    with pytest.raises(ValueError, match=message):
        model.eval()([item])
    losses = model.train()([{"trimap": torch.zeros(1, 8, 8), **item}])
    assert set(losses) == {"loss_mean_alpha"}  # trained on it: no per-step pass over the values


def test_error_names_the_file_of_a_bad_input():
    model = tiny_model().eval()
    with pytest.raises(ValueError, match="cat.png"):
        model([{"image": torch.rand(8, 8), "file_name": "cat.png"}])


def test_empty_batch_is_rejected():
    with pytest.raises(ValueError, match="non-empty list"):
        tiny_model().eval()([])


# --- trimap input ---------------------------------------------------------------------------------
def test_trimap_input_appends_unnormalised_trimap_channel_zero_on_padding():
    model = tiny_model(trimap_input=True).eval()
    trimap = random_trimap(20, 30)
    batch = model.preprocess([sample(20, 30, trimap=trimap)], with_targets=False)
    assert batch.inputs.shape == (1, 4, 32, 32)
    assert torch.equal(batch.inputs[0, 3:, :20, :30], trimap)
    assert batch.inputs[0, 3, 20:].abs().sum() == 0 and batch.inputs[0, 3, :, 30:].abs().sum() == 0


def test_trimap_input_model_trains_and_predicts():
    model = tiny_model(trimap_input=True, criterion=RecordingCriterion())
    losses = model.train()([sample(32, 32, trimap=random_trimap(32, 32))])
    assert torch.isfinite(losses["loss_mean_alpha"])
    with torch.no_grad():
        outputs = model.eval()([sample(21, 43, trimap=random_trimap(21, 43))])
    assert outputs[0]["alpha"].shape == (1, 21, 43)


def test_trimap_input_prediction_depends_on_the_trimap():
    model = tiny_model(trimap_input=True).eval()
    image = torch.rand(3, 32, 32)
    with torch.no_grad():
        background = model([{"image": image, "trimap": torch.zeros(1, 32, 32)}])[0]["alpha"]
        foreground = model([{"image": image, "trimap": torch.ones(1, 32, 32)}])[0]["alpha"]
    assert not torch.allclose(background, foreground)


def test_trimap_input_eval_without_trimap_says_what_the_dataset_needs():
    model = tiny_model(trimap_input=True).eval()
    with pytest.raises(ValueError, match="trimap_file_name"):
        model([sample(32, 32)])


def test_trimap_input_with_three_channel_backbone_is_rejected():
    backbone = ViT(img_size=32, embed_dim=32, depth=1, num_heads=2, pretrain_img_size=32)
    decoder = DetailCapture(in_chans=32, img_chans=4)
    with pytest.raises(ValueError, match="ViT.in_chans=3; set it to 4"):
        ViTMatte(backbone=backbone, decoder=decoder, trimap_input=True)


# --- max_side ------------------------------------------------------------------------------------
def test_max_side_predicts_smaller_and_returns_input_size(caplog):
    model = tiny_model(max_side=64).eval()
    seen_sizes = []
    model.backbone.register_forward_hook(
        lambda module, args, output: seen_sizes.append(tuple(args[0].shape[-2:]))
    )
    with caplog.at_level(logging.INFO, logger="alphafree_matting.modeling.meta_arch"):
        with torch.no_grad():
            outputs = model([sample(100, 150, trimap=random_trimap(100, 150))])
            model([sample(90, 70)])
    assert outputs[0]["alpha"].shape == (1, 100, 150)
    assert outputs[0]["alpha"].min() >= 0 and outputs[0]["alpha"].max() <= 1
    assert seen_sizes == [(64, 64), (64, 64)]  # 100x150 -> 43x64, 90x70 -> 64x50, padded to 64
    assert sum("max_side=64" in record.getMessage() for record in caplog.records) == 1


def test_max_side_leaves_smaller_images_untouched():
    image = sample(40, 60)
    with torch.no_grad():
        limited = tiny_model(max_side=64).eval()([image])[0]["alpha"]
        unlimited = tiny_model().eval()([image])[0]["alpha"]
    assert torch.equal(limited, unlimited)


def test_max_side_resizes_the_trimap_with_nearest_values():
    model = tiny_model(trimap_input=True, max_side=32).eval()
    resized = model._limit_size(sample(80, 40, trimap=random_trimap(80, 40)))
    assert resized["image"].shape == (3, 32, 16)
    assert set(resized["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}


# --- configuration and checkpoint layout ---------------------------------------------------------
def test_model_instantiates_from_lazy_config():
    config = L(ViTMatte)(
        backbone=L(ViT)(img_size=64, embed_dim=32, depth=1, num_heads=2, pretrain_img_size=64),
        decoder=L(DetailCapture)(in_chans=32, img_chans=3),
        max_side=2048,
    )
    model = instantiate(config)
    assert isinstance(model, ViTMatte) and model.max_side == 2048
    assert model.device == torch.device("cpu")


def official_vitmatte_s_shapes() -> dict:
    """Key -> shape of an official ViTMatte-S checkpoint (hustvl/ViTMatte, read from its code:
    ViT-S img_size 512, window 14 in blocks 0,1,3,4,6,7,9,10, residual blocks after 2,5,8,11,
    4-channel input; Detail_Capture with BatchNorm conv stream/fusion and the matting head)."""
    shapes = {
        "backbone.pos_embed": (1, 197, 384),
        "backbone.patch_embed.proj.weight": (384, 4, 16, 16),
        "backbone.patch_embed.proj.bias": (384,),
    }
    for block in range(12):
        prefix = f"backbone.blocks.{block}."
        rel_pos = 27 if block not in (2, 5, 8, 11) else 63  # 2*14-1 (window) or 2*32-1 (global)
        shapes.update(
            {
                prefix + "norm1.weight": (384,),
                prefix + "norm1.bias": (384,),
                prefix + "attn.rel_pos_h": (rel_pos, 64),
                prefix + "attn.rel_pos_w": (rel_pos, 64),
                prefix + "attn.qkv.weight": (1152, 384),
                prefix + "attn.qkv.bias": (1152,),
                prefix + "attn.proj.weight": (384, 384),
                prefix + "attn.proj.bias": (384,),
                prefix + "norm2.weight": (384,),
                prefix + "norm2.bias": (384,),
                prefix + "mlp.fc1.weight": (1536, 384),
                prefix + "mlp.fc1.bias": (1536,),
                prefix + "mlp.fc2.weight": (384, 1536),
                prefix + "mlp.fc2.bias": (384,),
            }
        )
        if block in (2, 5, 8, 11):
            residual = prefix + "residual."
            shapes.update(
                {
                    residual + "conv1.weight": (192, 384, 1, 1),
                    residual + "norm1.weight": (192,),
                    residual + "norm1.bias": (192,),
                    residual + "conv2.weight": (192, 192, 3, 3),
                    residual + "norm2.weight": (192,),
                    residual + "norm2.bias": (192,),
                    residual + "conv3.weight": (384, 192, 1, 1),
                    residual + "norm3.weight": (384,),
                    residual + "norm3.bias": (384,),
                }
            )

    def batch_norm(prefix: str, channels: int) -> dict:
        return {
            prefix + "weight": (channels,),
            prefix + "bias": (channels,),
            prefix + "running_mean": (channels,),
            prefix + "running_var": (channels,),
            prefix + "num_batches_tracked": (),
        }

    for index, (c_in, c_out) in enumerate([(4, 48), (48, 96), (96, 192)]):
        shapes[f"decoder.convstream.convs.{index}.conv.weight"] = (c_out, c_in, 3, 3)
        shapes.update(batch_norm(f"decoder.convstream.convs.{index}.bn.", c_out))
    for index, (c_in, c_out) in enumerate([(576, 256), (352, 128), (176, 64), (68, 32)]):
        shapes[f"decoder.fusion_blks.{index}.conv.conv.weight"] = (c_out, c_in, 3, 3)
        shapes.update(batch_norm(f"decoder.fusion_blks.{index}.conv.bn.", c_out))
    shapes["decoder.matting_head.matting_convs.0.weight"] = (16, 32, 3, 3)
    shapes["decoder.matting_head.matting_convs.0.bias"] = (16,)
    shapes.update(batch_norm("decoder.matting_head.matting_convs.1.", 16))
    shapes["decoder.matting_head.matting_convs.3.weight"] = (1, 16, 1, 1)
    shapes["decoder.matting_head.matting_convs.3.bias"] = (1,)
    return shapes


def test_vitmatte_s_state_dict_matches_official_checkpoint_layout():
    model = vitmatte_s(trimap_input=True)  # configs/common/model.py, 4 channels, meta device
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    expected = official_vitmatte_s_shapes()
    assert sorted(set(shapes) - set(expected)) == []
    assert sorted(set(expected) - set(shapes)) == []
    assert shapes == expected


def test_bf16_autocast_runs_and_returns_float32_alpha():
    model = tiny_model(trimap_input=True, criterion=RecordingCriterion())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model.train()([sample(32, 32, trimap=random_trimap(32, 32))])
        with torch.no_grad():
            outputs = model.eval()([sample(30, 40, trimap=random_trimap(30, 40))])
    assert torch.isfinite(losses["loss_mean_alpha"])
    assert outputs[0]["alpha"].dtype == torch.float32 and outputs[0]["alpha"].shape == (1, 30, 40)
