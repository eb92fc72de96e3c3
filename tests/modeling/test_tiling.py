"""Row tiling: the input rows of a tile (halo arithmetic) against whole-map convolution and
upsampling, composed maps against the whole computation, tile sizes and progress."""

import pytest
import torch
import torch.nn.functional as F

from alphafree_matting.modeling.tiling import (
    ConcatRows,
    ConvRows,
    StoredMap,
    TensorRows,
    TileBudget,
    UpsampledRows,
    conv_input_rows,
    evaluate_rows,
    split_range,
    upsample_input_rows,
)


@pytest.mark.parametrize("length, max_size", [(10, 3), (10, 10), (10, 20), (7, 1), (5, 0), (1, 4)])
def test_split_range_covers_the_range_in_the_fewest_near_equal_pieces(length, max_size):
    pieces = split_range(length, max_size)
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(stop == start for (_, stop), (start, _) in zip(pieces[:-1], pieces[1:]))
    sizes = [stop - start for start, stop in pieces]
    assert max(sizes) <= max(max_size, 1) and max(sizes) - min(sizes) <= 1
    assert len(pieces) == -(-length // max(max_size, 1))


CONVS = [(3, 1, 1), (3, 2, 1), (1, 1, 0), (5, 1, 2), (7, 2, 3), (4, 2, 1)]  # kernel, stride, pad


@pytest.mark.parametrize(
    "kernel, stride, padding, height",
    [(*conv, h) for conv in CONVS for h in (1, 2, 9, 12) if h + 2 * conv[2] >= conv[0]],
)
def test_conv_of_the_input_rows_gives_the_output_rows_of_the_whole_map(
    kernel, stride, padding, height
):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, kernel, stride, padding)
    image = torch.randn(1, 2, height, 5)
    with torch.no_grad():
        whole = conv(image)
        for start in range(whole.shape[2]):
            for stop in range(start + 1, whole.shape[2] + 1):
                first, last, offset = conv_input_rows(start, stop, kernel, stride, padding, height)
                assert first % stride == 0 and 0 <= first < last <= height
                tile = conv(image[:, :, first:last])[:, :, offset : offset + stop - start]
                torch.testing.assert_close(tile, whole[:, :, start:stop], atol=1e-6, rtol=0)


@pytest.mark.parametrize("height", [1, 2, 5, 8])
def test_upsampling_of_the_input_rows_gives_the_output_rows_of_the_whole_map(height):
    coarse = torch.randn(1, 2, height, 3)
    whole = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
    for start in range(2 * height):
        for stop in range(start + 1, 2 * height + 1):
            first, last, offset = upsample_input_rows(start, stop, height)
            assert 0 <= first < last <= height
            tile = F.interpolate(
                coarse[:, :, first:last], scale_factor=2, mode="bilinear", align_corners=False
            )[:, :, offset : offset + stop - start]
            torch.testing.assert_close(tile, whole[:, :, start:stop], atol=1e-6, rtol=0)


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> torch.nn.Sequential:
    block = torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
        torch.nn.BatchNorm2d(c_out),
        torch.nn.ReLU(),
    )
    with torch.no_grad():
        block[1].running_mean.uniform_(-1, 1)
        block[1].running_var.uniform_(0.5, 2)
    return block.eval()


def test_composed_maps_in_tiles_equal_the_whole_computation_and_report_each_tile():
    """A U-Net step: a stride-2 conv of the image, stored, upsampled, concatenated, conv."""
    torch.manual_seed(0)
    image = torch.randn(2, 3, 22, 14)
    down, fuse = conv_bn_relu(3, 4, stride=2), conv_bn_relu(4 + 3, 5)
    with torch.no_grad():
        upsampled = F.interpolate(down(image), scale_factor=2, mode="bilinear", align_corners=False)
        expected = fuse(torch.cat([upsampled, image], dim=1))

        calls = []
        budget = TileBudget(memory_bytes=3000, progress=lambda done, total: calls.append(done))
        stored = StoredMap(ConvRows(down, TensorRows(image), 4, stride=2), budget)
        output = ConvRows(fuse, ConcatRows([UpsampledRows(stored), TensorRows(image)]), 5)
        result = evaluate_rows(output, budget)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=0)
    assert len(stored.tiles()) > 1 and budget.total > len(stored.tiles()) + 1
    assert calls == list(range(1, budget.total + 1))


def test_stored_map_is_computed_once_in_tiles_that_follow_the_budget():
    calls = []

    def double(rows):
        calls.append(rows.shape[2])
        return 2 * rows

    source = ConvRows(double, TensorRows(torch.ones(1, 2, 50, 10)), 2, kernel=1, padding=0)
    bytes_per_row = source.row_bytes()  # 2 channels x 2 (work) x 10 columns x 4 bytes
    assert bytes_per_row == 160
    stored = StoredMap(source, TileBudget(memory_bytes=int(12 * bytes_per_row)))
    assert [stop - start for start, stop in stored.tiles()] == [10] * 5
    assert torch.equal(stored.rows(5, 20), torch.full((1, 2, 15, 10), 2.0))
    assert torch.equal(stored.rows(0, 50), torch.full((1, 2, 50, 10), 2.0))
    assert calls == [10] * 5  # computed once, tile by tile


def test_concat_rows_rejects_maps_of_different_sizes():
    with pytest.raises(ValueError, match="one batch and size"):
        ConcatRows([TensorRows(torch.zeros(1, 1, 4, 4)), TensorRows(torch.zeros(1, 1, 4, 5))])
