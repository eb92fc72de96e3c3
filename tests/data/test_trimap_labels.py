"""Tests of the coarse-label makers (trimap_labels.py) and tools/make_trimap_labels.py."""

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alphafree_matting.data.io import read_alpha, read_trimap, write_png
from alphafree_matting.data.transforms import RELEASE_INTERPOLATIONS
from alphafree_matting.data.trimap_labels import (
    alpha_to_mask,
    alpha_to_trimap,
    label_rng,
    mask_to_trimap,
)

REPO = Path(__file__).resolve().parents[2]


def _assert_known_agrees(trimap: np.ndarray, alpha: np.ndarray, where: str = ""):
    assert (alpha[trimap == 255] == 1.0).all(), f"foreground pixel with alpha < 1 {where}"
    assert (alpha[trimap == 0] == 0.0).all(), f"background pixel with alpha > 0 {where}"


def _unknown_fraction(trimap: np.ndarray) -> float:
    return float((trimap == 128).mean())


def _thin_line_alpha(factory):
    alpha = factory.alpha(333, 517)
    alpha[100, :] = 0.5  # a one-pixel soft line the 640x640 nearest resize skips in places
    alpha[:, 400] = np.where(alpha[:, 400] == 1.0, 0.8, alpha[:, 400])
    return alpha


def test_release_labels_may_contradict_the_alpha_where_the_resize_misses_detail():
    alpha = np.ones((1500, 1500), np.float32)
    alpha[101] = 0.5  # rows 101-102 fall between the rows a nearest 1500 -> 640 resize samples
    trimap = alpha_to_trimap(alpha, 1, interpolation="nearest")
    assert (trimap[101] == 255).all()  # as alpha2trimap.py: a known label on the soft line
    consistent = alpha_to_trimap(alpha, 1, interpolation="nearest", consistent_known=True)
    assert (consistent[101] == 128).all()


def test_consistent_known_labels_agree_with_the_alpha_even_where_resizing_misses_detail(factory):
    alpha = _thin_line_alpha(factory)
    for seed in range(5):
        trimap = alpha_to_trimap(alpha, rng=np.random.default_rng(seed), consistent_known=True)
        _assert_known_agrees(trimap, alpha, f"(seed {seed})")
        assert (trimap[100] == 128).all() and set(np.unique(trimap).tolist()) == {0, 128, 255}


def test_random_interpolation_is_drawn_first_from_the_files_generator(factory):
    alpha = factory.alpha(97, 131)
    drawn = set()
    for index in range(12):
        rng = label_rng(7, f"img{index}")
        name = RELEASE_INTERPOLATIONS[int(rng.integers(len(RELEASE_INTERPOLATIONS)))]
        drawn.add(name)
        expected = alpha_to_trimap(alpha, rng=rng, interpolation=name)
        np.testing.assert_array_equal(
            alpha_to_trimap(alpha, rng=label_rng(7, f"img{index}")), expected
        )
    assert len(drawn) >= 3  # the draw varies from file to file


def test_fixed_kernel_trimap_band_widens_with_the_kernel(factory):
    alpha = factory.alpha(200, 260)
    fractions = [
        _unknown_fraction(alpha_to_trimap(alpha, size, rng=label_rng(0, "same interpolation")))
        for size in (10, 20, 30)
    ]
    assert fractions[0] < fractions[1] < fractions[2]


def test_random_kernels_are_drawn_from_the_generator(factory):
    alpha = factory.alpha(120, 90)
    first = alpha_to_trimap(alpha, rng=label_rng(0, "cat"))
    np.testing.assert_array_equal(first, alpha_to_trimap(alpha, rng=label_rng(0, "cat")))
    others = [alpha_to_trimap(alpha, rng=label_rng(0, f"dog{i}")) for i in range(5)]
    assert any(not np.array_equal(first, other) for other in others)


def test_mask_trimap_keeps_known_labels_on_their_side_of_the_mask(factory):
    mask = factory.alpha(150, 110) >= 0.5
    narrow, wide = mask_to_trimap(mask, 5), mask_to_trimap(mask, 25)
    for trimap in (narrow, wide):
        assert mask[trimap == 255].all() and not mask[trimap == 0].any()
    assert 0 < _unknown_fraction(narrow) < _unknown_fraction(wide)


def test_segmentation_mask_labels_are_binary_and_reproducible(factory):
    alpha = factory.alpha(90, 120)
    masks = [alpha_to_mask(alpha, rng=label_rng(1, f"m{i}")) for i in range(6)]
    assert all(set(np.unique(m).tolist()) <= {0, 255} for m in masks)
    np.testing.assert_array_equal(masks[0], alpha_to_mask(alpha, rng=label_rng(1, "m0")))
    assert len({m.sum() for m in masks}) > 1
    # near the object, like the alpha it comes from: most pixels agree with alpha >= 0.5
    assert all(((m == 255) == (alpha >= 0.5)).mean() > 0.7 for m in masks)


def test_label_rng_depends_on_seed_and_name_only():
    keys = ((0, "a"), (0, "a"), (1, "a"), (0, "b"))
    draw = [label_rng(seed, name).integers(1 << 30) for seed, name in keys]
    assert draw[0] == draw[1] and len(set(draw)) == 3


@pytest.mark.parametrize("kernel_size", [10, 20, 30, None])
def test_consistent_tool_labels_of_real_alphas_never_contradict_the_ground_truth(
    real_alpha_dir, tmp_path, label_tool, kernel_size
):
    output = tmp_path / f"k{kernel_size}"
    summary = label_tool.make_labels(
        str(real_alpha_dir), str(output), kernel_size=kernel_size, consistent_known=True
    )
    assert summary == {"written": 27, "kept": 0, "errors": []}
    for alpha_path in sorted(real_alpha_dir.glob("*.png")):
        trimap = read_trimap(str(output / alpha_path.name))
        alpha = read_alpha(str(alpha_path))
        assert trimap.shape == alpha.shape
        _assert_known_agrees(trimap, alpha, alpha_path.name)


def test_tool_unknown_band_of_real_alphas_widens_with_the_kernel(
    real_alpha_dir, tmp_path, label_tool
):
    fractions = {}
    for size in (10, 20, 30):
        label_tool.make_labels(str(real_alpha_dir), str(tmp_path / f"k{size}"), kernel_size=size)
        fractions[size] = np.array(
            [
                _unknown_fraction(read_trimap(str(tmp_path / f"k{size}" / path.name)))
                for path in sorted(real_alpha_dir.glob("*.png"))
            ]
        )
    assert (fractions[10] < fractions[20]).all() and (fractions[20] < fractions[30]).all()
    assert fractions[10].mean() < fractions[20].mean() < fractions[30].mean()


def _write_alphas(folder, factory, count=5):
    for index in range(count):
        alpha = factory.alpha(40 + 3 * index, 50, seed=index)
        write_png(str(folder / f"a{index}.png"), np.round(alpha * 255).astype(np.uint8))


@pytest.mark.parametrize("mode", ["trimap", "band", "mask"])
def test_tool_output_does_not_depend_on_worker_count_or_order(tmp_path, factory, label_tool, mode):
    _write_alphas(tmp_path / "alpha", factory)
    label_tool.make_labels(str(tmp_path / "alpha"), str(tmp_path / "serial"), mode=mode, seed=3)
    label_tool.make_labels(
        str(tmp_path / "alpha"), str(tmp_path / "pool"), mode=mode, seed=3, workers=2
    )
    names = sorted(path.name for path in (tmp_path / "alpha").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "serial", tmp_path / "pool", names, shallow=False
    )
    assert match == names and not mismatch and not errors
    # the label of a file is a function of (seed, name): a folder holding one file agrees
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a3.png").write_bytes((tmp_path / "alpha" / "a3.png").read_bytes())
    label_tool.make_labels(str(tmp_path / "one"), str(tmp_path / "one_out"), mode=mode, seed=3)
    alone, together = tmp_path / "one_out" / "a3.png", tmp_path / "serial" / "a3.png"
    assert filecmp.cmp(alone, together, shallow=False)


def test_tool_reports_every_unreadable_input_and_keeps_going(tmp_path, factory, label_tool):
    _write_alphas(tmp_path / "alpha", factory, count=3)
    (tmp_path / "alpha" / "broken1.png").write_bytes(b"not a png")
    (tmp_path / "alpha" / "broken2.png").write_bytes(b"")
    summary = label_tool.make_labels(str(tmp_path / "alpha"), str(tmp_path / "out"))
    assert summary["written"] == 3 and len(summary["errors"]) == 2
    assert "broken1.png" in summary["errors"][0] and "broken2.png" in summary["errors"][1]


def test_tool_keeps_existing_labels_and_refuses_a_different_recipe(tmp_path, factory, label_tool):
    _write_alphas(tmp_path / "alpha", factory, count=2)
    label_tool.make_labels(str(tmp_path / "alpha"), str(tmp_path / "out"), kernel_size=10)
    again = label_tool.make_labels(str(tmp_path / "alpha"), str(tmp_path / "out"), kernel_size=10)
    assert again == {"written": 0, "kept": 2, "errors": []}
    with pytest.raises(SystemExit, match="--overwrite"):
        label_tool.make_labels(str(tmp_path / "alpha"), str(tmp_path / "out"), kernel_size=20)
    redo = label_tool.make_labels(
        str(tmp_path / "alpha"), str(tmp_path / "out"), kernel_size=20, overwrite=True
    )
    assert redo["written"] == 2
    recipe = json.loads((tmp_path / "out" / label_tool.RECIPE_FILE).read_text())
    assert recipe["kernel_size"] == 20 and recipe["mode"] == "trimap"


def test_tool_runs_as_a_script(tmp_path, factory):
    _write_alphas(tmp_path / "alpha", factory, count=2)
    command = [
        sys.executable,
        "tools/make_trimap_labels.py",
        "--input",
        str(tmp_path / "alpha"),
        "--output",
        str(tmp_path / "out"),
        "--kernel-size",
        "10",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "2 written" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a0.png", "a1.png"]


@pytest.mark.parametrize("argv", [["--input", "x"], ["--split", "am2k_train", "--input", "x"], []])
def test_tool_rejects_incomplete_arguments(label_tool, argv, capsys):
    with pytest.raises(SystemExit) as error:
        label_tool.main(argv)
    assert error.value.code == 2 and "--split" in capsys.readouterr().err


def test_tool_split_without_recipe_says_labels_ship_with_the_dataset(label_tool):
    with pytest.raises(SystemExit, match="shipped with the dataset"):
        label_tool.main(["--split", "am2k_val"])
