"""Tests of the toy dataset writer (alphafree_matting/data/toy_dataset.py) and its tool."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alphafree_matting.data import toy_dataset
from alphafree_matting.data.io import read_alpha, read_image, read_trimap
from alphafree_matting.data.synthetic import make_sample, split_sample_index

REPO = Path(__file__).resolve().parents[2]


def write(output, *, num_train=3, num_val=2, size=32, seed=0, workers=1):
    return toy_dataset.make_toy_dataset(
        str(output), num_train=num_train, num_val=num_val, size=size, seed=seed, workers=workers
    )


def file_times(folder: Path) -> dict:
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*.png")}


def file_bytes(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*.png")}


def test_tool_writes_the_folder_layout_and_the_marker(tmp_path):
    output = tmp_path / "toy"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "make_toy_dataset.py"),
            "--output",
            str(output),
            "--num-train",
            "3",
            "--num-val",
            "2",
            "--size",
            "32",
            "--seed",
            "4",
            "--workers",
            "1",
        ],
        check=True,
        cwd=REPO,
    )
    for split, count in (("train", 3), ("val", 2)):
        for layer in ("image", "trimap", "alpha"):
            names = sorted(os.listdir(output / split / layer))
            assert names == [f"{position:04d}.png" for position in range(count)]
    marker = json.loads((output / ".complete").read_text())
    assert (marker["num_train"], marker["num_val"], marker["size"], marker["seed"]) == (3, 2, 32, 4)
    # the files hold exactly the in-memory samples (subset regeneration = full run)
    sample = make_sample(split_sample_index("val", 1), 32, seed=4)
    np.testing.assert_array_equal(read_image(str(output / "val/image/0001.png")), sample["image"])
    np.testing.assert_array_equal(read_alpha(str(output / "val/alpha/0001.png")), sample["alpha"])
    np.testing.assert_array_equal(
        read_trimap(str(output / "val/trimap/0001.png")), sample["trimap"]
    )


def test_tool_rerun_with_same_parameters_is_a_no_op(tmp_path):
    output = tmp_path / "toy"
    assert write(output) is True
    before = file_times(output)
    assert write(output) is False
    assert file_times(output) == before


def test_tool_rerun_with_other_parameters_regenerates_cleanly(tmp_path):
    output = tmp_path / "toy"
    write(output, num_train=3, seed=0)
    assert write(output, num_train=2, seed=1) is True
    assert sorted(os.listdir(output / "train" / "image")) == ["0000.png", "0001.png"]
    assert json.loads((output / ".complete").read_text())["seed"] == 1
    expected = make_sample(split_sample_index("train", 1), 32, seed=1)["image"]
    np.testing.assert_array_equal(read_image(str(output / "train/image/0001.png")), expected)


def test_tool_output_does_not_depend_on_the_number_of_workers(tmp_path):
    write(tmp_path / "one", num_train=5, workers=1)
    write(tmp_path / "two", num_train=5, workers=2)
    assert file_bytes(tmp_path / "one") == file_bytes(tmp_path / "two")


def test_interrupted_run_is_not_marked_complete_and_is_redone(tmp_path, monkeypatch):
    output = tmp_path / "toy"
    write(output, seed=0)
    write_sample, calls = toy_dataset._write_sample, []

    def crash_on_third_sample(task):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        write_sample(task)

    monkeypatch.setattr(toy_dataset, "_write_sample", crash_on_third_sample)
    with pytest.raises(KeyboardInterrupt):
        write(output, seed=1)
    assert not (output / ".complete").exists()
    monkeypatch.setattr(toy_dataset, "_write_sample", write_sample)
    assert write(output, seed=1) is True
    assert json.loads((output / ".complete").read_text())["seed"] == 1
    assert len(list((output / "train" / "image").iterdir())) == 3


def test_tool_refuses_to_clear_a_folder_it_did_not_write(tmp_path):
    output = tmp_path / "real"
    photo = output / "train" / "image" / "m_001.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match="did not write"):
        write(output)
    assert photo.read_bytes() == b"not ours"


def test_the_generator_fingerprint_ignores_docstrings_and_comments(tmp_path, monkeypatch):
    source = Path(toy_dataset.synthetic.__file__).read_text()
    reference = toy_dataset.generator_fingerprint()
    edited = tmp_path / "synthetic.py"
    monkeypatch.setattr(toy_dataset.synthetic, "__file__", str(edited))
    edited.write_text(source.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n")
    assert toy_dataset.generator_fingerprint() == reference
    edited.write_text(source + "\nEXTRA = 1\n")
    assert toy_dataset.generator_fingerprint() != reference
