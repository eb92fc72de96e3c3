"""Detail-capture decoder: shapes, value range, official channel layout, input checks."""

import pytest
import torch

from alphafree_matting.modeling import DetailCapture


def tiny_decoder(img_chans: int = 3) -> DetailCapture:
    torch.manual_seed(0)
    return DetailCapture(
        in_chans=16, img_chans=img_chans, convstream_out=(4, 6, 8), fusion_out=(12, 10, 8, 6)
    )


def test_decoder_outputs_alpha_at_image_size_in_unit_range():
    decoder = tiny_decoder()
    images = torch.randn(2, 3, 32, 48) * 3
    alpha = decoder(torch.randn(2, 16, 2, 3) * 3, images)
    assert alpha.shape == (2, 1, 32, 48)
    assert alpha.min() >= 0 and alpha.max() <= 1


def test_decoder_default_channels_match_official_vitmatte_s():
    decoder = DetailCapture(in_chans=384, img_chans=4)
    shapes = {key: tuple(value.shape) for key, value in decoder.state_dict().items()}
    assert shapes["convstream.convs.0.conv.weight"] == (48, 4, 3, 3)
    assert shapes["convstream.convs.2.conv.weight"] == (192, 96, 3, 3)
    # Fusion i takes the upsampled coarse feature plus the conv-stream detail of its scale.
    assert shapes["fusion_blks.0.conv.conv.weight"] == (256, 384 + 192, 3, 3)
    assert shapes["fusion_blks.1.conv.conv.weight"] == (128, 256 + 96, 3, 3)
    assert shapes["fusion_blks.2.conv.conv.weight"] == (64, 128 + 48, 3, 3)
    assert shapes["fusion_blks.3.conv.conv.weight"] == (32, 64 + 4, 3, 3)
    assert shapes["matting_head.matting_convs.0.weight"] == (16, 32, 3, 3)
    assert shapes["matting_head.matting_convs.3.weight"] == (1, 16, 1, 1)


def test_decoder_honours_custom_convstream_channels():
    decoder = tiny_decoder(img_chans=4)
    assert [conv.conv.out_channels for conv in decoder.convstream.convs] == [4, 6, 8]
    assert decoder.fusion_blks[0].conv.conv.in_channels == 16 + 8
    assert decoder.fusion_blks[3].conv.conv.in_channels == 8 + 4


def test_decoder_concatenates_detail_before_upsampled_feature():
    decoder = tiny_decoder().eval()
    captured = {}

    def record_input(module, args, output):
        captured["input"] = args[0]

    decoder.fusion_blks[3].conv.conv.register_forward_hook(record_input)
    images = torch.randn(1, 3, 16, 16)
    decoder(torch.randn(1, 16, 1, 1), images)
    # The last fusion block sees the image itself first (3 channels), then the fused feature.
    assert torch.equal(captured["input"][:, :3], images)


def test_gradient_reaches_features_and_conv_stream():
    decoder = tiny_decoder()
    features = torch.randn(1, 16, 2, 2, requires_grad=True)
    decoder(features, torch.randn(1, 3, 32, 32)).mean().backward()
    assert features.grad.abs().sum() > 0
    assert decoder.convstream.convs[0].conv.weight.grad.abs().sum() > 0


def test_decoder_rejects_mismatched_fusion_and_convstream_lengths():
    with pytest.raises(ValueError, match="len\\(fusion_out\\)"):
        DetailCapture(in_chans=16, convstream_out=(4, 6), fusion_out=(12, 10, 8, 6))


def test_decoder_rejects_features_not_at_one_sixteenth():
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_decoder()(torch.randn(1, 16, 3, 3), torch.randn(1, 3, 32, 32))


def test_decoder_rejects_wrong_image_channels_with_config_hint():
    with pytest.raises(ValueError, match="decoder.img_chans"):
        tiny_decoder(img_chans=4)(torch.randn(1, 16, 2, 2), torch.randn(1, 3, 32, 32))
