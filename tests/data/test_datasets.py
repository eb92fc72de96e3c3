"""Tests of dataset registration: folder datasets and every built-in split through real loaders."""

import os
import shutil

import pytest
import torch
from detectron2.data import (
    DatasetCatalog,
    MetadataCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)

import alphafree_matting.data as data
from alphafree_matting.data import (
    BUILTIN_SPLITS,
    MattingDataError,
    MattingDatasetMapper,
    UnknownCenteredCrop,
    UpscaleSmall,
    load_matting_folder,
    register_matting_folder,
)
from alphafree_matting.data import io as data_io

CROP = 32
TRAIN_SPLITS = sorted(name for name, split in BUILTIN_SPLITS.items() if len(split.label_dirs) == 1)
EVAL_SPLITS = sorted(set(BUILTIN_SPLITS) - set(TRAIN_SPLITS))


def _label_kind(name: str) -> str:
    return BUILTIN_SPLITS[name].label_dirs[0][0]


def _first_train_batch(dicts, label: str, batch_size: int = 2):
    augmentations = [UpscaleSmall(CROP), UnknownCenteredCrop(CROP)]
    mapper = MattingDatasetMapper(True, augmentations=augmentations, label=label)
    loader = build_detection_train_loader(
        dataset=dicts, mapper=mapper, total_batch_size=batch_size, num_workers=0
    )
    return next(iter(loader))


@pytest.fixture
def unique_name(request):
    """A dataset name no other test uses; removed from the catalogs afterwards."""
    name = f"test_{request.node.name}".replace("[", "_").replace("]", "")
    yield name
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_builtin_splits_are_registered_at_import_without_touching_disk(monkeypatch):
    assert set(BUILTIN_SPLITS) <= set(DatasetCatalog.list())
    assert MetadataCatalog.get("am2k_val").evaluator_type == "matting"
    data.register_all_builtin()  # a second registration is a no-op, not an error

    def no_disk(*args):
        raise AssertionError(f"disk access while registering: {args}")

    for name in BUILTIN_SPLITS:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    try:
        with monkeypatch.context() as patch:
            for function in ("listdir", "scandir", "stat"):
                patch.setattr(os, function, no_disk)
            for function in ("isdir", "isfile", "exists"):
                patch.setattr(os.path, function, no_disk)
            data.register_all_builtin()
    finally:
        data.register_all_builtin()
    assert set(BUILTIN_SPLITS) <= set(DatasetCatalog.list())


@pytest.mark.parametrize(
    "name, expected",
    [
        ("am2k_train", "AM-2K/train"),
        ("p3m_val_np", "P3M-10k/validation/P3M-500-NP"),
        ("toy_matting_val", "toy_matting/val"),
    ],
)
def test_missing_builtin_dataset_names_the_path_and_how_to_get_it(
    tmp_path, monkeypatch, name, expected
):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    with pytest.raises(MattingDataError) as error:
        DatasetCatalog.get(name)
    message = str(error.value)
    assert str(tmp_path / expected) in message
    assert "github.com/JizhiziLi" in message or "make_toy_dataset.py" in message


@pytest.mark.parametrize("name", TRAIN_SPLITS)
def test_every_training_split_loads_through_the_detectron2_train_loader(datasets_root, name):
    dicts = DatasetCatalog.get(name)
    kind = _label_kind(name)
    assert len(dicts) == 3 and all(d[f"{kind}_file_name"] for d in dicts)
    assert {key for d in dicts for key in d} == {"file_name", "image_id", f"{kind}_file_name"}
    batch = _first_train_batch(dicts, label=kind)
    assert len(batch) == 2
    for sample in batch:
        assert sample["image"].shape == (3, CROP, CROP)
        target = sample["alpha"] if kind == "alpha" else sample["trimap"]
        assert target.shape == (1, CROP, CROP) and target.dtype == torch.float32


@pytest.mark.parametrize("name", EVAL_SPLITS)
def test_every_eval_split_loads_through_the_detectron2_test_loader(datasets_root, name):
    dicts = DatasetCatalog.get(name)
    assert all("alpha_file_name" in d and "trimap_file_name" in d for d in dicts)
    loader = build_detection_test_loader(
        dataset=dicts, mapper=MattingDatasetMapper(False), num_workers=0
    )
    batches = list(loader)
    assert len(batches) == len(dicts)
    for (sample,), record in zip(batches, dicts):
        alpha = data_io.read_alpha(sample["alpha_file_name"])
        assert sample["image"].shape == (3,) + alpha.shape
        assert (sample["height"], sample["width"]) == alpha.shape
        assert sample["file_name"] == record["file_name"] and "trimap" not in sample


def test_splits_combine_through_get_detection_dataset_dicts(datasets_root):
    dicts = get_detection_dataset_dicts(names=["am2k_train", "p3m_train", "toy_matting_train"])
    assert len(dicts) == 9 and all(
        set(d) == {"file_name", "image_id", "trimap_file_name"} for d in dicts
    )
    val = get_detection_dataset_dicts(names="toy_matting_val", filter_empty=False)
    assert len(val) == 3


@pytest.mark.parametrize("name", ["am2k_train", "am2k_train_k20", "p3m_train", "toy_matting_train"])
def test_training_on_trimap_splits_never_reads_an_alpha(datasets_root, monkeypatch, name):
    dicts = DatasetCatalog.get(name)
    assert not any("alpha_file_name" in d for d in dicts)

    def no_alpha(path):
        raise AssertionError(f"a GT alpha was read during trimap training: {path}")

    monkeypatch.setattr(data_io, "read_alpha", no_alpha)
    batch = _first_train_batch(dicts, label="trimap", batch_size=3)
    assert all("alpha" not in sample for sample in batch)


def test_generated_labels_match_their_recipe(datasets_root):
    for name, kernel in (("am2k_train_k10", 10), ("am2k_train_k30", 30)):
        trimaps = [data_io.read_trimap(d["trimap_file_name"]) for d in DatasetCatalog.get(name)]
        assert all(set(t.ravel().tolist()) <= {0, 128, 255} for t in trimaps), kernel
    unknown_k10 = sum(
        (data_io.read_trimap(d["trimap_file_name"]) == 128).sum()
        for d in DatasetCatalog.get("am2k_train_k10")
    )
    unknown_k30 = sum(
        (data_io.read_trimap(d["trimap_file_name"]) == 128).sum()
        for d in DatasetCatalog.get("am2k_train_k30")
    )
    assert unknown_k30 > unknown_k10
    mask_dicts = DatasetCatalog.get("am2k_train_masklabel")
    masks = [data_io.read_trimap(d["mask_file_name"]) for d in mask_dicts]
    assert all(set(m.ravel().tolist()) <= {0, 255} for m in masks)


def test_missing_generated_labels_name_the_command_that_makes_them(datasets_root):
    shutil.rmtree(datasets_root / "AM-2K" / "train" / "trimap_k20")
    with pytest.raises(MattingDataError) as error:
        DatasetCatalog.get("am2k_train_k20")
    message = str(error.value)
    assert str(datasets_root / "AM-2K" / "train" / "trimap_k20") in message
    assert "python tools/make_trimap_labels.py --split am2k_train_k20" in message
    assert "--kernel-size 20" in message


def test_lowercase_official_folder_spelling_is_accepted(datasets_root):
    (datasets_root / "AM-2K").rename(datasets_root / "AM-2k")
    assert len(DatasetCatalog.get("am2k_val")) == 3


def test_register_matting_folder_gives_paths_only_for_the_registered_label_kinds(
    datasets_root, unique_name
):
    root = datasets_root / "toy_matting" / "val"
    register_matting_folder(unique_name, str(root), labels=("trimap",), note="mine")
    dicts = DatasetCatalog.get(unique_name)
    assert [d["image_id"] for d in dicts] == ["toy_val_000", "toy_val_001", "toy_val_002"]
    assert all(set(d) == {"file_name", "image_id", "trimap_file_name"} for d in dicts)
    assert MetadataCatalog.get(unique_name).note == "mine"


def test_register_matting_folder_image_only_split_for_inference(datasets_root, unique_name):
    register_matting_folder(unique_name, str(datasets_root / "toy_matting" / "val"), labels=())
    dicts = DatasetCatalog.get(unique_name)
    assert all(set(d) == {"file_name", "image_id"} for d in dicts)
    (sample,) = next(
        iter(
            build_detection_test_loader(
                dataset=dicts, mapper=MattingDatasetMapper(False), num_workers=0
            )
        )
    )
    assert sample["image"].shape[0] == 3


def test_register_matting_folder_is_lazy_and_rejects_unknown_kinds(tmp_path, unique_name):
    register_matting_folder(unique_name, str(tmp_path / "not_yet"), labels=("alpha", "trimap"))
    with pytest.raises(MattingDataError, match="not_yet"):
        DatasetCatalog.get(unique_name)
    with pytest.raises(ValueError, match="label kind"):
        register_matting_folder(unique_name + "_x", str(tmp_path), labels=("depth",))
    with pytest.raises(ValueError, match="mask_dir is None"):
        register_matting_folder(unique_name + "_y", str(tmp_path), labels=("mask",), mask_dir=None)


def test_load_matting_folder_matches_stems_across_extensions_and_reports_skipped_files(
    tmp_path, factory, caplog
):
    factory.write_sample(
        tmp_path, "a", (20, 24), {"image": "image", "trimap": "trimap"}, image_ext=".png"
    )
    factory.write_sample(
        tmp_path, "b", (20, 24), {"image": "image", "trimap": "trimap"}, image_ext=".jpg"
    )
    factory.write_sample(
        tmp_path, "c", (20, 24), {"image": "image", "trimap": "trimap"}, image_ext=".gif"
    )
    (tmp_path / "image" / "notes.txt").write_text("ignored")
    (tmp_path / "image" / "d.heic").write_bytes(b"\0")
    with caplog.at_level("WARNING", logger="alphafree_matting.data.datasets"):
        dicts = load_matting_folder(str(tmp_path), label_dirs={"trimap": "trimap"})
    assert [d["file_name"].rsplit("/", 1)[1] for d in dicts] == ["a.png", "b.jpg", "c.gif"]
    assert [d["trimap_file_name"].rsplit("/", 1)[1] for d in dicts] == ["a.png", "b.png", "c.png"]
    (message,) = caplog.messages
    assert message.startswith(f"image folder {tmp_path / 'image'}: skipped 2 file(s) that are")
    assert message.endswith(": d.heic, notes.txt")


def test_registering_a_taken_name_is_an_error_that_points_to_config_nodes(tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from alphafree_matting.data import register_matting_folder

    name = "test_registered_twice"
    try:
        register_matting_folder(name, str(tmp_path / "a"))
        assert MetadataCatalog.get(name).root == str(tmp_path / "a")
        with pytest.raises(ValueError, match=f"dataset '{name}' is already registered") as error:
            register_matting_folder(name, str(tmp_path / "a"))
        assert "L(load_matting_folder)(root=...)" in str(error.value)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
